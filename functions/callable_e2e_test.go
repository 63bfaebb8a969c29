package functions

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/appcheck"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// These tests run a callable in this process, behind a real HTTP server,
// on the same Firestore and Auth emulators as the end-to-end server, with
// what that server cannot have: App Check keys of our own (the Admin SDK's
// appcheck client fetches its JWKS from appcheck.JWKSUrl, a variable its own
// tests point at a test server too) and an Auth that can be taken down.

// appCheckKeys is a JWKS server standing in for
// firebaseappcheck.googleapis.com/v1beta/jwks, and the key that signs the
// tokens it vouches for.
type appCheckKeys struct {
	*httptest.Server
	key *rsa.PrivateKey
	kid string
}

var (
	appCheckOnce   sync.Once
	appCheckServer *appCheckKeys
)

// testAppCheckKeys starts the JWKS server once per test binary and points
// the Admin SDK at it.
func testAppCheckKeys(t *testing.T) *appCheckKeys {
	t.Helper()
	appCheckOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		k := &appCheckKeys{key: key, kid: "test-app-check-key"}
		jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
		k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jwks)
		}))
		appCheckServer = k
	})
	appcheck.JWKSUrl = appCheckServer.URL
	return appCheckServer
}

// token returns an App Check token as Firebase App Check issues them
// (RS256, typ JWT, aud [projects/<number>, projects/<id>], iss
// https://firebaseappcheck.googleapis.com/<number>, sub the app id), for
// project, expiring at exp, signed by key.
func (k *appCheckKeys) token(t *testing.T, key *rsa.PrivateKey, project string, exp time.Time) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": []string{"projects/123456789", "projects/" + project},
		"iss": "https://firebaseappcheck.googleapis.com/123456789",
		"sub": "1:123456789:web:abcdef",
		"iat": now.Add(-time.Minute).Unix(),
		"exp": exp.Unix(),
	})
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authProxy stands between the Admin SDK and the Auth emulator; its mode
// turns it into an Auth that refuses connections, hangs, or answers 403 as
// Google does to a service account without the role.
type authProxy struct {
	*httptest.Server
	mode atomic.Value // "pass", "down", "hang", "forbidden"
}

func newAuthProxy(t *testing.T, emulatorHost string) *authProxy {
	t.Helper()
	target, _ := url.Parse("http://" + emulatorHost)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &authProxy{}
	p.mode.Store("pass")
	quit := make(chan struct{})
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p.mode.Load() {
		case "down":
			// A dropped connection, as from an Auth that is unreachable.
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
		case "hang":
			// Until the client gives up, or the test ends: the Admin SDK may
			// leave the connection open after its deadline.
			select {
			case <-r.Context().Done():
			case <-quit:
			}
		case "forbidden":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() {
		close(quit)
		p.Close()
	})
	return p
}

func (p *authProxy) host() string { return strings.TrimPrefix(p.URL, "http://") }

// authEnvMu serialises the moments a test points the process's
// FIREBASE_AUTH_EMULATOR_HOST elsewhere to make an auth client.
var authEnvMu sync.Mutex

// inProcessCallable serves hmsToken from an app made here, on the
// end-to-end emulators and fake 100ms, with the given settings; authHost,
// when set, is where its Admin SDK finds Auth.
func inProcessCallable(t *testing.T, e *e2eEnv, overrides map[string]string, authHost string) (*app, *httptest.Server) {
	t.Helper()
	return inProcessCallableLog(t, e, overrides, authHost, &e2eLogSink{e: e})
}

// inProcessCallableLog is inProcessCallable with the app's log written to
// logs.
func inProcessCallableLog(t *testing.T, e *e2eEnv, overrides map[string]string, authHost string, logs io.Writer) (*app, *httptest.Server) {
	t.Helper()
	env := map[string]string{
		envProject: e.project, envAPIBase: e.fake.URL, envSecret: e2eSecret, envAccessKey: e2eAccessKey,
		envTemplateID: e2eTemplateID, envTokenTTL: "2h",
	}
	for k, v := range overrides {
		env[k] = v
	}
	a := newApp(testEnv(env), newLogger(logs))
	if authHost != "" {
		authEnvMu.Lock()
		prev := os.Getenv(envAuthEmu)
		os.Setenv(envAuthEmu, authHost)
		fb, err := firebase.NewApp(context.Background(), &firebase.Config{ProjectID: e.project})
		var err2 error
		if err == nil {
			a.auth, err2 = fb.Auth(context.Background())
		}
		os.Setenv(envAuthEmu, prev)
		authEnvMu.Unlock()
		if err != nil || err2 != nil {
			t.Fatalf("auth client: %v %v", err, err2)
		}
	}
	srv := httptest.NewServer(a.tokenHandler())
	t.Cleanup(srv.Close)
	return a, srv
}

// lockedBuffer is a log destination a test reads while handlers write it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// e2eLogSink adds an in-process app's log to the end-to-end server's, so
// that TestMain scans it for secrets and tokens too.
type e2eLogSink struct{ e *e2eEnv }

func (s *e2eLogSink) Write(p []byte) (int, error) { return s.e.logs.Write(p) }

// callAt posts a callable request to base with the given headers and body.
func callAt(t *testing.T, base string, header map[string]string, body string) (httpAnswer, callableAnswer) {
	t.Helper()
	ans := postAt(t, base, header, []byte(body))
	var out callableAnswer
	payload := ans.body
	if strings.HasPrefix(ans.header.Get("Content-Type"), "text/event-stream") {
		payload = []byte(strings.TrimSuffix(strings.TrimPrefix(string(ans.body), "data: "), "\n\n"))
	}
	if err := json.Unmarshal(payload, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %q", err, ans.body)
	}
	return ans, out
}

func wantReason(t *testing.T, name string, ans httpAnswer, out callableAnswer, code int, status, reason string) {
	t.Helper()
	if ans.code != code || out.Error == nil || out.Error.Status != status || out.Error.Details["reason"] != reason {
		t.Errorf("%s: %d %s; want %d %s (%s)", name, ans.code, ans.body, code, status, reason)
	}
}

// TestE2EAppCheck runs hmsToken with the Admin SDK's App Check client
// verifying tokens against a JWKS of ours, enforced and not.
func TestE2EAppCheck(t *testing.T) {
	e := setupE2E(t)
	keys := testAppCheckKeys(t)
	doctor := e.signUp(t, "appcheck-doctor")
	appt := "appcheck-" + uuid.NewString()[:8]
	now := time.Now()
	e.seedAppointment(t, appt, map[string]any{"doctorId": doctor.uid, "clientId": "someone", "startAt": now, "endAt": now.Add(time.Hour)})
	body := `{"data":{"appointmentId":"` + appt + `"}}`

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := keys.token(t, keys.key, e.project, now.Add(time.Hour))
	invalid := map[string]string{
		"garbage":         "not-a-jwt",
		"forged":          keys.token(t, otherKey, e.project, now.Add(time.Hour)),
		"expired":         keys.token(t, keys.key, e.project, now.Add(-time.Minute)),
		"another project": keys.token(t, keys.key, "demo-other-project", now.Add(time.Hour)),
	}
	e.remember(valid)
	for _, v := range invalid {
		e.remember(v)
	}
	header := func(token string) map[string]string {
		h := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + doctor.idToken}
		if token != "" {
			h["X-Firebase-AppCheck"] = token
		}
		return h
	}

	_, enforced := inProcessCallable(t, e, map[string]string{envAppCheck: "true"}, "")
	ans, out := callAt(t, enforced.URL, header(""), body)
	wantReason(t, "enforced, no token", ans, out, 401, "UNAUTHENTICATED", reasonAppCheckMissing)
	for name, tok := range invalid {
		ans, out := callAt(t, enforced.URL, header(tok), body)
		wantReason(t, "enforced, "+name, ans, out, 401, "UNAUTHENTICATED", reasonAppCheckInvalid)
	}
	if ans, out := callAt(t, enforced.URL, header(valid), body); ans.code != 200 || out.Result["role"] != "host" {
		t.Errorf("enforced, valid token: %d %s", ans.code, ans.body)
	}

	var logs lockedBuffer
	_, lax := inProcessCallableLog(t, e, nil, "", io.MultiWriter(&logs, &e2eLogSink{e: e}))
	for name, tok := range invalid {
		if ans, _ := callAt(t, lax.URL, header(tok), body); ans.code != 200 {
			t.Errorf("not enforced, %s token: %d %s, want 200", name, ans.code, ans.body)
		}
	}
	if ans, _ := callAt(t, lax.URL, header(""), body); ans.code != 200 {
		t.Errorf("not enforced, no token: %d %s", ans.code, ans.body)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(invalid)+1 {
		t.Fatalf("want one log line per request, got %d:\n%s", len(lines), logs.String())
	}
	for _, line := range lines[:len(invalid)] {
		if !strings.Contains(line, `"severity":"WARNING"`) || !strings.Contains(line, `"appCheck":"invalid`) {
			t.Errorf("an invalid App Check token let through is not logged as a warning: %s", line)
		}
	}
	for _, tok := range append([]string{valid}, invalid["forged"], invalid["expired"]) {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("an App Check token is in the log")
		}
	}
}

// TestE2EAuthCheckFailures takes Auth away from a signed-in caller: a
// failure to check the ID token is never "sign in again".
func TestE2EAuthCheckFailures(t *testing.T) {
	e := setupE2E(t)
	doctor := e.signUp(t, "authdown-doctor")
	appt := "authdown-" + uuid.NewString()[:8]
	now := time.Now()
	e.seedAppointment(t, appt, map[string]any{"doctorId": doctor.uid, "clientId": "someone", "startAt": now, "endAt": now.Add(time.Hour)})
	body := `{"data":{"appointmentId":"` + appt + `"}}`
	header := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + doctor.idToken}

	proxy := newAuthProxy(t, e.auth)
	a, srv := inProcessCallable(t, e, nil, proxy.host())
	a.authTimeout = 2 * time.Second // the test's own; production's is 8 s

	if ans, _ := callAt(t, srv.URL, header, body); ans.code != 200 {
		t.Fatalf("through the proxy, Auth up: %d %s", ans.code, ans.body)
	}
	for _, tc := range []struct {
		mode, status, reason string
		code                 int
	}{
		{"down", "UNAVAILABLE", reasonAuthUnavailable, 503},
		{"hang", "UNAVAILABLE", reasonAuthUnavailable, 503},
		{"forbidden", "INTERNAL", reasonAuthPermission, 500},
	} {
		proxy.mode.Store(tc.mode)
		ans, out := callAt(t, srv.URL, header, body)
		wantReason(t, "Auth "+tc.mode, ans, out, tc.code, tc.status, tc.reason)
		if out.Error != nil && strings.Contains(strings.ToLower(out.Error.Message), "sign in") && tc.code != 401 {
			t.Errorf("Auth %s: message %q tells the user to sign in", tc.mode, out.Error.Message)
		}
		if tc.mode == "forbidden" && (out.Error == nil || !strings.Contains(out.Error.Message, "Firebase Authentication Viewer")) {
			t.Errorf("Auth forbidden: message does not name the missing role: %s", ans.body)
		}
	}
	proxy.mode.Store("pass")
	if ans, _ := callAt(t, srv.URL, header, body); ans.code != 200 {
		t.Errorf("Auth back: %d %s", ans.code, ans.body)
	}
}

// TestE2ECallableProtocol checks, on the end-to-end server, what Firebase's
// own v2 callables do: data null present, extra keys refused, the answer as
// one server-sent event to a streaming client, and details on errors.
func TestE2ECallableProtocol(t *testing.T) {
	e := setupE2E(t)
	doctor, stranger := e.signUp(t, "proto-doctor"), e.signUp(t, "proto-stranger")
	now := time.Now()
	appt := "proto-" + uuid.NewString()[:8]
	e.seedAppointment(t, appt, map[string]any{"doctorId": doctor.uid, "clientId": "someone", "startAt": now, "endAt": now.Add(time.Hour)})
	early := "proto-early-" + uuid.NewString()[:8]
	start := now.Add(2 * time.Hour).Truncate(time.Second)
	e.seedAppointment(t, early, map[string]any{"doctorId": doctor.uid, "clientId": "someone", "startAt": start})
	h := map[string]string{"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer " + doctor.idToken}
	sse := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + doctor.idToken, "Accept": "text/event-stream"}
	base := e.baseURL + "/hmsToken"

	ans, out := callAt(t, base, h, `{"data":null}`)
	wantReason(t, "data null", ans, out, 400, "INVALID_ARGUMENT", reasonNoAppointmentID)
	ans, out = callAt(t, base, h, `{"data":{"appointmentId":"`+appt+`"},"extra":1}`)
	wantReason(t, "extra key", ans, out, 400, "INVALID_ARGUMENT", reasonExtraKeys)

	ans, out = callAt(t, base, sse, `{"data":{"appointmentId":"`+appt+`"}}`)
	if ans.code != 200 || ans.header.Get("Content-Type") != "text/event-stream" || out.Result["role"] != "host" {
		t.Errorf("SSE success: %d %q %s", ans.code, ans.header.Get("Content-Type"), ans.body)
	}
	if !strings.HasPrefix(string(ans.body), `data: {"result":{`) || !strings.HasSuffix(string(ans.body), "}}\n\n") || strings.Count(string(ans.body), "\n") != 2 {
		t.Errorf("SSE success is not one data line: %q", ans.body)
	}
	if tok, _ := out.Result["token"].(string); tok != "" {
		e.remember(tok)
	}
	ans, out = callAt(t, base, map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream"}, `{"data":{"appointmentId":"`+appt+`"}}`)
	if ans.code != 200 || !strings.HasPrefix(string(ans.body), `data: {"error":{`) || !strings.HasSuffix(string(ans.body), "}}\n\n") {
		t.Errorf("SSE error: %d %q", ans.code, ans.body)
	}
	if out.Error == nil || out.Error.Status != "UNAUTHENTICATED" || out.Error.Details["reason"] != reasonNoIDToken {
		t.Errorf("SSE error object: %s", ans.body)
	}

	ans, out = callAt(t, base, h, `{"data":{"appointmentId":"`+early+`"}}`)
	wantReason(t, "too early", ans, out, 400, "FAILED_PRECONDITION", reasonTooEarly)
	opens, _ := out.Error.Details["opensAt"].(string)
	if got, err := time.Parse(time.RFC3339, opens); err != nil || !got.Equal(start.Add(-15*time.Minute)) {
		t.Errorf("opensAt %q, want %s", opens, start.Add(-15*time.Minute).UTC().Format(time.RFC3339))
	}

	// One answer for "no such appointment" and "not yours"; the too-early
	// appointment's state is not told to a stranger.
	strangerH := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + stranger.idToken}
	_, missing := callAt(t, base, strangerH, `{"data":{"appointmentId":"no-such-`+uuid.NewString()[:8]+`"}}`)
	for _, id := range []string{appt, early} {
		ans, out := callAt(t, base, strangerH, `{"data":{"appointmentId":"`+id+`"}}`)
		wantReason(t, "stranger "+id, ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
		if out.Error == nil || missing.Error == nil || !reflect.DeepEqual(*out.Error, *missing.Error) {
			t.Errorf("stranger: %v differs from the answer for a missing appointment %v", out.Error, missing.Error)
		}
	}
}
