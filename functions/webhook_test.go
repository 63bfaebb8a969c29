package functions

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/emulatortest"
	hms100 "github.com/telemed/videocalls/internal/fake100ms"
)

// Webhook behaviour of issue 11 through the real handler, in process, on
// the Firestore emulator, with the one fake 100ms (internal/fake100ms).

type webhookRig struct {
	app     *app
	logs    *bytes.Buffer
	fs      *firestore.Client
	fake    *hms100.Server
	project string
}

// newWebhookRig makes an app for a wiped project of its own, with the
// appointment appt-w whose room is room-w (as hmsToken records it).
func newWebhookRig(t *testing.T, project string, env map[string]string) *webhookRig {
	t.Helper()
	emulatortest.Firestore(t)
	emulatortest.Wipe(t, project)
	fake := hms100.New(testSecret)
	t.Cleanup(fake.Close)
	env = merge(map[string]string{envProject: project, envAPIBase: fake.URL}, env)
	a, logs := newTestApp(t, env)
	fs, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	ctx := context.Background()
	for path, doc := range map[string]map[string]any{
		"appointments/appt-w": {"doctorId": "doc", "clientId": "cli"},
		"calls/appt-w":        {"appointmentId": "appt-w", "roomId": "room-w", "status": "idle"},
		"hmsRooms/room-w":     {"appointmentId": "appt-w"},
		"appointments/appt-x": {"doctorId": "doc2", "clientId": "cli2"},
		"calls/appt-x":        {"appointmentId": "appt-x", "roomId": "room-x", "status": "idle"},
		"hmsRooms/room-x":     {"appointmentId": "appt-x"},
	} {
		if _, err := fs.Doc(path).Set(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	return &webhookRig{app: a, logs: logs, fs: fs, fake: fake, project: project}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// post sends body to the webhook with the given headers.
func (r *webhookRig) post(t *testing.T, body string, headers map[string]string) (*httptest.ResponseRecorder, webhookAnswer) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	r.app.webhookHandler()(rec, req)
	var ans webhookAnswer
	_ = json.Unmarshal(rec.Body.Bytes(), &ans)
	return rec, ans
}

func (r *webhookRig) exists(t *testing.T, path string) (map[string]any, bool) {
	t.Helper()
	snap, err := r.fs.Doc(path).Get(context.Background())
	if err != nil {
		return nil, false
	}
	return snap.Data(), true
}

func hmacHex(body, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func openEvent(id string) string {
	return fmt.Sprintf(`{"version":"2.0","id":%q,"type":"session.open.success","timestamp":"2026-11-23T09:00:00Z","data":{"room_id":"room-w","session_id":"s1","session_started_at":"2026-11-23T09:00:00Z"}}`, id)
}

// TestWebhookSignature: with HMS_WEBHOOK_SIGNING_SECRET set (HIPAA
// workspaces), x-100ms-signature must be the hex HMAC-SHA256 of the raw body
// under one of its keys; missing or wrong is 401 and stores nothing; the
// header secret becomes optional, and is still checked when set.
func TestWebhookSignature(t *testing.T) {
	t.Run("signature only", func(t *testing.T) {
		r := newWebhookRig(t, "demo-wh-sig", map[string]string{envWebhookSecret: "", envSigningSecret: "old-key, new-key"})
		for i, tc := range []struct {
			name string
			sig  func(body string) string
			want int
		}{
			{"missing", func(string) string { return "" }, http.StatusUnauthorized},
			{"wrong key", func(b string) string { return hmacHex(b, "other") }, http.StatusUnauthorized},
			{"of another body", func(b string) string { return hmacHex(b+" ", "new-key") }, http.StatusUnauthorized},
			{"the key itself", func(string) string { return "new-key" }, http.StatusUnauthorized},
			{"new key", func(b string) string { return hmacHex(b, "new-key") }, http.StatusOK},
			{"old key, during a rotation", func(b string) string { return hmacHex(b, "old-key") }, http.StatusOK},
		} {
			id := fmt.Sprintf("ev-sig-%d", i)
			body := openEvent(id)
			rec, ans := r.post(t, body, map[string]string{"X-100ms-Signature": tc.sig(body)})
			if rec.Code != tc.want {
				t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
			}
			_, stored := r.exists(t, "hmsEvents/"+id)
			if stored != (tc.want == http.StatusOK) {
				t.Errorf("%s: stored = %v", tc.name, stored)
			}
			if rec.Code == http.StatusUnauthorized && strings.Contains(strings.ToLower(ans.Error), "x-100ms") {
				t.Errorf("%s: the answer names the header: %q", tc.name, ans.Error)
			}
		}
	})
	t.Run("signature and header secret", func(t *testing.T) {
		r := newWebhookRig(t, "demo-wh-sig2", map[string]string{envSigningSecret: "key"})
		body := openEvent("ev-both")
		if rec, _ := r.post(t, body, map[string]string{"X-100ms-Signature": hmacHex(body, "key")}); rec.Code != http.StatusUnauthorized {
			t.Errorf("signed but no header secret: %d, want 401", rec.Code)
		}
		if rec, _ := r.post(t, body, map[string]string{"X-Webhook-Secret": testWebhookSecret}); rec.Code != http.StatusUnauthorized {
			t.Errorf("header secret but no signature: %d, want 401", rec.Code)
		}
		rec, _ := r.post(t, body, map[string]string{"X-Webhook-Secret": testWebhookSecret, "X-100ms-Signature": hmacHex(body, "key")})
		if rec.Code != http.StatusOK {
			t.Errorf("both: %d %s, want 200", rec.Code, rec.Body)
		}
	})
}

// TestWebhookUnauthorizedAnswerHidesHeaderName: the 401 does not tell a
// prober which header the deployment expects.
func TestWebhookUnauthorizedAnswerHidesHeaderName(t *testing.T) {
	a, _ := newTestApp(t, map[string]string{envWebhookHeader: "X-Clinic-Hook-7f3a"})
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(openEvent("e")))
	rec := httptest.NewRecorder()
	a.webhookHandler()(rec, req)
	if rec.Code != http.StatusUnauthorized || strings.Contains(strings.ToLower(rec.Body.String()), "clinic-hook") {
		t.Errorf("%d %s: want 401 without the header's name", rec.Code, rec.Body)
	}
}

// TestWebhookUnapplicableEventIs200: an authentic event whose ids cannot
// name a document is kept raw (applied false) and answered 200, so that
// 100ms does not retry it in vain and then drop it; the one log line says
// why at ERROR.
func TestWebhookUnapplicableEventIs200(t *testing.T) {
	r := newWebhookRig(t, "demo-wh-raw", nil)
	body := `{"version":"2.0","id":"ev-raw","type":"peer.join.success","timestamp":"2026-11-23T09:00:00Z","data":{"room_id":"room-w","session_id":"s1","peer_id":"a/b/c","role":"host"}}`
	for i := range 2 {
		rec, ans := r.post(t, body, map[string]string{"X-Webhook-Secret": testWebhookSecret})
		if rec.Code != http.StatusOK {
			t.Fatalf("delivery %d: %d %s, want 200", i, rec.Code, rec.Body)
		}
		if i == 1 && ans.Status != "duplicate" {
			t.Errorf("redelivery: %+v, want duplicate", ans)
		}
	}
	doc, ok := r.exists(t, "hmsEvents/ev-raw")
	if !ok || doc["applied"] != false || doc["raw"] != body {
		t.Fatalf("hmsEvents/ev-raw = %v, want the raw body with applied false", doc)
	}
	first := strings.SplitN(r.logs.String(), "\n", 2)[0]
	var line map[string]any
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("log line %q: %v", first, err)
	}
	if line["severity"] != "ERROR" || !strings.Contains(fmt.Sprint(line["notApplied"]), "peer id") {
		t.Errorf("log line %v, want ERROR naming why", line)
	}
}

// TestWebhookReconcilesOncePerSessionOfItsRoom counts the GETs 100ms sees:
// twenty redeliveries of a close cost one GET /sessions/{id}, and a close
// naming another room's session id writes none of that session's
// participants into this call.
func TestWebhookReconcilesOncePerSessionOfItsRoom(t *testing.T) {
	r := newWebhookRig(t, "demo-wh-rec", nil)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	r.fake.AddSession(hms100.Session{ID: "s1", RoomID: "room-w", Peers: []hms100.Peer{
		{ID: "p-lost", Name: "Pat", Role: "guest", UserID: "cli", JoinedAt: at, LeftAt: at.Add(time.Hour)},
	}})
	r.fake.AddSession(hms100.Session{ID: "s-of-x", RoomID: "room-x", Peers: []hms100.Peer{
		{ID: "p-x", Name: "Someone Else", Role: "guest", UserID: "cli2", JoinedAt: at, LeftAt: at.Add(time.Hour)},
	}})
	closeOf := func(id, room, session string) string {
		return fmt.Sprintf(`{"version":"2.0","id":%q,"type":"session.close.success","timestamp":"2026-11-23T10:00:00Z","data":{"room_id":%q,"session_id":%q,"session_started_at":"2026-11-23T09:00:00Z"}}`, id, room, session)
	}
	hdr := map[string]string{"X-Webhook-Secret": testWebhookSecret}
	for i := range 20 {
		if rec, _ := r.post(t, closeOf("ev-close", "room-w", "s1"), hdr); rec.Code != http.StatusOK {
			t.Fatalf("delivery %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	// The same close, new ids (100ms's replay): the session is reconciled already.
	for i := range 3 {
		r.post(t, closeOf(fmt.Sprintf("ev-close-replay-%d", i), "room-w", "s1"), hdr)
	}
	if n := r.fake.SessionGets("s1"); n != 1 {
		t.Errorf("%d GET /sessions/s1 for 23 deliveries, want 1", n)
	}
	doc, _ := r.exists(t, "calls/appt-w/sessions/s1")
	if peers, _ := doc["peers"].(map[string]any); peers["p-lost"] == nil {
		t.Errorf("session s1 = %v, want the peer only 100ms knew of", doc)
	}

	// Room w's close naming room x's session.
	if rec, _ := r.post(t, closeOf("ev-close-cross", "room-w", "s-of-x"), hdr); rec.Code != http.StatusOK {
		t.Fatalf("cross-room close: %d %s", rec.Code, rec.Body)
	}
	doc, _ = r.exists(t, "calls/appt-w/sessions/s-of-x")
	if peers, _ := doc["peers"].(map[string]any); len(peers) != 0 {
		t.Errorf("room w's session document holds room x's participants: %v", peers)
	}
}
