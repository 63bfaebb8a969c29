package functions

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/fake100ms"
)

const e2eWaitingRole = "waiting-room"

// waitWebhooks waits until every webhook the fake 100ms started has been
// answered (the role change it sends when a peer is moved).
func (h *hmsEnv) waitWebhooks(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.fake.WaitWebhooks(ctx); err != nil {
		t.Fatalf("webhooks of the fake 100ms: %v", err)
	}
}

func (h *hmsEnv) tokenRole(t *testing.T, user e2eUser, appt string) string {
	t.Helper()
	ans, out := h.call(t, "hmsToken", user, map[string]any{"appointmentId": appt})
	if ans.code != http.StatusOK {
		t.Fatalf("hmsToken: %d %s", ans.code, ans.body)
	}
	return stringAt(out.Result, "role")
}

func inCallRole(call map[string]any, uid string) string {
	in, _ := call["inCall"].(map[string]any)
	e, _ := in[uid].(map[string]any)
	s, _ := e["role"].(string)
	return s
}

// TestE2EWaitingRoom, through the callable protocol on the emulators: with
// WAITING_ROOM_ROLE set, the client and a listed guest get the waiting
// role, the doctor host, a stranger nothing; the doctor's hmsAdmit moves
// the client's waiting peer through 100ms's active-rooms API (the fake
// records the update and sends role.change.success), inCall shows the
// client as guest, and their next token is guest; a guest admitted before
// arriving joins as guest; 100ms down keeps the admission for a retry.
// Planted bugs caught: joinRole ignoring admitted (the next token stays
// waiting-room), moving peers of every role (the doctor's host peer is
// updated), admitting before recording it (the 100ms-down retry finds
// nothing recorded).
func TestE2EWaitingRoom(t *testing.T) {
	h := newHMSEnvWith(t, defaultSweepLimits, map[string]string{envWaitingRole: e2eWaitingRole})
	appt, doctor, client, stranger := h.consultation(t)
	guest, other := h.e.signUp(t, "interpreter"), h.e.signUp(t, "caregiver")
	now := time.Now()
	h.e.seedAppointment(t, appt, map[string]any{"doctorId": doctor.uid, "clientId": client.uid, "guestIds": []any{guest.uid},
		"startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour)})

	if r := h.tokenRole(t, client, appt); r != e2eWaitingRole {
		t.Fatalf("client's first token: role %q; want %s", r, e2eWaitingRole)
	}
	if r := h.tokenRole(t, doctor, appt); r != "host" {
		t.Errorf("doctor's token: role %q", r)
	}
	ans, out := h.call(t, "hmsToken", stranger, map[string]any{"appointmentId": appt})
	wantReason(t, "stranger", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	ans, out = h.call(t, "hmsToken", other, map[string]any{"appointmentId": appt})
	wantReason(t, "guest not listed", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	roomID := stringAt(h.e.doc(t, "calls/"+appt), "roomId")

	// The client waits in the room; the doctor joins.
	start := time.Now().UTC()
	cliPeer, docPeer := "p-cli-"+uuid.NewString()[:8], "p-doc-"+uuid.NewString()[:8]
	sid := h.fake.JoinPeer(roomID, fake100ms.Peer{ID: cliPeer, UserID: client.uid, Role: e2eWaitingRole, JoinedAt: start})
	h.fake.JoinPeer(roomID, fake100ms.Peer{ID: docPeer, UserID: doctor.uid, Role: "host", JoinedAt: start.Add(time.Second)})
	h.event(t, "session.open.success", roomID, start, map[string]any{"session_id": sid, "session_started_at": start.Format(time.RFC3339Nano)})
	h.event(t, "peer.join.success", roomID, start, map[string]any{"session_id": sid, "peer_id": cliPeer, "user_id": client.uid,
		"role": e2eWaitingRole, "joined_at": start.Format(time.RFC3339Nano)})
	h.event(t, "peer.join.success", roomID, start.Add(time.Second), map[string]any{"session_id": sid, "peer_id": docPeer,
		"user_id": doctor.uid, "role": "host", "joined_at": start.Add(time.Second).Format(time.RFC3339Nano)})
	call := h.e.doc(t, "calls/"+appt)
	if inCallRole(call, client.uid) != e2eWaitingRole || inCallRole(call, doctor.uid) != "host" {
		t.Fatalf("inCall before admission: %v", call["inCall"])
	}

	admit := func(u e2eUser, data map[string]any) (httpAnswer, callableAnswer) {
		data["appointmentId"] = appt
		return h.call(t, "hmsAdmit", u, data)
	}
	ans, out = admit(client, map[string]any{})
	wantReason(t, "client admits", ans, out, 403, "PERMISSION_DENIED", reasonHostOnly)
	ans, out = admit(stranger, map[string]any{})
	wantReason(t, "stranger admits", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	ans, out = admit(doctor, map[string]any{"uid": other.uid})
	wantReason(t, "admit a stranger", ans, out, 400, "INVALID_ARGUMENT", reasonNotAdmittable)
	if n := len(h.fake.PeerUpdates()); n != 0 {
		t.Fatalf("%d peers moved by refused admissions", n)
	}

	// 100ms down: UNAVAILABLE, and the admission stays for the retry.
	h.fake.SetDown(true)
	ans, out = admit(doctor, map[string]any{})
	h.fake.SetDown(false)
	wantReason(t, "100ms down", ans, out, 503, "UNAVAILABLE", reasonVideoUnavailable)
	if adm, _ := h.e.doc(t, "calls/"+appt)["admitted"].(map[string]any); adm[client.uid] == nil {
		t.Fatalf("admission not kept when 100ms was down: %v", adm)
	}
	ans, out = admit(doctor, map[string]any{})
	if ans.code != http.StatusOK || out.Result["admitted"] != client.uid || out.Result["moved"] != float64(1) {
		t.Fatalf("admit: %d %s", ans.code, ans.body)
	}
	ups := h.fake.PeerUpdates()
	if len(ups) != 1 || ups[0].PeerID != cliPeer || ups[0].ToRole != "guest" || ups[0].FromRole != e2eWaitingRole {
		t.Fatalf("peer updates at 100ms: %+v", ups)
	}
	h.waitWebhooks(t)
	call = h.e.doc(t, "calls/"+appt)
	if inCallRole(call, client.uid) != "guest" {
		t.Errorf("inCall after the role change: %v", call["inCall"])
	}
	adm, _ := call["admitted"].(map[string]any)
	if a, _ := adm[client.uid].(map[string]any); a["by"] != doctor.uid || a["at"] == nil {
		t.Errorf("admitted.%s = %v", client.uid, adm[client.uid])
	}
	peers, _ := h.e.doc(t, "calls/"+appt+"/sessions/"+sid)["peers"].(map[string]any)
	if p, _ := peers[cliPeer].(map[string]any); p["joinedRole"] != e2eWaitingRole || p["admittedAt"] == nil || p["role"] != "guest" {
		t.Errorf("the client's peer after admission: %v", p)
	}
	if r := h.tokenRole(t, client, appt); r != "guest" {
		t.Errorf("client's token after admission: %q; want guest", r)
	}
	// Repeating it moves nothing more.
	if ans, out = admit(doctor, map[string]any{}); ans.code != 200 || out.Result["moved"] != float64(0) {
		t.Errorf("repeat: %d %s", ans.code, ans.body)
	}

	// A guest admitted before arriving joins as guest straight away.
	if r := h.tokenRole(t, guest, appt); r != e2eWaitingRole {
		t.Errorf("guest before admission: %q", r)
	}
	if ans, out = admit(doctor, map[string]any{"uid": guest.uid}); ans.code != 200 || out.Result["moved"] != float64(0) {
		t.Errorf("admit the guest: %d %s", ans.code, ans.body)
	}
	if r := h.tokenRole(t, guest, appt); r != "guest" {
		t.Errorf("guest after admission: %q", r)
	}
}

// TestE2EAdmitWithoutWaitingRoom: with no WAITING_ROOM_ROLE, everyone but
// the doctor is guest, and hmsAdmit says there is no waiting room.
func TestE2EAdmitWithoutWaitingRoom(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	appt, doctor, client, _ := h.consultation(t)
	if r := h.tokenRole(t, client, appt); r != "guest" {
		t.Errorf("client without a waiting room: %q", r)
	}
	ans, out := h.call(t, "hmsAdmit", doctor, map[string]any{"appointmentId": appt})
	wantReason(t, "no waiting room", ans, out, 400, "FAILED_PRECONDITION", reasonNoWaitingRoom)
}
