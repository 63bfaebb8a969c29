package functions

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// These tests cover what the handlers decide before they touch Firestore,
// Firebase Auth or 100ms; the end-to-end tests cover the rest on emulators.

const (
	testSecret        = "test-app-secret-0123456789abcdef"
	testWebhookSecret = "whsec-correct-horse-battery"
)

func testEnv(overrides map[string]string) func(string) string {
	env := map[string]string{
		envProject:       "demo-videocalls",
		envAccessKey:     "access-key-1",
		envSecret:        testSecret,
		envTemplateID:    "template-1",
		envWebhookSecret: "old-secret, " + testWebhookSecret,
		envAPIBase:       "http://127.0.0.1:1",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func newTestApp(t *testing.T, overrides map[string]string) (*app, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	return newApp(testEnv(overrides), newLogger(&logs)), &logs
}

type callableAnswer struct {
	Result map[string]any `json:"result"`
	Error  *struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) callableAnswer {
	t.Helper()
	var a callableAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, rec.Body.String())
	}
	return a
}

func TestTokenRefusesBadRequestsBeforeAnyBackend(t *testing.T) {
	big := `{"data":{"appointmentId":"` + strings.Repeat("a", maxCallableBody) + `"}}`
	cases := []struct {
		name        string
		method      string
		contentType string
		auth        string
		body        string
		wantCode    int
		wantStatus  string
		wantMessage string
	}{
		{"GET", http.MethodGet, "application/json", "", "", 400, "INVALID_ARGUMENT", "POST"},
		{"PUT", http.MethodPut, "application/json", "", `{"data":{}}`, 400, "INVALID_ARGUMENT", "POST"},
		{"text body", http.MethodPost, "text/plain", "", `{"data":{"appointmentId":"a"}}`, 400, "INVALID_ARGUMENT", "Content-Type"},
		{"no content type", http.MethodPost, "", "", `{"data":{"appointmentId":"a"}}`, 400, "INVALID_ARGUMENT", "Content-Type"},
		{"malformed JSON", http.MethodPost, "application/json", "", `{"data":`, 400, "INVALID_ARGUMENT", "JSON"},
		{"oversized", http.MethodPost, "application/json", "", big, 400, "INVALID_ARGUMENT", "larger"},
		{"no data", http.MethodPost, "application/json", "", `{"appointmentId":"a"}`, 400, "INVALID_ARGUMENT", `"data"`},
		{"null data", http.MethodPost, "application/json", "", `{"data":null}`, 400, "INVALID_ARGUMENT", `"data"`},
		{"data not object", http.MethodPost, "application/json", "", `{"data":"a"}`, 400, "INVALID_ARGUMENT", `"data"`},
		{"appointmentId not string", http.MethodPost, "application/json", "", `{"data":{"appointmentId":7}}`, 400, "INVALID_ARGUMENT", `"data"`},
		{"missing appointmentId", http.MethodPost, "application/json", "", `{"data":{}}`, 400, "INVALID_ARGUMENT", "appointmentId"},
		{"blank appointmentId", http.MethodPost, "application/json; charset=utf-8", "", `{"data":{"appointmentId":"  "}}`, 400, "INVALID_ARGUMENT", "appointmentId"},
		{"no ID token", http.MethodPost, "application/json", "", `{"data":{"appointmentId":"a"}}`, 401, "UNAUTHENTICATED", "Sign in"},
		{"not bearer", http.MethodPost, "application/json", "Basic abc", `{"data":{"appointmentId":"a"}}`, 401, "UNAUTHENTICATED", "Sign in"},
		{"empty bearer", http.MethodPost, "application/json", "Bearer ", `{"data":{"appointmentId":"a"}}`, 401, "UNAUTHENTICATED", "Sign in"},
	}
	a, _ := newTestApp(t, nil)
	h := a.tokenHandler()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/hmsToken", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			ans := decodeAnswer(t, rec)
			if ans.Error == nil || ans.Error.Status != tc.wantStatus {
				t.Fatalf("answer = %s, want status %s", rec.Body, tc.wantStatus)
			}
			if !strings.Contains(ans.Error.Message, tc.wantMessage) {
				t.Errorf("message %q does not mention %q", ans.Error.Message, tc.wantMessage)
			}
			if ans.Result != nil {
				t.Errorf("an error answer carries a result: %s", rec.Body)
			}
		})
	}
}

func TestTokenCORS(t *testing.T) {
	a, _ := newTestApp(t, nil)
	h := a.tokenHandler()

	req := httptest.NewRequest(http.MethodOptions, "/hmsToken", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	rec := httptest.NewRecorder()
	h(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight code = %d, want 204", rec.Code)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":  "https://app.example.com",
		"Access-Control-Allow-Methods": "POST, OPTIONS",
		"Access-Control-Max-Age":       "3600",
		"Vary":                         "Origin",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"authorization", "content-type", "x-firebase-appcheck", "firebase-instance-id-token", "x-firebase-gmpid"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, h)
		}
	}

	// Answers other than the preflight carry the origin too, or the
	// browser hides them from the app.
	req = httptest.NewRequest(http.MethodPost, "/hmsToken", strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://app.example.com")
	rec = httptest.NewRecorder()
	h(rec, req)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("error answer Access-Control-Allow-Origin = %q", got)
	}
}

func TestMisconfiguredFunctionsNameTheVariableNotItsValue(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]string
		handler   func(*app) http.HandlerFunc
		wantVar   string
	}{
		{"token without secret", map[string]string{envSecret: ""}, (*app).tokenHandler, envSecret},
		{"token without template", map[string]string{envTemplateID: ""}, (*app).tokenHandler, envTemplateID},
		{"token without project", map[string]string{envProject: ""}, (*app).tokenHandler, envProject},
		{"token with bad TTL", map[string]string{envTokenTTL: "forever"}, (*app).tokenHandler, envTokenTTL},
		{"token with TTL over 24h", map[string]string{envTokenTTL: "25h"}, (*app).tokenHandler, envTokenTTL},
		{"token with bad JOIN_EARLY", map[string]string{envJoinEarly: "-5m"}, (*app).tokenHandler, envJoinEarly},
		{"webhook without secret", map[string]string{envWebhookSecret: " , "}, (*app).webhookHandler, envWebhookSecret},
		{"webhook without access key", map[string]string{envAccessKey: ""}, (*app).webhookHandler, envAccessKey},
		{"emulator in a deployment", map[string]string{envCloudRunName: "hms-token", envAuthEmu: "127.0.0.1:9099"}, (*app).tokenHandler, envAuthEmu},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, logs := newTestApp(t, tc.overrides)
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"data":{"appointmentId":"a"}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Webhook-Secret", testWebhookSecret)
			rec := httptest.NewRecorder()
			tc.handler(a)(rec, req)
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("code = %d, want 500; body %s", rec.Code, rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tc.wantVar) {
				t.Errorf("answer %s does not name %s", rec.Body, tc.wantVar)
			}
			for _, secret := range []string{testSecret, testWebhookSecret} {
				if strings.Contains(rec.Body.String(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a secret leaked into the answer or the log")
				}
			}
		})
	}
}

func TestWebhookRefusesBeforeParsing(t *testing.T) {
	valid := `{"version":"2.0","id":"e1","timestamp":"2024-01-01T00:00:00Z","type":"session.open.success","data":{}}`
	cases := []struct {
		name     string
		method   string
		header   string
		secret   string
		body     string
		wantCode int
		wantText string
	}{
		{"GET", http.MethodGet, "X-Webhook-Secret", testWebhookSecret, "", 405, "POST"},
		{"PUT", http.MethodPut, "X-Webhook-Secret", testWebhookSecret, valid, 405, "POST"},
		{"no secret", http.MethodPost, "", "", valid, 401, "X-Webhook-Secret"},
		{"wrong secret", http.MethodPost, "X-Webhook-Secret", "nope", valid, 401, "X-Webhook-Secret"},
		{"secret prefix", http.MethodPost, "X-Webhook-Secret", testWebhookSecret[:5], valid, 401, "X-Webhook-Secret"},
		{"secret in another header", http.MethodPost, "X-Other", testWebhookSecret, valid, 401, "X-Webhook-Secret"},
		{"huge body, bad secret", http.MethodPost, "X-Webhook-Secret", "nope", strings.Repeat("x", maxWebhookBody+1), 401, "X-Webhook-Secret"},
		{"huge body", http.MethodPost, "X-Webhook-Secret", testWebhookSecret, strings.Repeat("x", maxWebhookBody+1), 413, "larger"},
		{"not JSON", http.MethodPost, "X-Webhook-Secret", testWebhookSecret, `{"id":`, 400, "invalid JSON"},
		{"no id", http.MethodPost, "X-Webhook-Secret", testWebhookSecret, `{"type":"peer.join.success","timestamp":"2024-01-01T00:00:00Z"}`, 400, "id"},
		{"no type", http.MethodPost, "X-Webhook-Secret", testWebhookSecret, `{"id":"e","timestamp":"2024-01-01T00:00:00Z"}`, 400, "type"},
		{"bad timestamp", http.MethodPost, "X-Webhook-Secret", testWebhookSecret, `{"id":"e","type":"x","timestamp":"yesterday"}`, 400, "timestamp"},
		{"rotated-out secret still accepted", http.MethodPost, "X-Webhook-Secret", "old-secret", `{"id":`, 400, "invalid JSON"},
	}
	a, logs := newTestApp(t, nil)
	h := a.webhookHandler()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/hmssWebhook", strings.NewReader(tc.body))
			if tc.header != "" {
				req.Header.Set(tc.header, tc.secret)
			}
			rec := httptest.NewRecorder()
			h(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantCode == 405 && rec.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", rec.Header().Get("Allow"))
			}
			if !strings.Contains(rec.Body.String(), tc.wantText) {
				t.Errorf("answer %s does not mention %q", rec.Body, tc.wantText)
			}
		})
	}
	if strings.Contains(logs.String(), testWebhookSecret) || strings.Contains(logs.String(), testSecret) {
		t.Errorf("a secret leaked into the log:\n%s", logs)
	}
	if a.store != nil {
		t.Errorf("a refused request opened Firestore")
	}
}

func TestWebhookCustomHeaderName(t *testing.T) {
	a, _ := newTestApp(t, map[string]string{envWebhookHeader: "x-hms-key"})
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{`))
	req.Header.Set("X-Hms-Key", testWebhookSecret)
	rec := httptest.NewRecorder()
	a.webhookHandler()(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("code = %d, want 400 (secret accepted, body refused); body %s", rec.Code, rec.Body)
	}
}

func TestRequestLogShape(t *testing.T) {
	a, logs := newTestApp(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/hmssWebhook", nil)
	req.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	a.webhookHandler()(httptest.NewRecorder(), req)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one log line per request, got %d:\n%s", len(lines), logs)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("log line is not JSON: %v", err)
	}
	if entry["severity"] != "WARNING" {
		t.Errorf("severity = %v, want WARNING for a 405", entry["severity"])
	}
	if msg, _ := entry["message"].(string); !strings.HasPrefix(msg, "hmssWebhook") {
		t.Errorf("message = %q", msg)
	}
	if entry["logging.googleapis.com/trace"] != "projects/demo-videocalls/traces/105445aa7843bc8bf206b12000100000" {
		t.Errorf("trace = %v", entry["logging.googleapis.com/trace"])
	}
	httpReq, _ := entry["httpRequest"].(map[string]any)
	if httpReq["status"] != float64(405) || httpReq["requestMethod"] != "GET" {
		t.Errorf("httpRequest = %v", httpReq)
	}
	if _, ok := entry["level"]; ok {
		t.Errorf("slog's level key is still there: %s", lines[0])
	}
}

func TestRoomName(t *testing.T) {
	cases := []struct{ id, want string }{
		{"appt-42", "demo-x-appt-42"},
		{"A.b:c_d-9", "demo-x-A.b:c_d-9"},
		{strings.Repeat("a", 64), "demo-x-" + strings.Repeat("a", 64)},
	}
	for _, tc := range cases {
		if got := roomName("demo-x", tc.id); got != tc.want {
			t.Errorf("roomName(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
	for _, id := range []string{"has space", "slash/id", "é", strings.Repeat("a", 65)} {
		got := roomName("demo-x", id)
		if !strings.HasPrefix(got, "demo-x-h-") || len(got) != len("demo-x-h-")+32 {
			t.Errorf("roomName(%q) = %q, want a hashed name", id, got)
		}
		if got == roomName("demo-x", id+"x") {
			t.Errorf("hashed names collide")
		}
	}
}
