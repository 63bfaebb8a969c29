package functions

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
)

// auditEntries reads every audit entry of uid, oldest first.
func (h *hmsEnv) auditEntries(t *testing.T, uid string) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	snaps, err := h.e.fs.Collection("auditLog").Where("uid", "==", uid).Documents(ctx).GetAll()
	if err != nil {
		t.Fatalf("read auditLog of %s: %v", uid, err)
	}
	out := make([]map[string]any, 0, len(snaps))
	for _, s := range snaps {
		out = append(out, s.Data())
	}
	// Oldest first, by server time.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j]["at"].(time.Time).Before(out[j-1]["at"].(time.Time)); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// auditStep makes one callable request and checks that it left exactly
// want entries for its caller (0 or 1), and returns the new one.
func (h *hmsEnv) auditStep(t *testing.T, name, function string, user e2eUser, data map[string]any, want int) (httpAnswer, callableAnswer, map[string]any) {
	t.Helper()
	before := len(h.auditEntries(t, user.uid))
	ans, out := h.call(t, function, user, data)
	after := h.auditEntries(t, user.uid)
	if got := len(after) - before; got != want {
		t.Fatalf("%s: %d new audit entries; want %d (answer %d %s)", name, got, want, ans.code, ans.body)
	}
	if want == 0 {
		return ans, out, nil
	}
	e := after[len(after)-1]
	// The entry never holds what was granted, only its names.
	for _, secret := range []string{stringAt(out.Result, "token"), stringAt(out.Result, "url")} {
		if secret != "" && strings.Contains(fmt.Sprint(e), secret) {
			t.Errorf("%s: the audit entry holds the token or link", name)
		}
	}
	return ans, out, e
}

func stringAt(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func wantEntry(t *testing.T, name string, e map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if fmt.Sprint(e[k]) != fmt.Sprint(v) {
			t.Errorf("%s: audit %s = %v; want %v (entry %v)", name, k, e[k], v, e)
		}
	}
	for _, k := range []string{"at", "requestId", "appCheck", "ip", "action", "outcome", "uid", "role", "appointmentId"} {
		if e[k] == nil || e[k] == "" {
			t.Errorf("%s: audit entry has no %s: %v", name, k, e)
		}
	}
}

// TestE2EAuditTrail: every callable request of a signed-in participant or
// stranger that names an appointment leaves exactly one entry, granted or
// refused with its reason; a request naming none, or of a revoked sign-in,
// leaves none. Planted bugs caught: the fallback write skipped for
// refusals (the stranger rows find 0), the entry written both in
// RecordRoom and by the fallback (the first token finds 2), the token
// itself in details (the secret check).
func TestE2EAuditTrail(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	appt, doctor, client, stranger := h.consultation(t)
	tok := func(id string) map[string]any { return map[string]any{"appointmentId": id} }

	_, _, e := h.auditStep(t, "end before any room", "hmsEndCall", doctor, tok(appt), 1)
	wantEntry(t, "end before any room", e, map[string]any{"action": "endCall", "outcome": "refused", "reason": reasonNotLive, "role": "doctor"})

	_, out, e := h.auditStep(t, "first token", "hmsToken", doctor, tok(appt), 1)
	roomID := stringAt(out.Result, "roomId")
	wantEntry(t, "first token", e, map[string]any{"action": "token", "outcome": "granted", "role": "doctor",
		"appointmentId": appt, "roomId": roomID, "appCheck": "missing"})
	if d, _ := e["details"].(map[string]any); d["role"] != "host" || d["jti"] == nil || d["expiresAt"] == nil {
		t.Errorf("first token: details %v", e["details"])
	} else if exp, _ := d["expiresAt"].(time.Time); exp.UTC().Format(time.RFC3339) != out.Result["expiresAt"] {
		t.Errorf("details.expiresAt %v; the answer says %v", exp, out.Result["expiresAt"])
	}
	_, _, e = h.auditStep(t, "client token", "hmsToken", client, tok(appt), 1)
	wantEntry(t, "client token", e, map[string]any{"action": "token", "outcome": "granted", "role": "client", "roomId": roomID})

	_, _, e = h.auditStep(t, "stranger token", "hmsToken", stranger, tok(appt), 1)
	wantEntry(t, "stranger token", e, map[string]any{"outcome": "refused", "reason": reasonNotParticipant, "role": "none"})
	// A stranger probing ids leaves one entry per probe.
	for i := 0; i < 3; i++ {
		_, _, e = h.auditStep(t, "probe", "hmsToken", stranger, tok("probe-"+uuid.NewString()[:8]), 1)
		wantEntry(t, "probe", e, map[string]any{"outcome": "refused", "reason": reasonNotParticipant})
	}
	h.auditStep(t, "no appointmentId", "hmsToken", stranger, map[string]any{}, 0)

	_, _, e = h.auditStep(t, "client ends", "hmsEndCall", client, tok(appt), 1)
	wantEntry(t, "client ends", e, map[string]any{"action": "endCall", "outcome": "refused", "reason": reasonHostOnly, "role": "client"})
	// The grant is recorded before 100ms is asked; 100ms then says nobody
	// is in the room (NOT_LIVE), which the entry, written first, cannot
	// say: "granted" is the backend's decision, not 100ms's answer.
	ans, out, e := h.auditStep(t, "end, no session", "hmsEndCall", doctor, tok(appt), 1)
	wantReason(t, "end, no session", ans, out, 400, "FAILED_PRECONDITION", reasonNotLive)
	wantEntry(t, "end, no session", e, map[string]any{"action": "endCall", "outcome": "granted"})
	h.fake.AddSession(fake100ms.Session{RoomID: roomID, Active: true, CreatedAt: time.Now(),
		Peers: []fake100ms.Peer{{ID: "p-" + uuid.NewString()[:8], UserID: doctor.uid, Role: "host", JoinedAt: time.Now()}}})
	ans, _, e = h.auditStep(t, "doctor ends", "hmsEndCall", doctor, map[string]any{"appointmentId": appt, "lock": true}, 1)
	if ans.code != http.StatusOK {
		t.Fatalf("doctor ends: %d %s", ans.code, ans.body)
	}
	wantEntry(t, "doctor ends", e, map[string]any{"action": "endCall", "outcome": "granted", "role": "doctor", "roomId": roomID})
	if d, _ := e["details"].(map[string]any); d["lock"] != true {
		t.Errorf("endCall details %v", e["details"])
	}
	// The locked room: the next token re-enables it, one entry still.
	_, _, e = h.auditStep(t, "token after lock", "hmsToken", client, tok(appt), 1)
	wantEntry(t, "token after lock", e, map[string]any{"outcome": "granted"})

	_, _, e = h.auditStep(t, "no such recording", "hmsRecordingUrl", client, map[string]any{"appointmentId": appt, "recordingId": "sfu-nope"}, 1)
	wantEntry(t, "no such recording", e, map[string]any{"action": "recordingUrl", "outcome": "refused", "reason": reasonNoSuchRecording})
	if d, _ := e["details"].(map[string]any); d != nil {
		t.Errorf("a refusal's entry has details %v", d)
	}
	_, _, e = h.auditStep(t, "no recording id", "hmsRecordingUrl", doctor, tok(appt), 1)
	wantEntry(t, "no recording id", e, map[string]any{"outcome": "refused", "reason": reasonNoRecordingID})

	// The visit's callables: admit (no waiting room here), consent,
	// recording, each granted or refused once.
	_, _, e = h.auditStep(t, "admit, no waiting room", "hmsAdmit", doctor, tok(appt), 1)
	wantEntry(t, "admit, no waiting room", e, map[string]any{"action": "admit", "outcome": "refused", "reason": reasonNoWaitingRoom})
	_, _, e = h.auditStep(t, "client admits", "hmsAdmit", client, tok(appt), 1)
	wantEntry(t, "client admits", e, map[string]any{"action": "admit", "outcome": "refused", "reason": reasonHostOnly, "role": "client"})
	_, _, e = h.auditStep(t, "consent", "hmsConsent", client, map[string]any{"appointmentId": appt, "recording": true}, 1)
	wantEntry(t, "consent", e, map[string]any{"action": "consent", "outcome": "granted", "role": "client"})
	if d, _ := e["details"].(map[string]any); d["recording"] != true {
		t.Errorf("consent details %v", e["details"])
	}
	_, _, e = h.auditStep(t, "consent without a value", "hmsConsent", stranger, tok(appt), 1)
	wantEntry(t, "consent without a value", e, map[string]any{"outcome": "refused", "reason": reasonNoConsentValue})
	_, _, e = h.auditStep(t, "stranger consents", "hmsConsent", stranger, map[string]any{"appointmentId": appt, "recording": true}, 1)
	wantEntry(t, "stranger consents", e, map[string]any{"outcome": "refused", "reason": reasonNotParticipant, "role": "none"})
	_, _, e = h.auditStep(t, "recording, not live", "hmsRecording", doctor, map[string]any{"appointmentId": appt, "action": "start"}, 1)
	wantEntry(t, "recording, not live", e, map[string]any{"action": "recording.start", "outcome": "refused", "reason": reasonNotLive})
	_, _, e = h.auditStep(t, "client records", "hmsRecording", client, map[string]any{"appointmentId": appt, "action": "start"}, 1)
	wantEntry(t, "client records", e, map[string]any{"action": "recording.start", "outcome": "refused", "reason": reasonHostOnly})
	_, _, e = h.auditStep(t, "stop", "hmsRecording", doctor, map[string]any{"appointmentId": appt, "action": "stop"}, 1)
	wantEntry(t, "stop", e, map[string]any{"action": "recording.stop", "outcome": "granted", "role": "doctor"})
	_, _, e = h.auditStep(t, "bad action", "hmsRecording", doctor, map[string]any{"appointmentId": appt, "action": "pause"}, 1)
	wantEntry(t, "bad action", e, map[string]any{"outcome": "refused", "reason": reasonBadAction})

	// A revoked sign-in is not anyone: no entry (the request log has it).
	revoked := h.e.signUp(t, "revoked")
	emulatortest.RevokeTokens(t, h.e.auth, h.e.project, revoked.uid)
	time.Sleep(1100 * time.Millisecond) // revocation has one-second resolution
	h.auditStep(t, "revoked", "hmsToken", revoked, tok(appt), 0)
}

// TestE2EAuditFailsClosed: when Firestore refuses the audit entry (its id
// is one Firestore reserves, so the real emulator refuses that write and
// the commit it rides in), nothing is granted: no token, no room recorded,
// no room ended; the answer is INTERNAL (STORE_REFUSED), as Firestore
// refuses the write as invalid and no retry can fix that (a transient
// failure would be UNAVAILABLE, AUDIT_UNAVAILABLE). Planted bugs caught: ignoring
// writeAlone's error in endCall (the fake records an end), minting before
// finishAudit's verdict (a token in the answer), RecordRoom writing the
// entry in a second commit (calls/{id} exists).
func TestE2EAuditFailsClosed(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	appt, doctor, client, stranger := h.consultation(t)
	// One appointment whose room exists already, made before the trail
	// breaks.
	readyAppt, readyDoctor, _, _ := h.consultation(t)
	roomID := h.room(t, readyAppt, readyDoctor)
	h.fake.AddSession(fake100ms.Session{RoomID: roomID, Active: true, CreatedAt: time.Now(),
		Peers: []fake100ms.Peer{{ID: "p-" + uuid.NewString()[:8], UserID: readyDoctor.uid, Role: "host", JoinedAt: time.Now()}}})
	endsBefore := len(h.fake.Ends()) // of every room: no other test ends one meanwhile (none runs in parallel)

	h.app.newAuditID = func() string { return "__refused__" }
	t.Cleanup(func() { h.app.newAuditID = func() string { return uuid.NewString() } })

	check := func(name string, user e2eUser, function string, data map[string]any) {
		t.Helper()
		ans, out := h.call(t, function, user, data)
		wantReason(t, name, ans, out, 500, "INTERNAL", reasonStoreRefused)
		if out.Result != nil {
			t.Errorf("%s: a result though the trail failed: %v", name, out.Result)
		}
	}
	check("first token", doctor, "hmsToken", map[string]any{"appointmentId": appt})
	if d := h.e.doc(t, "calls/"+appt); d != nil {
		t.Errorf("the room was recorded without its entry: %v", d)
	}
	check("warm token", readyDoctor, "hmsToken", map[string]any{"appointmentId": readyAppt})
	check("end call", readyDoctor, "hmsEndCall", map[string]any{"appointmentId": readyAppt})
	if n := len(h.fake.Ends()); n != endsBefore {
		t.Errorf("%d rooms ended without an entry", n-endsBefore)
	}
	check("refusal", stranger, "hmsToken", map[string]any{"appointmentId": appt})
	check("client of no room", client, "hmsEndCall", map[string]any{"appointmentId": appt})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.e.fs.Collection("auditLog").Doc("__refused__").Get(ctx); err == nil {
		t.Error("the emulator stored the reserved id; the test proves nothing")
	}
}
