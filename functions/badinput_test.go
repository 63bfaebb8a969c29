package functions

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/emulatortest"
)

// updateREADME rewrites the bad-input table (docs/performance.md) from what the functions
// answered: go test ./functions -run TestBadInputTable -update
var updateREADME = flag.Bool("update", false, "rewrite the bad-input table in docs/performance.md from the answers observed")

const (
	badInputStart = "<!-- bad-input-table:start -->"
	badInputEnd   = "<!-- bad-input-table:end -->"
	readmePath    = "../docs/performance.md"
)

// badRequest is one row of the bad-input table (docs/performance.md): a request the
// functions must refuse (or, for a wrong-typed webhook field, accept), sent
// end to end to the local server on the emulators.
type badRequest struct {
	function string // hmsToken, hmssWebhook, or another callable
	request  string // markdown, as the table shows it
	want     string // the answer this row must get, as rendered
	send     func(t *testing.T) string
}

// TestBadInputTable sends every bad request of the bad-input table to the
// running functions, checks each answer against the row's expectation, and
// compares the rendered table with the docs/performance.md block between the
// bad-input-table markers (or rewrites that block with -update).
func TestBadInputTable(t *testing.T) {
	e := setupE2E(t)
	rows := badRequests(t, e)

	var failed bool
	got := make([]string, len(rows))
	for i, row := range rows {
		got[i] = row.send(t)
		if got[i] != row.want {
			failed = true
			t.Errorf("%s: %s: answered %s, want %s", row.function, row.request, got[i], row.want)
		}
	}
	table := renderBadInputTable(rows, got)
	if failed {
		t.Logf("observed table:\n%s", table)
		return
	}

	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	before, current, after, err := splitBadInputBlock(string(readme))
	if err != nil {
		t.Fatalf("docs/performance.md: %v", err)
	}
	if current == table {
		return
	}
	if *updateREADME {
		if err := os.WriteFile(readmePath, []byte(before+table+after), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the bad-input table in %s", filepath.Clean(readmePath))
		return
	}
	t.Errorf("docs/performance.md's bad-input table differs from the answers observed; "+
		"run `go test ./functions -run TestBadInputTable -update` and review the change.\n--- docs/performance.md\n%s--- observed\n%s", current, table)
}

// splitBadInputBlock returns the page around and between the markers; the
// block starts after the start marker's line and ends before the end marker.
func splitBadInputBlock(readme string) (before, block, after string, err error) {
	i := strings.Index(readme, badInputStart)
	j := strings.Index(readme, badInputEnd)
	if i < 0 || j < i {
		return "", "", "", fmt.Errorf("markers %s and %s not found in order", badInputStart, badInputEnd)
	}
	i += len(badInputStart) + 1 // and its newline
	if i > j {
		i = j
	}
	return readme[:i], readme[i:j], readme[j:], nil
}

func renderBadInputTable(rows []badRequest, answers []string) string {
	var b strings.Builder
	b.WriteString("| function | request | answer |\n| --- | --- | --- |\n")
	for i, row := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", row.function, row.request, answers[i])
	}
	return b.String()
}

func badRequests(t *testing.T, e *e2eEnv) []badRequest {
	doctor, client, stranger := e.signUp(t, "bad-doctor"), e.signUp(t, "bad-client"), e.signUp(t, "bad-stranger")
	revoked, disabled, deleted := e.signUp(t, "bad-revoked"), e.signUp(t, "bad-disabled"), e.signUp(t, "bad-deleted")
	emulatortest.RevokeTokens(t, e.auth, e.project, revoked.uid)
	emulatortest.DisableUser(t, e.auth, e.project, disabled.uid)
	emulatortest.DeleteUser(t, e.auth, e.project, deleted.uid)
	time.Sleep(1100 * time.Millisecond) // revocation has one-second resolution

	now := time.Now()
	seed := func(name string, fields map[string]any) string {
		id := "bad-" + name + "-" + uuid.NewString()[:8]
		doc := map[string]any{"doctorId": doctor.uid, "clientId": client.uid}
		for k, v := range fields {
			doc[k] = v
		}
		e.seedAppointment(t, id, doc)
		return id
	}
	open := seed("open", map[string]any{"startAt": now.Add(-5 * time.Minute), "endAt": now.Add(time.Hour)})
	expired := emulatortest.ExpiredIDToken(e.project, doctor.uid)
	otherProject := emulatortest.UnsignedIDToken("demo-other-project", doctor.uid, now.Add(-time.Minute), now.Add(time.Hour))
	forged := forgedIDToken(t, e.project, doctor.uid, now)
	e.remember(expired, otherProject, forged)

	validBody := func(appt string) []byte {
		b, _ := json.Marshal(map[string]any{"data": map[string]string{"appointmentId": appt}})
		return b
	}
	jsonCT := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + doctor.idToken}
	// callable sends a raw request to hmsToken and renders its answer.
	callable := func(method string, header map[string]string, body []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			ans := e.send(t, method, "/hmsToken", header, body)
			e.rememberJoinToken(ans)
			return callableCell(t, ans)
		}
	}
	// token calls hmsToken the way the SDKs do, as idToken, for appt.
	token := func(idToken, appt string) func(t *testing.T) string {
		body := validBody(appt)
		header := map[string]string{"Content-Type": "application/json"}
		if idToken != "" {
			header["Authorization"] = "Bearer " + idToken
		}
		return callable(http.MethodPost, header, body)
	}
	// at sends the request to another server of hmsToken (one with
	// settings the end-to-end server does not have).
	at := func(base string, header map[string]string, body []byte) func(t *testing.T) string {
		return func(t *testing.T) string {
			ans, _ := callAt(t, base, header, string(body))
			e.rememberJoinToken(ans)
			return callableCell(t, ans)
		}
	}

	eventID := func() string { return "bad-input-" + uuid.NewString() }
	event := func(id, typ, ts string, data string) []byte {
		return []byte(fmt.Sprintf(`{"version":"2.0","id":%q,"type":%q,"timestamp":%q,"data":%s}`, id, typ, ts, data))
	}
	const ts = "2026-01-02T03:04:05.123456789Z"
	secretHeader := map[string]string{"X-Webhook-Secret": e2eWebhookSecret, "Content-Type": "application/json"}
	// webhook posts body with header and renders "code status"; stored says
	// whether hmsEvents/{id} must exist afterwards.
	webhook := func(method string, header map[string]string, id string, body []byte, stored bool) func(t *testing.T) string {
		return func(t *testing.T) string {
			ans := e.send(t, method, "/hmssWebhook", header, body)
			cell := webhookCell(t, ans)
			if id != "" {
				if got := e.doc(t, "hmsEvents/"+id) != nil; got != stored {
					cell += fmt.Sprintf(" (hmsEvents/%s stored: %v)", id, got)
				}
			}
			return cell
		}
	}
	withSecret := func(secret string) map[string]string {
		h := map[string]string{"Content-Type": "application/json"}
		if secret != "" {
			h["X-Webhook-Secret"] = secret
		}
		return h
	}

	// The servers with settings of their own: App Check enforced, and
	// App Check not enforced with an Auth that can be taken down.
	acKeys := testAppCheckKeys(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	validAppCheck := acKeys.token(t, acKeys.key, e.project, now.Add(time.Hour))
	forgedAppCheck := acKeys.token(t, otherKey, e.project, now.Add(time.Hour))
	e.remember(validAppCheck, forgedAppCheck)
	_, enforced := inProcessCallable(t, e, map[string]string{envAppCheck: "true"}, "")
	authProxy := newAuthProxy(t, e.auth)
	lax, laxSrv := inProcessCallable(t, e, nil, authProxy.host())
	lax.authTimeout = 2 * time.Second
	withAppCheck := func(tok string) map[string]string {
		h := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + doctor.idToken}
		if tok != "" {
			h["X-Firebase-AppCheck"] = tok
		}
		return h
	}
	authMode := func(mode string, send func(t *testing.T) string) func(t *testing.T) string {
		return func(t *testing.T) string {
			authProxy.mode.Store(mode)
			defer authProxy.mode.Store("pass")
			return send(t)
		}
	}
	sse := map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream", "Authorization": "Bearer " + doctor.idToken}
	sseNoToken := map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream"}
	early := seed("early", map[string]any{"startAt": now.Add(20 * time.Minute)})
	opensAt := func(t *testing.T) string {
		ans := e.send(t, http.MethodPost, "/hmsToken", map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + doctor.idToken}, validBody(early))
		cell := callableCell(t, ans)
		var out callableAnswer
		_ = json.Unmarshal(ans.body, &out)
		if out.Error != nil {
			if at, ok := out.Error.Details["opensAt"].(string); ok {
				if _, err := time.Parse(time.RFC3339, at); err == nil {
					cell += " with `details.opensAt`"
				}
			}
		}
		return cell
	}

	const (
		invalid    = "400 `INVALID_ARGUMENT`"
		unauth     = "401 `UNAUTHENTICATED`"
		precond    = "400 `FAILED_PRECONDITION`"
		denied     = "403 `PERMISSION_DENIED` `NOT_A_PARTICIPANT`"
		refused4xx = " `refused`"
	)
	bigCallable := []byte(`{"data":{"appointmentId":"` + strings.Repeat("a", maxCallableBody) + `"}}`)
	id1, id2, id3, id4, id5, id6, id7, id8, id9, id10 := eventID(), eventID(), eventID(), eventID(), eventID(), eventID(), eventID(), eventID(), eventID(), eventID()
	// Issue 11's webhook rows need a room these functions created (an
	// event of an unknown room is stored raw whatever it holds): the open
	// appointment's, made by hmsToken on first use.
	var roomOnce sync.Once
	var room string
	roomOf := func(t *testing.T) string {
		roomOnce.Do(func() {
			code, ans := e.callToken(t, doctor.idToken, open)
			if code != http.StatusOK {
				t.Fatalf("hmsToken for the open appointment: %d %+v", code, ans.Error)
			}
			room, _ = ans.Result["roomId"].(string)
		})
		return room
	}
	// rawOnly posts an event of that room whose changes can never be
	// written, and renders the answer and whether it was kept raw.
	rawOnly := func(id, typ, data string) func(t *testing.T) string {
		return func(t *testing.T) string {
			body := event(id, typ, ts, `{"room_id":"`+roomOf(t)+`",`+data+`}`)
			cell := webhookCell(t, e.send(t, http.MethodPost, "/hmssWebhook", secretHeader, body))
			doc := e.doc(t, "hmsEvents/"+id)
			if doc == nil || doc["applied"] != false || doc["raw"] != string(body) {
				return cell + fmt.Sprintf(" (hmsEvents/%s: %v)", id, doc)
			}
			return cell + ", kept raw (`applied: false`)"
		}
	}
	longID := strings.Repeat("p", 1495)
	// A HIPAA workspace's webhook: signing secret set, no header secret.
	signedApp := newApp(testEnv(map[string]string{
		envProject: e.project, envWebhookSecret: "", envSigningSecret: "old-signing-key,signing-key",
	}), newLogger(&e2eLogSink{e: e}))
	signedSrv := httptest.NewServer(signedApp.webhookHandler())
	t.Cleanup(signedSrv.Close)
	signed := func(sig func(body []byte) string) func(t *testing.T) string {
		return func(t *testing.T) string {
			id := "bad-signed-" + uuid.NewString()[:8]
			body := event(id, "session.open.success", ts, `{}`)
			req, err := http.NewRequest(http.MethodPost, signedSrv.URL, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if v := sig(body); v != "" {
				req.Header.Set("X-100ms-Signature", v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			cell := webhookCell(t, httpAnswer{code: resp.StatusCode, header: resp.Header, body: b})
			if stored := e.doc(t, "hmsEvents/"+id) != nil; stored != (resp.StatusCode == http.StatusOK) {
				cell += fmt.Sprintf(" (stored: %v)", stored)
			}
			return cell
		}
	}
	hmac256 := func(key string) func(body []byte) string {
		return func(body []byte) string {
			m := hmac.New(sha256.New, []byte(key))
			m.Write(body)
			return hex.EncodeToString(m.Sum(nil))
		}
	}
	// other sends a callable request to another callable than hmsToken.
	other := func(function, idToken string, data any) func(t *testing.T) string {
		return func(t *testing.T) string {
			b, _ := json.Marshal(map[string]any{"data": data})
			return callableCell(t, e.send(t, http.MethodPost, "/"+function, map[string]string{
				"Content-Type": "application/json", "Authorization": "Bearer " + idToken}, b))
		}
	}
	noRoom := seed("no-room", nil)
	withRoom := func(f func(t *testing.T) string) func(t *testing.T) string {
		return func(t *testing.T) string { roomOf(t); return f(t) }
	}

	return []badRequest{
		{"hmsToken", "`GET` instead of `POST`", invalid + " `METHOD_NOT_POST`", callable(http.MethodGet, jsonCT, nil)},
		{"hmsToken", "`PUT` with a valid body", invalid + " `METHOD_NOT_POST`", callable(http.MethodPut, jsonCT, validBody(open))},
		{"hmsToken", "`Content-Type: text/plain`", invalid + " `CONTENT_TYPE_NOT_JSON`", callable(http.MethodPost,
			map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + doctor.idToken}, validBody(open))},
		{"hmsToken", "no `Content-Type`", invalid + " `CONTENT_TYPE_NOT_JSON`", callable(http.MethodPost,
			map[string]string{"Authorization": "Bearer " + doctor.idToken}, validBody(open))},
		{"hmsToken", "body over 64 KiB", invalid + " `BODY_TOO_LARGE`", callable(http.MethodPost, jsonCT, bigCallable)},
		{"hmsToken", "malformed JSON (`{\"data\":`)", invalid + " `BODY_NOT_JSON_OBJECT`", callable(http.MethodPost, jsonCT, []byte(`{"data":`))},
		{"hmsToken", "JSON that is not an object (`[]`)", invalid + " `BODY_NOT_JSON_OBJECT`", callable(http.MethodPost, jsonCT, []byte(`[]`))},
		{"hmsToken", "no `data` (`{\"appointmentId\":\"…\"}`)", invalid + " `NO_DATA`", callable(http.MethodPost, jsonCT, []byte(`{"appointmentId":"`+open+`"}`))},
		{"hmsToken", "a key besides `data` (`{\"data\":{…},\"extra\":1}`)", invalid + " `EXTRA_KEYS`", callable(http.MethodPost, jsonCT, []byte(`{"data":{"appointmentId":"`+open+`"},"extra":1}`))},
		{"hmsToken", "`data` not an object (`{\"data\":\"x\"}`)", invalid + " `BAD_DATA`", callable(http.MethodPost, jsonCT, []byte(`{"data":"x"}`))},
		{"hmsToken", "`data` null (`{\"data\":null}`): present, so the missing `appointmentId` is the error", invalid + " `MISSING_APPOINTMENT_ID`", callable(http.MethodPost, jsonCT, []byte(`{"data":null}`))},
		{"hmsToken", "missing `appointmentId` (`{\"data\":{}}`)", invalid + " `MISSING_APPOINTMENT_ID`", callable(http.MethodPost, jsonCT, []byte(`{"data":{}}`))},
		{"hmsToken", "blank `appointmentId`", invalid + " `MISSING_APPOINTMENT_ID`", callable(http.MethodPost, jsonCT, []byte(`{"data":{"appointmentId":"  "}}`))},
		{"hmsToken", "`appointmentId` a number", invalid + " `BAD_DATA`", callable(http.MethodPost, jsonCT, []byte(`{"data":{"appointmentId":42}}`))},
		{"hmsToken", "`Accept: text/event-stream`, valid request", "200 SSE `data: {\"result\":…}`", callable(http.MethodPost, sse, validBody(open))},
		{"hmsToken", "`Accept: text/event-stream`, no ID token", "200 SSE `data: {\"error\":…}` `UNAUTHENTICATED` `NO_ID_TOKEN`", callable(http.MethodPost, sseNoToken, validBody(open))},
		{"hmsToken", "no ID token", unauth + " `NO_ID_TOKEN`", token("", open)},
		{"hmsToken", "`Authorization` not `Bearer`", unauth + " `NO_ID_TOKEN`", callable(http.MethodPost,
			map[string]string{"Content-Type": "application/json", "Authorization": "Basic " + doctor.idToken}, validBody(open))},
		{"hmsToken", "garbage ID token (`not-a-jwt`)", unauth + " `ID_TOKEN_INVALID`", token("not-a-jwt", open)},
		{"hmsToken", "expired ID token", unauth + " `ID_TOKEN_EXPIRED`", token(expired, open)},
		{"hmsToken", "ID token of another project (`aud`/`iss`)", unauth + " `ID_TOKEN_INVALID`", token(otherProject, open)},
		{"hmsToken", "revoked ID token (tokens revoked after it was issued)", unauth + " `ID_TOKEN_REVOKED`", token(revoked.idToken, open)},
		{"hmsToken", "ID token of a disabled user", unauth + " `USER_DISABLED`", token(disabled.idToken, open)},
		{"hmsToken", "ID token of a deleted user", unauth + " `USER_NOT_FOUND`", token(deleted.idToken, open)},
		{"hmsToken", "forged ID token (valid claims, signed by another key). **Emulator only:** the Admin SDK skips signatures " +
			"when `FIREBASE_AUTH_EMULATOR_HOST` is set, so it is accepted here; in production the signature is checked " +
			"and the answer is 401 `UNAUTHENTICATED`", "200 result", token(forged, open)},
		{"hmsToken", "valid ID token, Auth unreachable (connection dropped)", "503 `UNAVAILABLE` `AUTH_UNAVAILABLE`",
			authMode("down", at(laxSrv.URL, withAppCheck(""), validBody(open)))},
		{"hmsToken", "valid ID token, Auth does not answer within the check's deadline", "503 `UNAVAILABLE` `AUTH_UNAVAILABLE`",
			authMode("hang", at(laxSrv.URL, withAppCheck(""), validBody(open)))},
		{"hmsToken", "valid ID token, Auth answers 403 to the service account", "500 `INTERNAL` `AUTH_PERMISSION`",
			authMode("forbidden", at(laxSrv.URL, withAppCheck(""), validBody(open)))},
		{"hmsToken", "`APP_CHECK_ENFORCE=true`, no `X-Firebase-AppCheck`", unauth + " `APP_CHECK_MISSING`", at(enforced.URL, withAppCheck(""), validBody(open))},
		{"hmsToken", "`APP_CHECK_ENFORCE=true`, App Check token signed by another key", unauth + " `APP_CHECK_INVALID`", at(enforced.URL, withAppCheck(forgedAppCheck), validBody(open))},
		{"hmsToken", "`APP_CHECK_ENFORCE=true`, valid App Check token", "200 result", at(enforced.URL, withAppCheck(validAppCheck), validBody(open))},
		{"hmsToken", "App Check not enforced, invalid App Check token: logged, let through", "200 result", at(laxSrv.URL, withAppCheck(forgedAppCheck), validBody(open))},
		{"hmsToken", "foreign appointment (caller is neither doctor nor client)", denied, token(stranger.idToken, open)},
		{"hmsToken", "unknown appointment (same answer as a foreign one)", denied, token(doctor.idToken, "bad-no-such-appointment")},
		{"hmsToken", "too early, asked by a stranger (not told)", denied, token(stranger.idToken, early)},
		{"hmsToken", "cancelled appointment (`status: \"Cancelled\"`)", precond + " `CANCELLED`", token(client.idToken, seed("cancelled", map[string]any{"status": "Cancelled"}))},
		{"hmsToken", "too early (`startAt` 20 min away, `JOIN_EARLY=15m`)", precond + " `TOO_EARLY` with `details.opensAt`", opensAt},
		{"hmsToken", "too late (`endAt` 61 min ago, `JOIN_LATE=1h`)", precond + " `TOO_LATE`", token(client.idToken, seed("late", map[string]any{"endAt": now.Add(-61 * time.Minute)}))},
		{"hmsToken", "appointment without a string `doctorId`, asked by its client", precond + " `MALFORMED_APPOINTMENT`", token(client.idToken, seed("malformed", map[string]any{"doctorId": 7}))},

		{"hmssWebhook", "`GET` instead of `POST`", "405" + refused4xx + " (`Allow: POST`)", func(t *testing.T) string {
			ans := e.send(t, http.MethodGet, "/hmssWebhook", secretHeader, nil)
			cell := webhookCell(t, ans)
			if ans.header.Get("Allow") == http.MethodPost {
				cell += " (`Allow: POST`)"
			}
			return cell
		}},
		{"hmssWebhook", "no secret header", "401" + refused4xx, webhook(http.MethodPost, withSecret(""), id1, event(id1, "session.open.success", ts, `{}`), false)},
		{"hmssWebhook", "wrong secret", "401" + refused4xx, webhook(http.MethodPost, withSecret("wrong-secret"), id2, event(id2, "session.open.success", ts, `{}`), false)},
		{"hmssWebhook", "secret in another header (`Authorization`)", "401" + refused4xx, webhook(http.MethodPost,
			map[string]string{"Authorization": e2eWebhookSecret}, id3, event(id3, "session.open.success", ts, `{}`), false)},
		{"hmssWebhook", "body over 512 KiB", "413" + refused4xx, webhook(http.MethodPost, secretHeader, id4,
			event(id4, "session.open.success", ts, `{"pad":"`+strings.Repeat("x", maxWebhookBody)+`"}`), false)},
		{"hmssWebhook", "body over 512 KiB with a wrong secret", "401" + refused4xx, webhook(http.MethodPost, withSecret("wrong-secret"), "",
			bytes.Repeat([]byte("x"), maxWebhookBody+1), false)},
		{"hmssWebhook", "not JSON (`{\"id\":`)", "400" + refused4xx, webhook(http.MethodPost, secretHeader, "", []byte(`{"id":`), false)},
		{"hmssWebhook", "JSON that is not an object (`[1]`)", "400" + refused4xx, webhook(http.MethodPost, secretHeader, "", []byte(`[1]`), false)},
		{"hmssWebhook", "no `id`", "400" + refused4xx, webhook(http.MethodPost, secretHeader, "",
			[]byte(`{"type":"session.open.success","timestamp":"`+ts+`","data":{}}`), false)},
		{"hmssWebhook", "no `type`", "400" + refused4xx, webhook(http.MethodPost, secretHeader, id5,
			[]byte(`{"id":"`+id5+`","timestamp":"`+ts+`","data":{}}`), false)},
		{"hmssWebhook", "no `timestamp`", "400" + refused4xx, webhook(http.MethodPost, secretHeader, id6,
			[]byte(`{"id":"`+id6+`","type":"session.open.success","data":{}}`), false)},
		{"hmssWebhook", "unparsable `timestamp` (`\"yesterday\"`)", "400" + refused4xx, webhook(http.MethodPost, secretHeader, id7,
			event(id7, "session.open.success", "yesterday", `{}`), false)},
		{"hmssWebhook", "`timestamp` Firestore cannot store (`0000-01-10T00:00:00Z`, before year 1)", "400" + refused4xx, webhook(http.MethodPost, secretHeader, id9,
			event(id9, "session.open.success", "0000-01-10T00:00:00Z", `{}`), false)},
		{"hmssWebhook", "body not valid UTF-8 (a `0x83` byte in a string)", "400" + refused4xx, webhook(http.MethodPost, secretHeader, id10,
			event(id10, "session.open.success", ts, "{\"note\":\"\x83\"}"), false)},
		{"hmssWebhook", "`id` that cannot name a document (`a/b`)", "400" + refused4xx, webhook(http.MethodPost, secretHeader, "",
			event("a/b", "session.open.success", ts, `{}`), false)},
		{"hmssWebhook", "`data` field of the wrong type (`peer.join.success` with `joined_at: 5`, `duration: \"x\"`): stored, field treated as absent",
			"200 `stored`", webhook(http.MethodPost, secretHeader, id8,
				event(id8, "peer.join.success", ts, `{"room_id":"bad-input-room","session_id":"s1","peer_id":"p1","joined_at":5,"duration":"x"}`), true)},
		{"hmssWebhook", "`id` over 256 bytes", "400" + refused4xx, webhook(http.MethodPost, secretHeader, "",
			event(strings.Repeat("e", 257), "session.open.success", ts, `{}`), false)},
		{"hmssWebhook", "peer id that cannot name a map key (`a/b`), in a room of these functions", "200 `stored`, kept raw (`applied: false`)",
			rawOnly("bad-raw-slash-"+uuid.NewString()[:8], "peer.join.success", `"session_id":"s1","peer_id":"a/b","role":"host"`)},
		{"hmssWebhook", "peer id of the reserved form (`__x__`)", "200 `stored`, kept raw (`applied: false`)",
			rawOnly("bad-raw-reserved-"+uuid.NewString()[:8], "peer.join.success", `"session_id":"s1","peer_id":"__x__","role":"host"`)},
		{"hmssWebhook", "beam id of 1,495 bytes", "200 `stored`, kept raw (`applied: false`)",
			rawOnly("bad-raw-beam-"+uuid.NewString()[:8], "beam.started.success", `"session_id":"s1","beam_id":"`+longID+`"`)},
		{"hmssWebhook", "session id with a slash (`s/1`)", "200 `stored`, kept raw (`applied: false`)",
			rawOnly("bad-raw-session-"+uuid.NewString()[:8], "session.open.success", `"session_id":"s/1"`)},
		{"hmssWebhook", "HIPAA workspace (signing secret set): no `x-100ms-signature`", "401" + refused4xx,
			signed(func([]byte) string { return "" })},
		{"hmssWebhook", "HIPAA workspace: signature under another key", "401" + refused4xx, signed(hmac256("not-the-key"))},
		{"hmssWebhook", "HIPAA workspace: the signing secret itself as the signature", "401" + refused4xx,
			signed(func([]byte) string { return "signing-key" })},
		{"hmssWebhook", "HIPAA workspace: signed with the old key of a rotation, no header secret configured", "200 `stored`", signed(hmac256("old-signing-key"))},
		{"hmsEndCall", "no `appointmentId`", "400 `INVALID_ARGUMENT` `MISSING_APPOINTMENT_ID`", other("hmsEndCall", doctor.idToken, map[string]any{})},
		{"hmsEndCall", "the client, not the doctor", "403 `PERMISSION_DENIED` `HOST_ONLY`", withRoom(other("hmsEndCall", client.idToken, map[string]any{"appointmentId": open}))},
		{"hmsEndCall", "a signed-in user of another appointment", "403 `PERMISSION_DENIED` `NOT_A_PARTICIPANT`", other("hmsEndCall", stranger.idToken, map[string]any{"appointmentId": open})},
		{"hmsEndCall", "the doctor, before any room exists", "400 `FAILED_PRECONDITION` `NOT_LIVE`", other("hmsEndCall", doctor.idToken, map[string]any{"appointmentId": noRoom})},
		{"hmsEndCall", "the doctor, room made but nobody in it", "400 `FAILED_PRECONDITION` `NOT_LIVE`", withRoom(other("hmsEndCall", doctor.idToken, map[string]any{"appointmentId": open}))},
		{"hmsRecordingUrl", "neither `recordingId` nor `transcriptId`", "400 `INVALID_ARGUMENT` `MISSING_RECORDING_ID`", other("hmsRecordingUrl", doctor.idToken, map[string]any{"appointmentId": open})},
		{"hmsRecordingUrl", "`file` not one of the transcript files", "400 `INVALID_ARGUMENT` `BAD_FILE`", other("hmsRecordingUrl", doctor.idToken, map[string]any{"appointmentId": open, "transcriptId": "t1", "file": "notes"})},
		{"hmsRecordingUrl", "a signed-in user of another appointment", "403 `PERMISSION_DENIED` `NOT_A_PARTICIPANT`", other("hmsRecordingUrl", stranger.idToken, map[string]any{"appointmentId": open, "recordingId": "sfu-s1"})},
		{"hmsRecordingUrl", "no such recording", "404 `NOT_FOUND` `NO_SUCH_RECORDING`", other("hmsRecordingUrl", client.idToken, map[string]any{"appointmentId": open, "recordingId": "sfu-nope"})},
		{"hmsAdmit", "the client, not the doctor", "403 `PERMISSION_DENIED` `HOST_ONLY`", other("hmsAdmit", client.idToken, map[string]any{"appointmentId": open})},
		{"hmsAdmit", "the doctor, with no `WAITING_ROOM_ROLE` set", "400 `FAILED_PRECONDITION` `NO_WAITING_ROOM`", other("hmsAdmit", doctor.idToken, map[string]any{"appointmentId": open})},
		{"hmsAdmit", "a signed-in user of another appointment", "403 `PERMISSION_DENIED` `NOT_A_PARTICIPANT`", other("hmsAdmit", stranger.idToken, map[string]any{"appointmentId": open})},
		{"hmsRemove", "the client, not the doctor", "403 `PERMISSION_DENIED` `HOST_ONLY`", other("hmsRemove", client.idToken, map[string]any{"appointmentId": open, "uid": client.uid, "action": "remove"})},
		{"hmsRemove", "`action` not remove, wait or allow", "400 `INVALID_ARGUMENT` `BAD_ACTION`", other("hmsRemove", doctor.idToken, map[string]any{"appointmentId": open, "uid": client.uid, "action": "ban"})},
		{"hmsRemove", "`uid` the doctor themself", "400 `INVALID_ARGUMENT` `NOT_REMOVABLE`", other("hmsRemove", doctor.idToken, map[string]any{"appointmentId": open, "uid": doctor.uid, "action": "remove"})},
		{"hmsRemove", "`uid` not a participant", "400 `INVALID_ARGUMENT` `NOT_REMOVABLE`", other("hmsRemove", doctor.idToken, map[string]any{"appointmentId": open, "uid": stranger.uid, "action": "remove"})},
		{"hmsRemove", "`wait` with no `WAITING_ROOM_ROLE` set", "400 `FAILED_PRECONDITION` `NO_WAITING_ROOM`", other("hmsRemove", doctor.idToken, map[string]any{"appointmentId": open, "uid": client.uid, "action": "wait"})},
		{"hmsRemove", "a signed-in user of another appointment", "403 `PERMISSION_DENIED` `NOT_A_PARTICIPANT`", other("hmsRemove", stranger.idToken, map[string]any{"appointmentId": open, "uid": client.uid, "action": "remove"})},
		{"hmsConsent", "no `recording`", "400 `INVALID_ARGUMENT` `MISSING_RECORDING`", other("hmsConsent", client.idToken, map[string]any{"appointmentId": open})},
		{"hmsConsent", "`recording` a string (`\"yes\"`)", "400 `INVALID_ARGUMENT` `BAD_DATA`", other("hmsConsent", client.idToken, map[string]any{"appointmentId": open, "recording": "yes"})},
		{"hmsConsent", "a signed-in user of another appointment", "403 `PERMISSION_DENIED` `NOT_A_PARTICIPANT`", other("hmsConsent", stranger.idToken, map[string]any{"appointmentId": open, "recording": true})},
		{"hmsRecording", "`action` not start or stop", "400 `INVALID_ARGUMENT` `BAD_ACTION`", other("hmsRecording", doctor.idToken, map[string]any{"appointmentId": open, "action": "pause"})},
		{"hmsRecording", "the client, not the doctor", "403 `PERMISSION_DENIED` `HOST_ONLY`", other("hmsRecording", client.idToken, map[string]any{"appointmentId": open, "action": "start"})},
		{"hmsRecording", "the doctor, nobody in the room", "400 `FAILED_PRECONDITION` `NOT_LIVE`", withRoom(other("hmsRecording", doctor.idToken, map[string]any{"appointmentId": open, "action": "start"}))},
		{"hmsRecording", "a signed-in user of another appointment", "403 `PERMISSION_DENIED` `NOT_A_PARTICIPANT`", other("hmsRecording", stranger.idToken, map[string]any{"appointmentId": open, "action": "start"})},
	}
}

// send makes one request to the local server and returns its answer.
func (e *e2eEnv) send(t *testing.T, method, path string, header map[string]string, body []byte) httpAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.baseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpAnswer{code: resp.StatusCode, header: resp.Header, body: b}
}

// rememberJoinToken adds a join token an answer carries to the values the
// server's log must not hold.
func (e *e2eEnv) rememberJoinToken(ans httpAnswer) {
	if i := strings.Index(string(ans.body), `"token":"`); i >= 0 {
		rest := string(ans.body[i+len(`"token":"`):])
		if j := strings.IndexByte(rest, '"'); j > 0 {
			e.remember(rest[:j])
		}
	}
}

// callableCell renders a callable answer as "code `STATUS` `REASON`", "200
// result", or for a server-sent event "200 SSE ...".
func callableCell(t *testing.T, ans httpAnswer) string {
	t.Helper()
	payload, prefix := ans.body, ""
	if ct := ans.header.Get("Content-Type"); ct == "text/event-stream" {
		s := string(ans.body)
		if !strings.HasPrefix(s, "data: ") || !strings.HasSuffix(s, "\n\n") || strings.Count(s, "\n") != 2 {
			return fmt.Sprintf("%d SSE, not one data line: %q", ans.code, s)
		}
		payload = []byte(strings.TrimSuffix(strings.TrimPrefix(s, "data: "), "\n\n"))
		prefix = "SSE "
	}
	var out callableAnswer
	if err := json.Unmarshal(payload, &out); err != nil {
		return fmt.Sprintf("%d, not JSON", ans.code)
	}
	switch {
	case out.Error == nil && out.Result != nil && prefix != "":
		return fmt.Sprintf("%d %s`data: {\"result\":…}`", ans.code, prefix)
	case out.Error == nil && out.Result != nil:
		if tok, _ := out.Result["token"].(string); tok == "" {
			return fmt.Sprintf("%d result without a token", ans.code)
		}
		return fmt.Sprintf("%d result", ans.code)
	case out.Error == nil:
		return fmt.Sprintf("%d without an error", ans.code)
	case out.Error.Message == "":
		return fmt.Sprintf("%d `%s` without a message", ans.code, out.Error.Status)
	}
	reason, _ := out.Error.Details["reason"].(string)
	if reason == "" {
		return fmt.Sprintf("%d `%s` without a reason", ans.code, out.Error.Status)
	}
	if prefix != "" {
		return fmt.Sprintf("%d %s`data: {\"error\":…}` `%s` `%s`", ans.code, prefix, out.Error.Status, reason)
	}
	return fmt.Sprintf("%d `%s` `%s`", ans.code, out.Error.Status, reason)
}

// webhookCell renders a webhook answer as "code `status`".
func webhookCell(t *testing.T, ans httpAnswer) string {
	t.Helper()
	var out webhookAnswer
	if err := json.Unmarshal(ans.body, &out); err != nil {
		return fmt.Sprintf("%d, not JSON", ans.code)
	}
	if ans.code != http.StatusOK && out.Error == "" {
		return fmt.Sprintf("%d `%s` without a reason", ans.code, out.Status)
	}
	return fmt.Sprintf("%d `%s`", ans.code, out.Status)
}

// forgedIDToken returns an ID token with claims the project would accept,
// signed RS256 by a key Google never issued: production refuses it on the
// signature, which the Admin SDK does not check in emulator mode.
func forgedIDToken(t *testing.T, project, uid string, issuedAt time.Time) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(emulatortest.IDTokenClaims(project, uid, issuedAt, issuedAt.Add(time.Hour))))
	tok.Header["kid"] = "forged-key"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
