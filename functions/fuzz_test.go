package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/emulatortest"
)

// FuzzDecodeCallable feeds the callable request decoder random methods,
// content types and bodies. It must never panic; every refusal is
// INVALID_ARGUMENT with a message; and it succeeds only for a POST with a
// JSON content type whose body, at most maxCallableBody bytes, is a JSON
// object whose only member is "data" (exactly that key), an object or null.
func FuzzDecodeCallable(f *testing.F) {
	for _, s := range []struct{ method, contentType, body string }{
		{"POST", "application/json", `{"data":{"appointmentId":"appt-1"}}`},
		{"POST", "application/json; charset=utf-8", `{"data":{}}`},
		{"POST", "Application/JSON", `{"data":{"appointmentId":null},"extra":[1,2]}`},
		{"POST", "application/json", `{"data":null}`},
		{"POST", "application/json", `{"data":"x"}`},
		{"POST", "application/json", `{"data":{"appointmentId":7}}`},
		{"POST", "application/json", `[]`},
		{"POST", "application/json", `{"data":{}} trailing`},
		{"POST", "text/plain", `{"data":{}}`},
		{"POST", "", `{"data":{}}`},
		{"POST", "application/json;;", `{"data":{}}`},
		{"GET", "application/json", ``},
		{"OPTIONS", "application/json", `{"data":{}}`},
		// Regression: encoding/json matches struct fields case-insensitively,
		// so the decoder accepted "Data" and "DATA" as "data".
		{"POST", "application/json", `{"Data":{"appointmentId":"appt-1"}}`},
		{"POST", "application/json", `{"data":null,"DATA":{}}`},
	} {
		f.Add(s.method, s.contentType, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, contentType string, body []byte) {
		req, err := http.NewRequest(method, "/hmsToken", bytes.NewReader(body))
		if err != nil {
			return // not a method net/http can send
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		var data tokenRequest
		// The two steps every callable runs: the protocol, then its data.
		raw, cerr := readCallable(httptest.NewRecorder(), req)
		if cerr == nil {
			cerr = decodeData(raw, &data)
		}
		if cerr != nil {
			if cerr.status != statusInvalidArgument || cerr.message == "" {
				t.Fatalf("refusal %v: want INVALID_ARGUMENT with a message", cerr)
			}
			return
		}
		if method != http.MethodPost {
			t.Fatalf("accepted method %q", method)
		}
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
			t.Fatalf("accepted content type %q", contentType)
		}
		if len(body) > maxCallableBody {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		var envelope map[string]json.RawMessage
		if err := json.Unmarshal(body, &envelope); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
		// As Firebase's isValidRequest: "data" present (null counts) and
		// no other key; what "data" must hold is the handler's to check.
		raw, ok := envelope["data"]
		if !ok || len(envelope) != 1 {
			t.Fatalf(`accepted a body without "data" or with another key: %q`, body)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatalf(`accepted a body whose "data" is neither an object nor null: %q`, body)
		}
	})
}

// The webhook fuzz target's settings: its own project in the shared
// Firestore emulator, one secret, and a 100ms that refuses connections
// (reconciliation fails at once and must never fail the webhook). The
// sample events' rooms belong to appointments, so that fuzzed events reach
// every merge rule, not only the raw store of an unknown room.
const (
	fuzzProject = "demo-fuzz-webhook"
	fuzzSecret  = "fuzz-webhook-secret-9c1e"
)

// FuzzWebhookHandler drives the whole webhook handler, backed by the real
// Firestore emulator, with random methods, secret headers, content types
// and bodies. It must never panic, never answer 2xx without the configured
// secret in the configured header, never answer 2xx for a body that
// hms.ParseEvent rejects, and never store a request it refused: after a
// non-2xx answer no hmsEvents document holds that body, and none that did
// not exist before was created; and never answer 503 while Firestore is up
// (issue 11: an authentic event that fails on every delivery is lost).
// Its oracle of a well-formed envelope is its own (wellFormed), not the
// handler's parser.
func FuzzWebhookHandler(f *testing.F) {
	emulatortest.Firestore(f)
	// A project per process: with -fuzz, worker processes share the
	// emulator, and one worker storing an event must not look, to another
	// that was refused the same event at the same moment, like a refused
	// request that was stored.
	project := fmt.Sprintf("%s-%d", fuzzProject, os.Getpid())
	a := newApp(testEnv(map[string]string{
		envProject:       project,
		envWebhookSecret: fuzzSecret,
		envAPIBase:       "http://127.0.0.1:1",
	}), newLogger(io.Discard))
	h := a.webhookHandler()
	fs, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fs.Close() })
	ctx := context.Background()
	for appt, room := range map[string]string{"appt-0001": "6564a0a5a2ad2e4f1e0d0001", "appt-0002": "6564a0a5a2ad2e4f1e0d0002"} {
		for path, doc := range map[string]map[string]any{
			"appointments/" + appt: {"doctorId": "doc", "clientId": "cli"},
			"calls/" + appt:        {"appointmentId": appt, "roomId": room, "status": "idle"},
			"hmsRooms/" + room:     {"appointmentId": appt},
		} {
			if _, err := fs.Doc(path).Set(ctx, doc); err != nil {
				f.Fatal(err)
			}
		}
	}

	// Seeds: every reference event, and the malformed shapes.
	var samples [][]byte
	err = filepath.WalkDir(filepath.Join("..", "hms", "testdata"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil {
			samples = append(samples, b)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		``, `{`, `null`, `[]`, `{}`, `{"id":"e"}`, `{"id":"e","type":"x"}`,
		`{"id":"f1","type":"session.open.success","timestamp":"yesterday"}`,
		`{"id":"f2","type":"peer.join.success","timestamp":"2024-01-01T00:00:00Z","data":{"joined_at":5}}`,
		`{"id":"a/b","type":"peer.join.success","timestamp":"2024-01-01T00:00:00Z"}`,
		`{"id":"__x__","type":"x","timestamp":"2024-01-01T00:00:00Z"}`,
		`{"id":7,"type":"x","timestamp":"2024-01-01T00:00:00Z"}`,
	} {
		samples = append(samples, []byte(s))
	}
	// Issue 11's ways to wedge a call: ids that cannot name a document or
	// a map key, ids of 1,495 bytes, free text of 300 KB.
	long := strings.Repeat("x", 1495)
	for i, d := range []string{
		`"peer_id":"x/y","session_id":"s1"`, `"peer_id":"__x__","session_id":"s1"`,
		`"peer_id":"` + long + `","session_id":"s1"`, `"beam_id":"` + long + `","session_id":"s1"`,
		`"session_id":"__s__"`, `"session_id":"a/b"`, `"transcription_id":"t/1","session_id":"s1"`,
		`"peer_id":"p","session_id":"s1","error_message":"` + strings.Repeat("e", 300000) + `"`,
	} {
		for _, typ := range []string{"peer.join.success", "peer.leave.success", "beam.started.success", "session.open.success",
			"session.close.success", "transcription.success", "peer.join.failure", "role.change.success"} {
			samples = append(samples, fmt.Appendf(nil, `{"id":"w%d-%s","type":%q,"timestamp":"2024-01-01T00:00:00Z","data":{"room_id":"6564a0a5a2ad2e4f1e0d0002",%s}}`, i, typ, typ, d))
		}
	}
	samples = append(samples, fmt.Appendf(nil, `{"id":%q,"type":"session.open.success","timestamp":"2024-01-01T00:00:00Z","data":{}}`, long))
	for i, b := range samples {
		f.Add("POST", "X-Webhook-Secret", "", true, "application/json", b)
		if i%4 == 0 {
			// Refused requests carry ids no accepted seed stores, so that
			// a refused request that was stored anyway is seen.
			r := withID(b, fmt.Sprintf("refused-%d", i))
			f.Add("POST", "X-Webhook-Secret", fuzzSecret+" ", false, "text/plain", r)
			f.Add("PUT", "X-Webhook-Secret", "", true, "", r)
			f.Add("POST", "Authorization", fuzzSecret, false, "application/json", r)
		}
	}

	f.Fuzz(func(t *testing.T, method, header, value string, useSecret bool, contentType string, body []byte) {
		req, err := http.NewRequest(method, "/hmssWebhook", bytes.NewReader(body))
		if err != nil {
			return // not a method net/http can send
		}
		if useSecret {
			req.Header.Set("X-Webhook-Secret", fuzzSecret)
		} else {
			req.Header.Set(header, value)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		id := eventIDOf(body)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		existed := id != "" && eventExists(t, ctx, fs, id)

		// The handler bounds every Firestore call (8 s); far longer means a
		// hang, which the fuzzer would otherwise only see as a stall.
		rec := httptest.NewRecorder()
		began := time.Now()
		h(rec, req.WithContext(ctx))
		if took := time.Since(began); took > 20*time.Second {
			t.Fatalf("the handler took %s (answer %d %s)", took, rec.Code, rec.Body)
		}

		var ans webhookAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Status == "" {
			t.Fatalf("answer %d %q is not the webhook's JSON", rec.Code, rec.Body)
		}
		ok := rec.Code/100 == 2
		if ok && req.Header.Get("X-Webhook-Secret") != fuzzSecret {
			t.Fatalf("answered %d without the secret (header %q)", rec.Code, header)
		}
		if ok && method != http.MethodPost {
			t.Fatalf("answered %d to %s", rec.Code, method)
		}
		wellFormed := wellFormed(body)
		if ok && !wellFormed {
			t.Fatalf("answered %d to a malformed envelope: %q", rec.Code, body)
		}
		// The emulator is up: a 503 would make 100ms retry an event that
		// can never be stored.
		if rec.Code == http.StatusServiceUnavailable {
			t.Fatalf("answered 503 with Firestore up: %s for %q", rec.Body, body)
		}
		if ok || id == "" || !validDocID(id) {
			return
		}
		snap, err := fs.Collection("hmsEvents").Doc(id).Get(ctx)
		switch {
		case missing(snap):
			return
		case err != nil:
			t.Fatalf("read hmsEvents/%s: %v", id, err)
		case !existed:
			t.Fatalf("answered %d but created hmsEvents/%s", rec.Code, id)
		}
		if raw, _ := snap.Data()["raw"].(string); !wellFormed && raw == string(body) {
			t.Fatalf("hmsEvents/%s holds a malformed envelope: %q", id, body)
		}
	})
}

// eventIDOf returns the body's "id" when it is a JSON object with a string
// id: the only document a request could have stored.
func eventIDOf(body []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &v) != nil {
		// The handler never stores what does not decode; an id-like
		// prefix still names nothing it could have written.
		return ""
	}
	var id string
	if json.Unmarshal(v.ID, &id) != nil {
		return ""
	}
	return id
}

// validDocID reports whether id can name a Firestore document, so that
// reading it is meaningful.
func validDocID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.Contains(id, "/") && len(id) <= 1500 &&
		!(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"))
}

func eventExists(t *testing.T, ctx context.Context, fs *firestore.Client, id string) bool {
	t.Helper()
	if !validDocID(id) {
		return false
	}
	snap, err := fs.Collection("hmsEvents").Doc(id).Get(ctx)
	switch {
	case err == nil:
		return true
	case missing(snap):
		return false
	}
	t.Fatalf("read hmsEvents/%s: %v", id, err)
	return false
}

// wellFormed is the fuzz oracle's own reading of docs/webhook.md's envelope,
// independent of hms.ParseEvent: a JSON object with a non-empty string id,
// a non-empty string type, and an RFC 3339 timestamp (not year 1).
func wellFormed(body []byte) bool {
	var v map[string]json.RawMessage
	if json.Unmarshal(body, &v) != nil || v == nil {
		return false
	}
	str := func(k string) string {
		var s string
		if json.Unmarshal(v[k], &s) != nil {
			return ""
		}
		return s
	}
	ts, err := time.Parse(time.RFC3339Nano, str("timestamp"))
	return str("id") != "" && str("type") != "" && err == nil && !ts.IsZero()
}

// withID returns body with its "id" replaced, or body itself when it is not
// a JSON object.
func withID(body []byte, id string) []byte {
	var v map[string]json.RawMessage
	if json.Unmarshal(body, &v) != nil || v == nil {
		return body
	}
	v["id"], _ = json.Marshal(id)
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}
