package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"

	"firebase.google.com/go/v4/appcheck"
)

// The Firebase callable protocol as firebase-functions' v2 callables speak
// it (src/common/providers/https.ts, read at firebase/firebase-functions
// adf304f): onCallHandler (CORS, then the wrapped handler),
// wrapOnCallHandler (isValidRequest → checkTokens → decode → handler →
// {"result"} or {"error"}, each as one SSE "data:" line when the client
// accepts text/event-stream), HttpsError.toJSON and errorCodeMap.

// status is a Firebase callable error status with its HTTP code, as
// https.ts errorCodeMap pairs them; the client SDKs map it back to a
// FunctionsException code.
type status struct {
	name string
	code int
}

var (
	statusInvalidArgument    = status{"INVALID_ARGUMENT", http.StatusBadRequest}
	statusFailedPrecondition = status{"FAILED_PRECONDITION", http.StatusBadRequest}
	statusUnauthenticated    = status{"UNAUTHENTICATED", http.StatusUnauthorized}
	statusPermissionDenied   = status{"PERMISSION_DENIED", http.StatusForbidden}
	statusNotFound           = status{"NOT_FOUND", http.StatusNotFound}
	statusUnavailable        = status{"UNAVAILABLE", http.StatusServiceUnavailable}
	statusInternal           = status{"INTERNAL", http.StatusInternalServerError}
)

// Reasons, sent as details.reason so that the app can act on a refusal
// without parsing its message. docs/callables.md names the ones the app relies on.
const (
	reasonMethod              = "METHOD_NOT_POST"
	reasonContentType         = "CONTENT_TYPE_NOT_JSON"
	reasonBodyTooLarge        = "BODY_TOO_LARGE"
	reasonBodyUnreadable      = "BODY_UNREADABLE"
	reasonBodyNotJSON         = "BODY_NOT_JSON_OBJECT"
	reasonNoData              = "NO_DATA"
	reasonExtraKeys           = "EXTRA_KEYS"
	reasonBadData             = "BAD_DATA"
	reasonNoAppointmentID     = "MISSING_APPOINTMENT_ID"
	reasonNoIDToken           = "NO_ID_TOKEN"
	reasonIDTokenInvalid      = "ID_TOKEN_INVALID"
	reasonIDTokenExpired      = "ID_TOKEN_EXPIRED"
	reasonIDTokenRevoked      = "ID_TOKEN_REVOKED"
	reasonUserDisabled        = "USER_DISABLED"
	reasonUserNotFound        = "USER_NOT_FOUND"
	reasonAppCheckMissing     = "APP_CHECK_MISSING"
	reasonAppCheckInvalid     = "APP_CHECK_INVALID"
	reasonNotParticipant      = "NOT_A_PARTICIPANT"
	reasonHostOnly            = "HOST_ONLY"
	reasonCancelled           = "CANCELLED"
	reasonTooEarly            = "TOO_EARLY"
	reasonTooLate             = "TOO_LATE"
	reasonMalformed           = "MALFORMED_APPOINTMENT"
	reasonNotLive             = "NOT_LIVE"
	reasonNoSuchRecording     = "NO_SUCH_RECORDING"
	reasonDeleted             = "DELETED" // hmsRecordingUrl: the file was deleted (retention, erasure)
	reasonCannotSign          = "CANNOT_SIGN"
	reasonAuthUnavailable     = "AUTH_UNAVAILABLE"
	reasonAppCheckUnavailable = "APP_CHECK_UNAVAILABLE"
	reasonStoreUnavailable    = "STORE_UNAVAILABLE"
	reasonVideoUnavailable    = "VIDEO_UNAVAILABLE"
	reasonMisconfigured       = "MISCONFIGURED"
	reasonAuthPermission      = "AUTH_PERMISSION"
	reasonVideoRefused        = "VIDEO_REFUSED"
	reasonRoomTaken           = "ROOM_TAKEN"
	reasonInternal            = "INTERNAL"
	reasonAuditUnavailable    = "AUDIT_UNAVAILABLE"
	reasonStoreRefused        = "STORE_REFUSED" // no retry can fix it (store.IsPermanent)
	// Each callable's own refusals of its input or state.
	reasonNoRecordingID   = "MISSING_RECORDING_ID" // hmsRecordingUrl
	reasonBadFile         = "BAD_FILE"             // hmsRecordingUrl
	reasonNoWaitingRoom   = "NO_WAITING_ROOM"      // hmsAdmit
	reasonNotAdmittable   = "NOT_ADMITTABLE"       // hmsAdmit
	reasonNotRemovable    = "NOT_REMOVABLE"        // hmsRemove
	reasonRemoved         = "REMOVED"              // hmsToken, after hmsRemove
	reasonNoConsentValue  = "MISSING_RECORDING"    // hmsConsent
	reasonBadAction       = "BAD_ACTION"           // hmsRecording
	reasonConsentMissing  = "CONSENT_MISSING"      // hmsRecording
	reasonConsentRequired = "CONSENT_REQUIRED"     // hmsToken, while a recording runs
)

// callError is an error with the callable status, the reason and message
// the app sees, optional extra details; cause is for the log only.
type callError struct {
	status  status
	reason  string
	message string
	details map[string]any // besides "reason"
	cause   error
}

func (e *callError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s (%s): %s: %v", e.status.name, e.reason, e.message, e.cause)
	}
	return e.status.name + " (" + e.reason + "): " + e.message
}

func (e *callError) Unwrap() error { return e.cause }

// fail makes the error a callable handler returns to refuse a request:
// fail(statusPermissionDenied, reasonHostOnly, "Only the doctor can end the call.", nil).
func fail(s status, reason, message string, cause error) *callError {
	return &callError{status: s, reason: reason, message: message, cause: cause}
}

// with adds a detail besides the reason (TOO_EARLY's opensAt).
func (e *callError) with(key string, value any) *callError {
	if e.details == nil {
		e.details = map[string]any{}
	}
	e.details[key] = value
	return e
}

// maxCallableBody bounds a callable request (docs/callables.md).
const maxCallableBody = 64 << 10

// callableHandler is one callable's own work, after the protocol, the ID
// token and App Check have been checked by callable: rq is the request
// (the caller's verified uid, its log line and audit entry, the grant that
// waits for the sign-in), data the request's "data" exactly as sent
// (possibly the JSON null). The result is sent as {"result": ...}; an
// error goes through callErrorOf.
type callableHandler func(ctx context.Context, rq *request, data json.RawMessage) (any, error)

// callable serves h as a Firebase callable named function: CORS and its
// preflight, the function's settings (settingsErr, checked once at start),
// the request's shape, the ID token and the App Check token, then h, and
// the answer in JSON or as one server-sent event.
//
// action names the request in the audit trail (audit.go); a handler whose
// requests are of several actions (hmsRecording) names its own.
func (a *app) callable(function, action string, settingsErr error, h callableHandler) http.HandlerFunc {
	return logRequest(a.logger, function, a.projectID, func(w http.ResponseWriter, r *http.Request, rl *requestLog) {
		corsHeaders(w, r)
		if r.Method == http.MethodOptions {
			answerPreflight(w)
			return
		}
		result, cerr := a.serveCallable(r.Context(), w, r, rl, action, settingsErr, h)
		if cerr != nil {
			rl.noteError(cerr)
			rl.annotate(slog.String("reason", cerr.reason))
			if acceptsStreaming(r) {
				rl.noteAnswered(cerr.status.code)
			}
			writeCallable(w, r, cerr.status.code, map[string]any{"error": errorBody(cerr)})
			return
		}
		writeCallable(w, r, http.StatusOK, map[string]any{"result": result})
	})
}

func (a *app) serveCallable(ctx context.Context, w http.ResponseWriter, r *http.Request, rl *requestLog, action string, settingsErr error, h callableHandler) (any, *callError) {
	if settingsErr != nil {
		return nil, fail(statusInternal, reasonMisconfigured, "The video service is not configured: "+settingsErr.Error()+".", settingsErr)
	}
	data, cerr := readCallable(w, r)
	if cerr != nil {
		return nil, cerr
	}
	// https.ts checkTokens verifies the ID token and the App Check token
	// at the same time (Promise.all); so does this.
	type appCheckResult struct {
		state string
		err   *callError
	}
	appCheckDone := make(chan appCheckResult, 1)
	go func() {
		state, err := a.checkAppCheck(ctx, r, rl)
		appCheckDone <- appCheckResult{state, err}
	}()
	uid, signedIn, authErr := a.authenticate(ctx, r)
	appCheck := <-appCheckDone
	appCheckErr := appCheck.err
	// wrapOnCallHandler refuses an invalid ID token before App Check.
	if authErr != nil {
		return nil, authErr
	}
	if appCheckErr != nil {
		return nil, appCheckErr
	}
	rl.annotate(slog.String("uid", capLog(uid, maxLoggedID)))
	rq := &request{uid: uid, log: rl, audit: a.newRequestAudit(r, rl, action, uid, appCheck.state), signedIn: signedIn}
	// The handler may read while the revocation check runs (authenticate);
	// whatever it found, a revoked sign-in is answered as such, and is not
	// in the audit trail (its caller is not known to be anyone).
	result, err := h(ctx, rq, data)
	if cerr := signedIn(); cerr != nil {
		return nil, cerr
	}
	var refusal *callError
	if err != nil {
		refusal = callErrorOf(err)
	}
	if err := a.finishAudit(ctx, rq.audit, refusal); err != nil {
		return nil, callErrorOf(err)
	}
	if refusal != nil {
		return nil, refusal
	}
	return result, nil
}

// corsHeaders lets Flutter web and the JS SDK call the function from any
// origin, as https.ts onCallHandler does with cors({origin: true}): the
// caller is authenticated by its ID token, not by its origin, and no
// cookie is ever wanted (no Access-Control-Allow-Credentials).
func corsHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
	}
}

func answerPreflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Firebase-AppCheck, Firebase-Instance-ID-Token, X-Firebase-GMPID")
	h.Set("Access-Control-Max-Age", "3600")
	w.WriteHeader(http.StatusNoContent)
}

// readCallable returns the request's "data" as sent, refusing what
// https.ts isValidRequest refuses: another method, a Content-Type other
// than application/json (parameters such as charset ignored), a body that
// is not a JSON object, one without "data" (a "data" of null is present:
// isValidRequest tests typeof data === "undefined"), and one with any
// other top-level key; and, as docs/callables.md adds, a body over 64 KiB.
func readCallable(w http.ResponseWriter, r *http.Request) (json.RawMessage, *callError) {
	if r.Method != http.MethodPost {
		return nil, fail(statusInvalidArgument, reasonMethod, "Request must be a POST.", nil)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, fail(statusInvalidArgument, reasonContentType, "Request Content-Type must be application/json.", nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallableBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fail(statusInvalidArgument, reasonBodyTooLarge, fmt.Sprintf("Request body is larger than %d bytes.", maxCallableBody), nil)
		}
		return nil, fail(statusInvalidArgument, reasonBodyUnreadable, "Request body could not be read.", err)
	}
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, and the protocol's key is exactly "data".
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, fail(statusInvalidArgument, reasonBodyNotJSON, "Request body must be a JSON object.", nil)
	}
	raw, ok := envelope["data"]
	if !ok {
		return nil, fail(statusInvalidArgument, reasonNoData, `Request body must have a "data" field.`, nil)
	}
	if len(envelope) > 1 {
		return nil, fail(statusInvalidArgument, reasonExtraKeys, `Request body must have no field besides "data".`, nil)
	}
	return raw, nil
}

// decodeData reads a callable's "data" into v, a pointer to a struct: a
// JSON null leaves v as it is (its fields absent), anything but an object
// is refused.
func decodeData(data json.RawMessage, v any) *callError {
	if string(data) == "null" {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fail(statusInvalidArgument, reasonBadData, `Request "data" must be an object with the documented fields.`, nil)
	}
	return nil
}

// errorBody is https.ts HttpsError.toJSON: status, message, details.
func errorBody(e *callError) map[string]any {
	details := map[string]any{"reason": e.reason}
	for k, v := range e.details {
		details[k] = v
	}
	return map[string]any{"status": e.status.name, "message": e.message, "details": details}
}

// acceptsStreaming is https.ts wrapOnCallHandler's test, exactly:
// req.header("accept") === "text/event-stream" (Node joins repeated
// headers with ", ", so a second Accept value makes it false there too).
func acceptsStreaming(r *http.Request) bool {
	return strings.Join(r.Header.Values("Accept"), ", ") == "text/event-stream"
}

// writeCallable sends a callable's answer. To a streaming client it is one
// server-sent event, https.ts encodeSSE's `data: ${JSON.stringify(body)}\n\n`,
// always with status 200 (wrapOnCallHandler sets 200 for SSE and writes an
// error into the stream without changing it), so that the SDKs' stream()
// settles with the result or the error. Content-Type is set, which https.ts
// leaves to the platform, because docs/callables.md asks for it. No ": ping"
// heartbeat is sent: every callable here answers well within https.ts's
// default 30 s heartbeat interval.
func writeCallable(w http.ResponseWriter, r *http.Request, code int, body any) {
	if !acceptsStreaming(r) {
		writeJSON(w, code, body)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		b = []byte(`{"error":{"status":"INTERNAL","message":"The answer could not be encoded.","details":{"reason":"INTERNAL"}}}`)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("data: " + string(b) + "\n\n"))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// appCheckVerifier is what the Admin SDK's App Check client does for us
// (*appcheck.Client): verify a token's RS256 signature against Google's
// JWKS and its issuer, audience (this project), subject and expiry.
type appCheckVerifier interface {
	VerifyToken(token string) (*appcheck.DecodedAppCheckToken, error)
}

// lazyAppCheck makes the App Check client once per instance, off the
// request: appcheck.NewClient fetches the JWKS with its own one-minute
// timeout that no context shortens, so a request waits for it only until
// its own deadline, and a failed fetch is tried again by a later request.
type lazyAppCheck struct {
	mu      sync.Mutex
	client  appCheckVerifier
	pending chan struct{} // closed when the attempt under way ends
	lastErr error
}

func (l *lazyAppCheck) get(ctx context.Context, newClient func() (appCheckVerifier, error)) (appCheckVerifier, error) {
	l.mu.Lock()
	if l.client != nil {
		c := l.client
		l.mu.Unlock()
		return c, nil
	}
	if l.pending == nil {
		done := make(chan struct{})
		l.pending = done
		go func() {
			c, err := newClient()
			l.mu.Lock()
			l.client, l.lastErr, l.pending = c, err, nil
			l.mu.Unlock()
			close(done)
		}()
	}
	pending := l.pending
	l.mu.Unlock()
	select {
	case <-pending:
	case <-ctx.Done():
		return nil, fmt.Errorf("app check keys not fetched in time: %w", ctx.Err())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.client != nil {
		return l.client, nil
	}
	if l.lastErr != nil {
		return nil, l.lastErr
	}
	return nil, errors.New("app check client unavailable")
}

// verifyAppCheck runs the verifier, turning a panic into an error:
// appcheck.Client.VerifyToken asserts claim types (aud a list, exp and iat
// numbers) without checking them.
func verifyAppCheck(v appCheckVerifier, token string) (tok *appcheck.DecodedAppCheckToken, err error) {
	defer func() {
		if p := recover(); p != nil {
			tok, err = nil, fmt.Errorf("app check token has claims of the wrong type")
		}
	}()
	return v.VerifyToken(token)
}

// checkAppCheck is https.ts checkAppCheckToken with wrapOnCallHandler's
// decision: no X-Firebase-AppCheck header is "MISSING", a token the Admin
// SDK refuses is "INVALID"; with APP_CHECK_ENFORCE either is 401
// UNAUTHENTICATED, without it the request goes on and an invalid token is
// logged ("Allowing request with invalid AppCheck token because
// enforcement is disabled"), never the token itself. A failure to fetch the
// keys is not the token's fault: 503 when enforced, logged otherwise.
func (a *app) checkAppCheck(ctx context.Context, r *http.Request, rl *requestLog) (string, *callError) {
	token := r.Header.Get("X-Firebase-AppCheck")
	enforce := a.cfg.appCheckEnforce
	if token == "" {
		if enforce {
			return appCheckMissing, fail(statusUnauthenticated, reasonAppCheckMissing, "This app could not prove it is genuine (no App Check token); update the app or try again.", nil)
		}
		return appCheckMissing, nil
	}
	ctx, cancel := a.authDeadline(ctx)
	defer cancel()
	v, err := a.appCheckClient(ctx)
	if err != nil {
		if enforce {
			return appCheckInvalid, fail(statusUnavailable, reasonAppCheckUnavailable, "The app's check could not be verified right now; try again.", err)
		}
		rl.annotate(slog.String("appCheck", "unchecked"), slog.String("appCheckError", redact(err.Error(), token)))
		rl.noteWarning()
		return appCheckInvalid, nil
	}
	decoded, err := verifyAppCheck(v, token)
	if err != nil {
		if enforce {
			return appCheckInvalid, fail(statusUnauthenticated, reasonAppCheckInvalid, "This app could not prove it is genuine (invalid App Check token); update the app or try again.", err)
		}
		rl.annotate(slog.String("appCheck", "invalid, allowed because APP_CHECK_ENFORCE is off"),
			slog.String("appCheckError", redact(err.Error(), token)))
		rl.noteWarning()
		return appCheckInvalid, nil
	}
	rl.annotate(slog.String("appCheck", "valid"), slog.String("appId", capLog(decoded.AppID, maxLoggedID)))
	return appCheckVerified, nil
}

// redact removes token from s, should a library ever quote it in an error.
func redact(s, token string) string {
	if token == "" {
		return s
	}
	return capLog(strings.ReplaceAll(s, token, "[token]"), maxLoggedText)
}
