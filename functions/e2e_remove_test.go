package functions

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/fake100ms"
)

// enforcements are the system's remove.enforce entries for peer pid.
func (h *hmsEnv) enforcements(t *testing.T, pid string) int {
	t.Helper()
	n := 0
	for _, e := range h.auditEntries(t, "system") {
		if d, _ := e["details"].(map[string]any); e["action"] == "remove.enforce" && d["peerId"] == pid {
			n++
		}
	}
	return n
}

// removalsOf counts the fake 100ms's removals of peer pid.
func (h *hmsEnv) removalsOf(pid string) int {
	n := 0
	for _, r := range h.fake.Removals() {
		if r.PeerID == pid {
			n++
		}
	}
	return n
}

// TestE2ERemove, through the callable protocol on the emulators with the
// waiting room on (docs/visit.md, "Removing someone"): only the doctor
// removes, and only the client or a guest; the removed client's peer is
// disconnected at 100ms, their next token is refused REMOVED, and a
// rejoin with a token minted before (a join of a new peer id) is
// disconnected by the webhook exactly once through four deliveries of the
// join and a replay with a new event id, and a second rejoin too; allow
// lets them back through the waiting room; wait moves a guest's peer to
// the waiting role and their next token is for it; with 100ms down the
// removal holds; every grant and refusal is in the audit trail.
// Planted bugs caught: the join's claim dropped (peer fact k: more than
// one enforcement of a peer), hmsToken's check skipped (the removed
// client gets a token).
func TestE2ERemove(t *testing.T) {
	h := newHMSEnvWith(t, defaultSweepLimits, map[string]string{envWaitingRole: e2eWaitingRole})
	appt, doctor, client, stranger := h.consultation(t)
	guest := h.e.signUp(t, "caregiver")
	now := time.Now()
	h.e.seedAppointment(t, appt, map[string]any{"doctorId": doctor.uid, "clientId": client.uid, "guestIds": []any{guest.uid},
		"startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour)})
	if r := h.tokenRole(t, client, appt); r != e2eWaitingRole {
		t.Fatalf("client's first token: %q", r)
	}
	roomID := stringAt(h.e.doc(t, "calls/"+appt), "roomId")
	if ans, _ := h.call(t, "hmsAdmit", doctor, map[string]any{"appointmentId": appt}); ans.code != http.StatusOK {
		t.Fatalf("admit: %d %s", ans.code, ans.body)
	}

	start := time.Now().UTC()
	cliPeer, docPeer := "p-cli-"+uuid.NewString()[:8], "p-doc-"+uuid.NewString()[:8]
	sid := h.fake.JoinPeer(roomID, fake100ms.Peer{ID: cliPeer, UserID: client.uid, Role: "guest", JoinedAt: start})
	h.fake.JoinPeer(roomID, fake100ms.Peer{ID: docPeer, UserID: doctor.uid, Role: "host", JoinedAt: start})
	join := func(pid string, u e2eUser, role string) map[string]any {
		return map[string]any{"session_id": sid, "peer_id": pid, "user_id": u.uid, "role": role, "joined_at": start.Format(time.RFC3339Nano)}
	}
	h.event(t, "session.open.success", roomID, start, map[string]any{"session_id": sid, "session_started_at": start.Format(time.RFC3339Nano)})
	h.event(t, "peer.join.success", roomID, start, join(cliPeer, client, "guest"))
	h.event(t, "peer.join.success", roomID, start, join(docPeer, doctor, "host"))

	remove := func(u e2eUser, uid, action string) (httpAnswer, callableAnswer) {
		return h.call(t, "hmsRemove", u, map[string]any{"appointmentId": appt, "uid": uid, "action": action})
	}
	ans, out := remove(client, client.uid, "remove")
	wantReason(t, "client removes", ans, out, 403, "PERMISSION_DENIED", reasonHostOnly)
	ans, out = remove(stranger, client.uid, "remove")
	wantReason(t, "stranger removes", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	ans, out = remove(doctor, stranger.uid, "remove")
	wantReason(t, "remove a stranger", ans, out, 400, "INVALID_ARGUMENT", reasonNotRemovable)
	ans, out = remove(doctor, doctor.uid, "remove")
	wantReason(t, "doctor removes themself", ans, out, 400, "INVALID_ARGUMENT", reasonNotRemovable)
	ans, out = remove(doctor, client.uid, "ban")
	wantReason(t, "unknown action", ans, out, 400, "INVALID_ARGUMENT", reasonBadAction)
	if n := len(h.fake.Removals()); n != 0 {
		t.Fatalf("%d peers removed by refused requests", n)
	}

	// The doctor removes the client: disconnected, and kept out.
	ans, out = remove(doctor, client.uid, "remove")
	if ans.code != http.StatusOK || out.Result["removed"] != client.uid || out.Result["disconnected"] != float64(1) {
		t.Fatalf("remove: %d %s", ans.code, ans.body)
	}
	if h.removalsOf(cliPeer) != 1 {
		t.Fatalf("the client's peer at 100ms: removals %+v", h.fake.Removals())
	}
	h.waitWebhooks(t)
	call := h.e.doc(t, "calls/"+appt)
	if rm, _ := call["removed"].(map[string]any); rm[client.uid] == nil {
		t.Errorf("removed = %v", call["removed"])
	}
	if adm, _ := call["admitted"].(map[string]any); adm[client.uid] != nil {
		t.Errorf("admission kept: %v", adm)
	}
	ans, out = h.call(t, "hmsToken", client, map[string]any{"appointmentId": appt})
	wantReason(t, "removed client's token", ans, out, 403, "PERMISSION_DENIED", reasonRemoved)
	if ans, out = remove(doctor, client.uid, "remove"); ans.code != http.StatusOK || out.Result["disconnected"] != float64(0) {
		t.Errorf("repeat removal: %d %s", ans.code, ans.body)
	}

	// A rejoin with a token minted before: four deliveries of its join,
	// and a replay with a new id, disconnect it once.
	for i, pid := range []string{"p-re1-" + uuid.NewString()[:8], "p-re2-" + uuid.NewString()[:8]} {
		h.fake.JoinPeer(roomID, fake100ms.Peer{ID: pid, UserID: client.uid, Role: "guest", JoinedAt: start})
		body := h.event(t, "peer.join.success", roomID, start, join(pid, client, "guest"))
		for range 3 {
			if code := callRaw(t, h.url+"/hmssWebhook", body); code != http.StatusOK {
				t.Fatalf("redelivery: %d", code)
			}
		}
		h.event(t, "peer.join.success", roomID, start, join(pid, client, "guest"))
		h.waitWebhooks(t)
		if r, e := h.removalsOf(pid), h.enforcements(t, pid); r != 1 || e != 1 {
			t.Errorf("rejoin %d: %d removals at 100ms, %d remove.enforce entries; want 1 and 1", i+1, r, e)
		}
	}

	// 100ms down at a rejoin: the delivery is stored all the same (200),
	// the enforcement recorded, the failure logged.
	downPeer := "p-re3-" + uuid.NewString()[:8]
	h.fake.JoinPeer(roomID, fake100ms.Peer{ID: downPeer, UserID: client.uid, Role: "guest", JoinedAt: start})
	h.fake.SetDown(true)
	h.event(t, "peer.join.success", roomID, start, join(downPeer, client, "guest"))
	h.fake.SetDown(false)
	if r, e := h.removalsOf(downPeer), h.enforcements(t, downPeer); r != 0 || e != 1 {
		t.Errorf("rejoin with 100ms down: %d removals, %d remove.enforce entries; want 0 and 1", r, e)
	}
	logged := false
	for _, line := range strings.Split(h.e.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["function"] == "hmssWebhook" && entry["enforce"] == "failed" {
			logged = entry["severity"] == "ERROR"
		}
	}
	if !logged {
		t.Errorf("the failed enforcement is not logged at ERROR")
	}
	if ans, out = remove(doctor, client.uid, "remove"); ans.code != http.StatusOK || out.Result["disconnected"] != float64(1) {
		t.Errorf("removal again after 100ms was down: %d %s", ans.code, ans.body)
	}
	h.waitWebhooks(t)

	// Allowed back: through the waiting room.
	ans, out = remove(doctor, client.uid, "allow")
	if ans.code != http.StatusOK || out.Result["allowed"] != client.uid {
		t.Fatalf("allow: %d %s", ans.code, ans.body)
	}
	if r := h.tokenRole(t, client, appt); r != e2eWaitingRole {
		t.Errorf("token after allow: %q; want %s", r, e2eWaitingRole)
	}
	if ans, _ = remove(doctor, client.uid, "allow"); ans.code != http.StatusOK {
		t.Errorf("repeat allow: %d %s", ans.code, ans.body)
	}

	// wait: an admitted guest's peer goes back to the waiting role.
	if ans, _ := h.call(t, "hmsAdmit", doctor, map[string]any{"appointmentId": appt, "uid": guest.uid}); ans.code != http.StatusOK {
		t.Fatalf("admit the guest: %d %s", ans.code, ans.body)
	}
	if r := h.tokenRole(t, guest, appt); r != "guest" {
		t.Fatalf("admitted guest's token: %q", r)
	}
	gPeer := "p-guest-" + uuid.NewString()[:8]
	h.fake.JoinPeer(roomID, fake100ms.Peer{ID: gPeer, UserID: guest.uid, Role: "guest", JoinedAt: start})
	h.event(t, "peer.join.success", roomID, start, join(gPeer, guest, "guest"))
	before := len(h.fake.PeerUpdates())
	ans, out = remove(doctor, guest.uid, "wait")
	if ans.code != http.StatusOK || out.Result["waiting"] != guest.uid || out.Result["moved"] != float64(1) {
		t.Fatalf("wait: %d %s", ans.code, ans.body)
	}
	ups := h.fake.PeerUpdates()[before:]
	if len(ups) != 1 || ups[0].PeerID != gPeer || ups[0].ToRole != e2eWaitingRole {
		t.Errorf("peer updates of wait: %+v", ups)
	}
	h.waitWebhooks(t)
	if r := h.tokenRole(t, guest, appt); r != e2eWaitingRole {
		t.Errorf("token after wait: %q; want %s", r, e2eWaitingRole)
	}
	if ans, out = remove(doctor, guest.uid, "wait"); ans.code != http.StatusOK || out.Result["moved"] != float64(0) {
		t.Errorf("repeat wait: %d %s", ans.code, ans.body)
	}

	// 100ms down: UNAVAILABLE, and the removal holds.
	h.fake.SetDown(true)
	ans, out = remove(doctor, guest.uid, "remove")
	h.fake.SetDown(false)
	wantReason(t, "100ms down", ans, out, 503, "UNAVAILABLE", reasonVideoUnavailable)
	ans, out = h.call(t, "hmsToken", guest, map[string]any{"appointmentId": appt})
	wantReason(t, "removed guest's token", ans, out, 403, "PERMISSION_DENIED", reasonRemoved)

	// The trail: every request, granted or refused, under its action.
	type key struct{ action, outcome, reason string }
	got := map[key]int{}
	for _, u := range []e2eUser{doctor, client, stranger, guest} {
		for _, e := range h.auditEntries(t, u.uid) {
			r, _ := e["reason"].(string)
			got[key{e["action"].(string), e["outcome"].(string), r}]++
		}
	}
	for k, n := range map[key]int{
		{"remove", "refused", reasonHostOnly}: 1, {"remove", "refused", reasonNotParticipant}: 1,
		{"remove", "refused", reasonNotRemovable}: 2, {"remove", "refused", reasonBadAction}: 1,
		{"remove", "granted", ""}: 4, {"allow", "granted", ""}: 2, {"wait", "granted", ""}: 2,
		{"token", "refused", reasonRemoved}: 2,
	} {
		if got[k] != n {
			t.Errorf("audit entries %+v: %d; want %d", k, got[k], n)
		}
	}
}
