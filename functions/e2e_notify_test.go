package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/fakefcm"
)

// device registers a device of u as the app does (users/{uid}/fcmTokens/
// {token}) and returns its token, made for this test.
func (h *hmsEnv) device(t *testing.T, u e2eUser) string {
	t.Helper()
	tok := "fcm-" + uuid.NewString()
	if _, err := h.e.fs.Doc("users/"+u.uid+"/fcmTokens/"+tok).Set(context.Background(), map[string]any{"platform": "android"}); err != nil {
		t.Fatalf("register device: %v", err)
	}
	return tok
}

// messagesTo are the fake FCM's messages to the device token.
func (h *hmsEnv) messagesTo(token string) []fakefcm.Message {
	var out []fakefcm.Message
	for _, m := range h.fcm.Messages() {
		if m.Token == token {
			out = append(out, m)
		}
	}
	return out
}

// queue runs the doctor's queue query (docs/notifications.md) and returns
// the appointment ids, in its order.
func (h *hmsEnv) queue(t *testing.T, doctorUID string) []string {
	t.Helper()
	snaps, err := h.e.fs.Collection("calls").Where("doctorId", "==", doctorUID).OrderBy("waitingSince", firestore.Asc).
		Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatalf("queue of %s: %v", doctorUID, err)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.Ref.ID)
	}
	return ids
}

// notifyEntries are the system's notify entries of appointment appt.
func (h *hmsEnv) notifyEntries(t *testing.T, appt string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range h.auditEntries(t, "system") {
		if e["action"] == "notify" && e["appointmentId"] == appt {
			out = append(out, e)
		}
	}
	return out
}

// TestE2ENotifications, on the emulators through the webhook and the
// callables, with the waiting room on (docs/notifications.md; SPEC §19):
//   - a patient waiting while the doctor is away reaches each of the
//     doctor's devices once, through four deliveries of the same join and
//     a replay of it under a new event id;
//   - the doctor's queue lists exactly the calls with someone waiting,
//     oldest wait first, and an admission takes the call off it at once;
//   - the doctor joining while a guest is away reaches the guest once, and
//     not the patient, who is in the room;
//   - in a second visit the doctor, there first, reaches the patient once
//     through four deliveries, and the patient then waiting while the
//     doctor is in sends the doctor nothing;
//   - a token FCM answers UNREGISTERED for is deleted, the other stays;
//   - no message carries a name, an email or anyone's uid, and data is
//     {kind, appointmentId} only;
//   - each send is one notify entry, with the number of devices and no
//     token.
//
// Planted bugs caught: the claim not written (each delivery sends again),
// the doctor's presence not checked (a waiting message while the doctor
// is in), the stale token kept.
func TestE2ENotifications(t *testing.T) {
	h := newHMSEnvWith(t, defaultSweepLimits, map[string]string{envWaitingRole: e2eWaitingRole})
	appt, doctor, client, _ := h.consultation(t)
	guest := h.e.signUp(t, "interpreter")
	now := time.Now()
	h.e.seedAppointment(t, appt, map[string]any{"doctorId": doctor.uid, "clientId": client.uid, "guestIds": []any{guest.uid},
		"startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour)})
	docPhone, docTablet := h.device(t, doctor), h.device(t, doctor)
	cliPhone := h.device(t, client)
	guestPhone, guestStale := h.device(t, guest), h.device(t, guest)
	h.fcm.Unregister(guestStale)
	tokens := []string{docPhone, docTablet, cliPhone, guestPhone, guestStale}

	if r := h.tokenRole(t, client, appt); r != e2eWaitingRole {
		t.Fatalf("client's token: role %q", r)
	}
	roomID := stringAt(h.e.doc(t, "calls/"+appt), "roomId")
	start := time.Now().UTC().Truncate(time.Millisecond)
	cliPeer := "p-cli-" + uuid.NewString()[:8]
	sid := h.fake.JoinPeer(roomID, fake100ms.Peer{ID: cliPeer, UserID: client.uid, Role: e2eWaitingRole, JoinedAt: start})
	join := func(pid string, u e2eUser, role, name string, at time.Time) map[string]any {
		return map[string]any{"session_id": sid, "peer_id": pid, "user_id": u.uid, "role": role,
			"user_name": name, "joined_at": at.Format(time.RFC3339Nano)}
	}
	h.event(t, "session.open.success", roomID, start, map[string]any{"session_id": sid, "session_started_at": start.Format(time.RFC3339Nano)})

	// The patient waits, the doctor is away: each of the doctor's devices
	// is told once, however often the join comes.
	body := h.event(t, "peer.join.success", roomID, start, join(cliPeer, client, e2eWaitingRole, "Alice Patient", start))
	for range 3 {
		if code := callRaw(t, h.url+"/hmssWebhook", body); code != http.StatusOK {
			t.Fatalf("redelivery: %d", code)
		}
	}
	h.event(t, "peer.join.success", roomID, start, join(cliPeer, client, e2eWaitingRole, "Alice Patient", start)) // a replay, new id
	for _, tok := range []string{docPhone, docTablet} {
		got := h.messagesTo(tok)
		if len(got) != 1 || got[0].Data["kind"] != "waiting" {
			t.Fatalf("doctor's device got %d messages (%+v), want one waiting", len(got), got)
		}
	}
	if n := len(h.messagesTo(cliPhone)); n != 0 {
		t.Errorf("the waiting patient's phone got %d messages", n)
	}

	// The queue: this call, since the patient's join; a second call of the
	// doctor with nobody waiting is not on it.
	call := h.e.doc(t, "calls/"+appt)
	if ws, _ := call["waitingSince"].(time.Time); !ws.Equal(start) {
		t.Errorf("waitingSince = %v, want the join's %v", call["waitingSince"], start)
	}
	appt2 := "appt-" + uuid.NewString()[:12]
	h.e.seedAppointment(t, appt2, map[string]any{"doctorId": doctor.uid, "clientId": client.uid,
		"startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour)})
	room2 := h.room(t, appt2, doctor)
	if q := h.queue(t, doctor.uid); !slices.Equal(q, []string{appt}) {
		t.Errorf("queue = %v, want [%s]", q, appt)
	}
	// Admitted: off the queue at once, before 100ms's role change arrives.
	if ans, _ := h.call(t, "hmsAdmit", doctor, map[string]any{"appointmentId": appt}); ans.code != http.StatusOK {
		t.Fatalf("admit: %d %s", ans.code, ans.body)
	}
	if q := h.queue(t, doctor.uid); len(q) != 0 {
		t.Errorf("queue after the admission = %v, want none", q)
	}

	// The doctor joins: the guest, away, is told once; the patient, in the
	// room, is not.
	if r := h.tokenRole(t, doctor, appt); r != "host" {
		t.Fatalf("doctor's token: role %q", r)
	}
	docPeer := "p-doc-" + uuid.NewString()[:8]
	h.fake.JoinPeer(roomID, fake100ms.Peer{ID: docPeer, UserID: doctor.uid, Role: "host", JoinedAt: start})
	body = h.event(t, "peer.join.success", roomID, start.Add(time.Second), join(docPeer, doctor, "host", "Dr Bob Smith", start.Add(time.Second)))
	for range 3 {
		callRaw(t, h.url+"/hmssWebhook", body)
	}
	if got := h.messagesTo(guestPhone); len(got) != 1 || got[0].Data["kind"] != "ready" {
		t.Fatalf("guest's phone got %+v, want one ready", got)
	}
	if n := len(h.messagesTo(cliPhone)); n != 0 {
		t.Errorf("the patient in the room was told %d times", n)
	}
	// The stale device is gone, the other stays.
	if h.e.doc(t, "users/"+guest.uid+"/fcmTokens/"+guestStale) != nil {
		t.Error("the token FCM answered UNREGISTERED for is still registered")
	}
	if h.e.doc(t, "users/"+guest.uid+"/fcmTokens/"+guestPhone) == nil {
		t.Error("the guest's working device was deleted")
	}

	// A second visit: the doctor is there first and the patient is told
	// once through four deliveries; then the patient waits while the
	// doctor is in, and nobody is told.
	start2 := time.Now().UTC().Truncate(time.Millisecond)
	docPeer2, cliPeer2 := "p-doc2-"+uuid.NewString()[:8], "p-cli2-"+uuid.NewString()[:8]
	sid2 := h.fake.JoinPeer(room2, fake100ms.Peer{ID: docPeer2, UserID: doctor.uid, Role: "host", JoinedAt: start2})
	join2 := func(pid string, u e2eUser, role string) map[string]any {
		return map[string]any{"session_id": sid2, "peer_id": pid, "user_id": u.uid, "role": role, "joined_at": start2.Format(time.RFC3339Nano)}
	}
	h.event(t, "session.open.success", room2, start2, map[string]any{"session_id": sid2, "session_started_at": start2.Format(time.RFC3339Nano)})
	body = h.event(t, "peer.join.success", room2, start2, join2(docPeer2, doctor, "host"))
	for range 3 {
		callRaw(t, h.url+"/hmssWebhook", body)
	}
	if got := h.messagesTo(cliPhone); len(got) != 1 || got[0].Data["kind"] != "ready" || got[0].Data["appointmentId"] != appt2 {
		t.Fatalf("patient's phone got %+v, want one ready for %s", got, appt2)
	}
	h.fake.JoinPeer(room2, fake100ms.Peer{ID: cliPeer2, UserID: client.uid, Role: e2eWaitingRole, JoinedAt: start2})
	h.event(t, "peer.join.success", room2, start2.Add(time.Second), join2(cliPeer2, client, e2eWaitingRole))
	for _, tok := range []string{docPhone, docTablet} {
		if n := len(h.messagesTo(tok)); n != 1 {
			t.Errorf("doctor's device got %d messages, want still 1: told of a wait while in the room", n)
		}
	}
	// Someone waits in the second visit (the doctor is there): it is on
	// the queue, the first (admitted) is not.
	if q := h.queue(t, doctor.uid); !slices.Equal(q, []string{appt2}) {
		t.Errorf("queue = %v, want [%s]", q, appt2)
	}

	// What the messages carry: fixed texts, {kind, appointmentId}, and no
	// name, email or uid of anyone.
	personal := []string{doctor.uid, client.uid, guest.uid, "Alice", "Patient", "Bob", "Smith", "@example.com"}
	for _, m := range h.fcm.Messages() {
		if !slices.Contains(tokens, m.Token) {
			continue
		}
		keys := make([]string, 0, len(m.Data))
		for k := range m.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"appointmentId", "kind"}) {
			t.Errorf("data keys %v, want appointmentId and kind", keys)
		}
		if m.Notification == nil || m.Notification.Title == "" {
			t.Errorf("message without a notification title: %s", m.Raw)
		}
		for _, p := range personal {
			if strings.Contains(string(m.Raw), p) {
				t.Errorf("a message carries %q: %s", p, m.Raw)
			}
		}
	}

	// One entry per send: waiting to the doctor and ready to the guest in
	// the first visit, ready to the patient in the second; no token.
	entries := append(h.notifyEntries(t, appt), h.notifyEntries(t, appt2)...)
	type sent struct {
		kind, to string
		devices  int64
	}
	var got []sent
	for _, e := range entries {
		d, _ := e["details"].(map[string]any)
		n, _ := d["devices"].(int64)
		got = append(got, sent{stringAt(d, "kind"), stringAt(d, "to"), n})
		raw, _ := json.Marshal(e)
		for _, tok := range tokens {
			if strings.Contains(string(raw), tok) {
				t.Errorf("notify entry carries a device token: %s", raw)
			}
		}
	}
	want := []sent{{"waiting", doctor.uid, 2}, {"ready", guest.uid, 2}, {"ready", client.uid, 1}}
	if !sameSends(got, want) {
		t.Errorf("notify entries %+v, want %+v", got, want)
	}
	// The outcome on the call: sent, to 2 devices, 1 taken (the other gone).
	var outcome map[string]any
	for _, v := range mapOf(h.e.doc(t, "calls/"+appt)["notified"]) {
		if m := mapOf(v); m["kind"] == "ready" {
			outcome = m
		}
	}
	if outcome["status"] != "sent" || outcome["devices"] != int64(2) || outcome["sent"] != int64(1) {
		t.Errorf("ready's outcome on the call = %v, want sent to 2 devices, 1 taken", outcome)
	}
}

func sameSends[T comparable](got, want []T) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// TestE2ENotifyOff: with NOTIFY=off a patient waiting while the doctor is
// away tells nobody, claims nothing and writes no entry.
func TestE2ENotifyOff(t *testing.T) {
	h := newHMSEnvWith(t, defaultSweepLimits, map[string]string{envWaitingRole: e2eWaitingRole, envNotify: "off"})
	appt, doctor, client, _ := h.consultation(t)
	docPhone := h.device(t, doctor)
	roomID := h.room(t, appt, client)
	start := time.Now().UTC()
	pid := "p-" + uuid.NewString()[:8]
	sid := h.fake.JoinPeer(roomID, fake100ms.Peer{ID: pid, UserID: client.uid, Role: e2eWaitingRole, JoinedAt: start})
	h.event(t, "session.open.success", roomID, start, map[string]any{"session_id": sid, "session_started_at": start.Format(time.RFC3339Nano)})
	h.event(t, "peer.join.success", roomID, start, map[string]any{"session_id": sid, "peer_id": pid, "user_id": client.uid,
		"role": e2eWaitingRole, "joined_at": start.Format(time.RFC3339Nano)})
	if n := len(h.messagesTo(docPhone)); n != 0 {
		t.Errorf("NOTIFY=off sent %d messages", n)
	}
	if n := len(h.notifyEntries(t, appt)); n != 0 {
		t.Errorf("NOTIFY=off wrote %d notify entries", n)
	}
	if _, ok := h.e.doc(t, "calls/"+appt)["notified"]; ok {
		t.Error("NOTIFY=off claimed a notification")
	}
	// The queue works all the same.
	if q := h.queue(t, doctor.uid); !slices.Equal(q, []string{appt}) {
		t.Errorf("queue = %v, want [%s]", q, appt)
	}
}
