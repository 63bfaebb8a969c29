package functions

import (
	"bytes"
	"cloud.google.com/go/firestore"
	"context"
	"encoding/json"
	"fmt"
	"github.com/telemed/videocalls/internal/emulatortest"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/fakefcm"
)

// hmsEnv serves, in process over real HTTP, hmsToken, hmssWebhook,
// hmsEndCall, hmsRecordingUrl and hmsSweep from one app on the end-to-end
// emulators, against a fake 100ms of its own (internal/fake100ms) whose
// counters and switches the tests use. The app's log joins the end-to-end
// server's, which TestMain scans for secrets, tokens and links.
type hmsEnv struct {
	e    *e2eEnv
	fake *fake100ms.Server
	fcm  *fakefcm.Server
	app  *app
	mux  *http.ServeMux
	url  string
}

func newHMSEnv(t *testing.T, lim sweepLimits) *hmsEnv {
	t.Helper()
	return newHMSEnvWith(t, lim, nil)
}

// newHMSEnvWith is newHMSEnv with settings added or replaced.
func newHMSEnvWith(t *testing.T, lim sweepLimits, settings map[string]string) *hmsEnv {
	t.Helper()
	// The emulators only: the handlers are served here, so no server
	// process is needed (nor its build).
	fsHost := emulatortest.Firestore(t)
	authHost := emulatortest.Auth(t)
	e := &e2eEnv{project: emulatortest.AuthProject, auth: authHost, logs: &emulatortest.Output{},
		sensitive: []string{e2eSecret, e2eWebhookSecret}}
	fs, err := firestore.NewClient(context.Background(), e.project)
	if err != nil {
		t.Fatalf("firestore client: %v", err)
	}
	e.fs = fs
	fake := sharedHMSFake()
	t.Cleanup(func() {
		fake.SetDown(false)
		fake.SetSlow(0)
		_ = fs.Close()
		// Nothing secret in the app's log: secrets, ID and join tokens,
		// presigned links, and the management tokens 100ms received.
		out := e.logs.String()
		for _, v := range append(append([]string(nil), e.sensitive...), fake.BearerTokens()...) {
			if v != "" && strings.Contains(out, v) {
				t.Errorf("the log contains a secret, token or link (%.12s...)", v)
			}
		}
	})
	env := map[string]string{
		envProject: e.project, envAPIBase: fake.URL, envSecret: e2eSecret, envAccessKey: e2eAccessKey,
		envTemplateID: e2eTemplateID, envTokenTTL: "2h", envWebhookSecret: e2eWebhookSecret, envSweepIdle: "1s",
		// Notifications go to the shared fake FCM, which FCM_API_BASE may
		// name only with the emulators.
		envFirestoreEmu: fsHost, envFCMBase: sharedFCMFake().URL,
	}
	for k, v := range settings {
		env[k] = v
	}
	a := newApp(testEnv(env), newLogger(e.logs))
	h := &hmsEnv{e: e, fake: fake, fcm: sharedFCMFake(), app: a, mux: http.NewServeMux()}
	h.mux.Handle("/hmsToken", a.tokenHandler())
	h.mux.Handle("/hmssWebhook", a.webhookHandler())
	h.mux.Handle("/hmsEndCall", a.endCallHandler())
	h.mux.Handle("/hmsRecordingUrl", a.recordingURLHandler())
	h.mux.Handle("/hmsSweep", a.sweepHandlerWith(lim))
	h.mux.Handle("/hmsAdmit", a.admitHandler())
	h.mux.Handle("/hmsConsent", a.consentHandler())
	h.mux.Handle("/hmsRecording", a.recordingHandler())
	h.mux.Handle("/hmsRemove", a.removeHandler())
	srv := httptest.NewServer(h.mux)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	fake.SetWebhook(srv.URL+"/hmssWebhook", http.Header{"X-Webhook-Secret": {e2eWebhookSecret}})
	return h
}

var (
	hmsFakeOnce sync.Once
	hmsFake     *fake100ms.Server
	fcmFakeOnce sync.Once
	fcmFake     *fakefcm.Server
)

// sharedFCMFake is one fake FCM for these tests and the server process,
// never closed before the binary ends; tests tell their messages apart by
// their devices' tokens, which each test makes.
func sharedFCMFake() *fakefcm.Server {
	fcmFakeOnce.Do(func() { fcmFake = fakefcm.New() })
	return fcmFake
}

// sharedHMSFake is one fake 100ms for these tests, never closed before the
// binary ends: its ids count from 1, so a fake per test would hand the
// same room id to two appointments, which the store rightly refuses.
func sharedHMSFake() *fake100ms.Server {
	hmsFakeOnce.Do(func() { hmsFake = fake100ms.New(e2eSecret) })
	return hmsFake
}

// call posts a callable request as the Firebase SDKs do.
func (h *hmsEnv) call(t *testing.T, function string, user e2eUser, data map[string]any) (httpAnswer, callableAnswer) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"data": data})
	ans, out := callAt(t, h.url+"/"+function, map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + user.idToken,
	}, string(body))
	if u, _ := out.Result["url"].(string); u != "" {
		h.e.remember(u) // a presigned link must never reach a log
	}
	if tok, _ := out.Result["token"].(string); tok != "" {
		h.e.remember(tok)
	}
	return ans, out
}

// consultation seeds an appointment open now, with a doctor, a client and
// a stranger signed up.
func (h *hmsEnv) consultation(t *testing.T) (appointmentID string, doctor, client, stranger e2eUser) {
	t.Helper()
	doctor, client, stranger = h.e.signUp(t, "doctor"), h.e.signUp(t, "client"), h.e.signUp(t, "stranger")
	appointmentID = "appt-" + uuid.NewString()[:12]
	now := time.Now()
	h.e.seedAppointment(t, appointmentID, map[string]any{
		"doctorId": doctor.uid, "clientId": client.uid, "startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour),
	})
	return appointmentID, doctor, client, stranger
}

// room has hmsToken create the appointment's room and returns its id.
func (h *hmsEnv) room(t *testing.T, appointmentID string, user e2eUser) string {
	t.Helper()
	ans, out := h.call(t, "hmsToken", user, map[string]any{"appointmentId": appointmentID})
	roomID, _ := out.Result["roomId"].(string)
	if ans.code != http.StatusOK || roomID == "" {
		t.Fatalf("hmsToken: %d %s", ans.code, ans.body)
	}
	return roomID
}

// event posts one webhook event as 100ms would.
func (h *hmsEnv) event(t *testing.T, typ, roomID string, at time.Time, data map[string]any) []byte {
	t.Helper()
	data["room_id"] = roomID
	body, _ := json.Marshal(map[string]any{"version": "2.0", "id": "ev-" + uuid.NewString(), "type": typ,
		"timestamp": at.UTC().Format(time.RFC3339Nano), "data": data})
	ans := callRaw(t, h.url+"/hmssWebhook", body)
	if ans != http.StatusOK {
		t.Fatalf("webhook %s: %d", typ, ans)
	}
	return body
}

func callRaw(t *testing.T, url string, body []byte) int {
	t.Helper()
	return postAt(t, url, map[string]string{"Content-Type": "application/json", "X-Webhook-Secret": e2eWebhookSecret}, body).code
}

// postAt posts body to url with the given headers (a sweep may take a
// minute or more: the deadline is generous).
func postAt(t *testing.T, url string, header map[string]string, body []byte) httpAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpAnswer{code: resp.StatusCode, header: resp.Header, body: b}
}

// TestE2EEndCall: hmsEndCall for doctor, client, stranger, before there is
// a room, while live (with lock), repeated, and with 100ms down. Planted
// bugs caught: a host check that lets the client end the call (HOST_ONLY
// row), recording endedBy before 100ms ended the room (NOT_LIVE rows leave
// an endedBy), and sending lock: false whatever was asked (fake's Ends).
func TestE2EEndCall(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	appt, doctor, client, stranger := h.consultation(t)
	end := func(u e2eUser, id string, lock bool) (httpAnswer, callableAnswer) {
		return h.call(t, "hmsEndCall", u, map[string]any{"appointmentId": id, "lock": lock})
	}

	ans, out := end(doctor, appt, false)
	wantReason(t, "no room yet", ans, out, 400, "FAILED_PRECONDITION", reasonNotLive)
	roomID := h.room(t, appt, client)
	ans, out = end(doctor, appt, false)
	wantReason(t, "room but no session", ans, out, 400, "FAILED_PRECONDITION", reasonNotLive)
	if d := h.e.doc(t, "calls/"+appt); d["endedBy"] != nil {
		t.Errorf("endedBy recorded though nothing was ended: %v", d["endedBy"])
	}

	sid := h.fake.AddSession(fake100ms.Session{RoomID: roomID, Active: true, CreatedAt: time.Now().Add(-time.Minute),
		Peers: []fake100ms.Peer{{ID: "p-doc", UserID: doctor.uid, Role: "host", JoinedAt: time.Now().Add(-time.Minute)},
			{ID: "p-cli", UserID: client.uid, Role: "guest", JoinedAt: time.Now().Add(-time.Minute)}}})
	ans, out = end(client, appt, false)
	wantReason(t, "client", ans, out, 403, "PERMISSION_DENIED", reasonHostOnly)
	ans, out = end(stranger, appt, false)
	wantReason(t, "stranger", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	ans, out = end(doctor, "appt-does-not-exist-"+uuid.NewString()[:8], false)
	wantReason(t, "no such appointment", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	ans, out = h.call(t, "hmsEndCall", doctor, map[string]any{})
	wantReason(t, "no appointmentId", ans, out, 400, "INVALID_ARGUMENT", reasonNoAppointmentID)
	endsOf := func(room string) (out []fake100ms.EndRequest) {
		for _, e := range h.fake.Ends() {
			if e.RoomID == room {
				out = append(out, e)
			}
		}
		return out
	}
	if n := len(endsOf(roomID)); n != 0 {
		t.Fatalf("%d end-room requests from refused calls", n)
	}

	h.fake.SetDown(true)
	ans, out = end(doctor, appt, true)
	h.fake.SetDown(false)
	wantReason(t, "100ms down", ans, out, 503, "UNAVAILABLE", reasonVideoUnavailable)

	before := time.Now()
	ans, out = end(doctor, appt, true)
	if ans.code != 200 || out.Result["ended"] != true {
		t.Fatalf("doctor ends: %d %s", ans.code, ans.body)
	}
	ends := endsOf(roomID)
	if len(ends) != 1 || ends[0].RoomID != roomID || ends[0].SessionID != sid || !ends[0].Lock || ends[0].Reason == "" {
		t.Errorf("end-room requests: %+v", ends)
	}
	if r, _ := h.fake.Room(roomID); r.Enabled {
		t.Error("lock: the room is still enabled")
	}
	eb, _ := h.e.doc(t, "calls/"+appt)["endedBy"].(map[string]any)
	if eb["uid"] != doctor.uid || eb["role"] != "host" || eb["lock"] != true {
		t.Errorf("endedBy %v", eb)
	}
	if at, _ := eb["at"].(time.Time); at.Before(before.Add(-time.Second)) {
		t.Errorf("endedBy.at %v", eb["at"])
	}

	// Repeating it is harmless: nothing more is ended, the record stands.
	ans, out = end(doctor, appt, false)
	wantReason(t, "repeat", ans, out, 400, "FAILED_PRECONDITION", reasonNotLive)
	if n := len(endsOf(roomID)); n != 1 {
		t.Errorf("%d end-room requests after a repeat; want 1", n)
	}
	if eb2, _ := h.e.doc(t, "calls/"+appt)["endedBy"].(map[string]any); fmt.Sprint(eb2) != fmt.Sprint(eb) {
		t.Errorf("endedBy changed by a refused repeat: %v", eb2)
	}
}
