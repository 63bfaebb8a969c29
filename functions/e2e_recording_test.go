package functions

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/fake100ms"
)

// liveWith makes the appointment's call live with the given users in it,
// at 100ms (the fake's active session) and in Firestore (the webhook).
func (h *hmsEnv) liveWith(t *testing.T, appt string, users map[string]e2eUser) (roomID, sid string) {
	t.Helper()
	roomID = stringAt(h.e.doc(t, "calls/"+appt), "roomId")
	start := time.Now().UTC()
	first := true
	for role, u := range users {
		pid := "p-" + uuid.NewString()[:8]
		sid = h.fake.JoinPeer(roomID, fake100ms.Peer{ID: pid, UserID: u.uid, Role: role, JoinedAt: start})
		if first {
			h.event(t, "session.open.success", roomID, start, map[string]any{"session_id": sid, "session_started_at": start.Format(time.RFC3339Nano)})
			first = false
		}
		h.event(t, "peer.join.success", roomID, start, map[string]any{"session_id": sid, "peer_id": pid, "user_id": u.uid,
			"role": role, "joined_at": start.Format(time.RFC3339Nano)})
	}
	return roomID, sid
}

func (h *hmsEnv) startsIn(roomID string) int {
	n := 0
	for _, s := range h.fake.RecordingStarts() {
		if s.RoomID == roomID {
			n++
		}
	}
	return n
}

func (h *hmsEnv) stopsIn(roomID string) int {
	n := 0
	for _, s := range h.fake.RecordingStops() {
		if s.RoomID == roomID {
			n++
		}
	}
	return n
}

// TestE2ERecordingConsent, through the callable protocol: start is refused
// with CONSENT_MISSING naming whoever has not agreed; once all have, two
// concurrent starts start one recording at 100ms; its webhooks move
// recordingControl to running; a late joiner without consent gets
// CONSENT_REQUIRED, and a token once they agree; the client's withdrawal
// stops the recording (stoppedBy consent, a system entry in the trail); the
// recording's webhooks bring a browser recording whose fresh link
// hmsRecordingUrl gives. Planted bugs caught: consent not checked for
// those in inCall (the guest is not listed missing), the claim read
// outside the conditional commit (two starts at 100ms), the late-joiner
// check dropped (the guest gets a token).
func TestE2ERecordingConsent(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	appt, doctor, client, stranger := h.consultation(t)
	guest := h.e.signUp(t, "interpreter")
	now := time.Now()
	h.e.seedAppointment(t, appt, map[string]any{"doctorId": doctor.uid, "clientId": client.uid, "guestIds": []any{guest.uid},
		"startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour)})
	rec := func(u e2eUser, action string) (httpAnswer, callableAnswer) {
		return h.call(t, "hmsRecording", u, map[string]any{"appointmentId": appt, "action": action})
	}
	consent := func(u e2eUser, yes bool) callableAnswer {
		t.Helper()
		ans, out := h.call(t, "hmsConsent", u, map[string]any{"appointmentId": appt, "recording": yes})
		if ans.code != http.StatusOK || out.Result["recording"] != yes {
			t.Fatalf("hmsConsent %v: %d %s", yes, ans.code, ans.body)
		}
		return out
	}

	h.room(t, appt, doctor)
	ans, out := rec(doctor, "start")
	wantReason(t, "not live", ans, out, 400, "FAILED_PRECONDITION", reasonNotLive)
	roomID, _ := h.liveWith(t, appt, map[string]e2eUser{"host": doctor, "guest": client})

	ans, out = rec(client, "start")
	wantReason(t, "client starts", ans, out, 403, "PERMISSION_DENIED", reasonHostOnly)
	ans, out = rec(stranger, "start")
	wantReason(t, "stranger starts", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	ans, out = rec(doctor, "pause")
	wantReason(t, "bad action", ans, out, 400, "INVALID_ARGUMENT", reasonBadAction)
	ans, out = h.call(t, "hmsConsent", client, map[string]any{"appointmentId": appt})
	wantReason(t, "consent without a value", ans, out, 400, "INVALID_ARGUMENT", reasonNoConsentValue)

	missing := func(name string, want ...string) {
		t.Helper()
		ans, out := rec(doctor, "start")
		wantReason(t, name, ans, out, 400, "FAILED_PRECONDITION", reasonConsentMissing)
		got := map[string]string{}
		list, _ := out.Error.Details["missing"].([]any)
		for _, m := range list {
			e, _ := m.(map[string]any)
			got[e["uid"].(string)], _ = e["role"].(string)
		}
		if len(got) != len(want)/2 {
			t.Errorf("%s: missing %v; want %v", name, got, want)
		}
		for i := 0; i+1 < len(want); i += 2 {
			if got[want[i]] != want[i+1] {
				t.Errorf("%s: missing %v; want %s as %s", name, got, want[i], want[i+1])
			}
		}
	}
	missing("nobody agreed", doctor.uid, "doctor", client.uid, "client")
	consent(doctor, true)
	missing("the client has not agreed", client.uid, "client")
	if n := h.startsIn(roomID); n != 0 {
		t.Fatalf("%d recordings started without consent", n)
	}
	consent(client, true)

	var wg sync.WaitGroup
	answers := make([]callableAnswer, 2)
	codes := make([]int, 2)
	for i := range answers {
		wg.Go(func() {
			a, o := rec(doctor, "start")
			codes[i], answers[i] = a.code, o
		})
	}
	wg.Wait()
	for i, o := range answers {
		if codes[i] != http.StatusOK || (o.Result["recording"] != "starting" && o.Result["recording"] != "running") {
			t.Errorf("start %d: %d %+v", i, codes[i], o)
		}
	}
	if n := h.startsIn(roomID); n != 1 {
		t.Fatalf("%d recordings started at 100ms by two starts; want 1", n)
	}
	h.waitWebhooks(t)
	rc, _ := h.e.doc(t, "calls/"+appt)["recordingControl"].(map[string]any)
	if rc["state"] != "running" || rc["startedBy"] != doctor.uid || rc["hmsRecordingId"] == nil || rc["startedAt"] == nil {
		t.Errorf("recordingControl after beam.started: %v", rc)
	}
	if ans, out = rec(doctor, "start"); ans.code != 200 || out.Result["recording"] != "running" || h.startsIn(roomID) != 1 {
		t.Errorf("a third start: %d %s (starts %d)", ans.code, ans.body, h.startsIn(roomID))
	}

	// A late joiner must agree first.
	ans, out = h.call(t, "hmsToken", guest, map[string]any{"appointmentId": appt})
	wantReason(t, "late joiner", ans, out, 400, "FAILED_PRECONDITION", reasonConsentRequired)
	if out.Error != nil && out.Error.Details["recording"] != true {
		t.Errorf("CONSENT_REQUIRED details: %v", out.Error.Details)
	}
	consent(guest, true)
	if r := h.tokenRole(t, guest, appt); r != "guest" {
		t.Errorf("the guest after consenting: %q", r)
	}

	// The client withdraws: the recording stops, by consent.
	if o := consent(client, false); o.Result["recordingStopped"] != true {
		t.Errorf("withdrawal: %v; want recordingStopped", o.Result)
	}
	if n := h.stopsIn(roomID); n != 1 {
		t.Errorf("%d stops at 100ms; want 1", n)
	}
	h.waitWebhooks(t)
	rc, _ = h.e.doc(t, "calls/"+appt)["recordingControl"].(map[string]any)
	if rc["state"] != "stopped" || rc["stoppedBy"] != stoppedByConsent || rc["stoppedAt"] == nil {
		t.Errorf("recordingControl after the withdrawal: %v", rc)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sys, err := h.e.fs.Collection("auditLog").Where("appointmentId", "==", appt).Where("uid", "==", "system").Documents(ctx).GetAll()
	if err != nil || len(sys) != 1 || sys[0].Data()["action"] != "recording.stop" {
		t.Errorf("the system's entry of the stop: %d entries, %v", len(sys), err)
	}
	// Stopping what is not running is harmless.
	if ans, out = rec(doctor, "stop"); ans.code != 200 || out.Result["recording"] != "stopped" {
		t.Errorf("stop after stop: %d %s", ans.code, ans.body)
	}

	// The recording 100ms made, and a fresh link to it.
	recs, err := h.e.fs.Collection("calls/" + appt + "/recordings").Documents(ctx).GetAll()
	if err != nil || len(recs) != 1 {
		t.Fatalf("recordings: %d, %v", len(recs), err)
	}
	if d := recs[0].Data(); d["kind"] != "browser" || d["status"] != "success" || d["url"] == nil {
		t.Errorf("the recording: %v", d)
	}
	ans, out = h.call(t, "hmsRecordingUrl", client, map[string]any{"appointmentId": appt, "recordingId": recs[0].Ref.ID})
	if ans.code != 200 || stringAt(out.Result, "url") == "" {
		t.Errorf("hmsRecordingUrl: %d %s", ans.code, ans.body)
	}
}
