package functions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// Status is a Firebase callable error status; each has a fixed HTTP code
// that the Firebase client SDKs map back to a FunctionsException code.
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

// callError is an error with the callable status and the message the app's
// user sees; cause is for the log only.
type callError struct {
	status  status
	message string
	cause   error
}

func (e *callError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.status.name, e.message, e.cause)
	}
	return e.status.name + ": " + e.message
}

func (e *callError) Unwrap() error { return e.cause }

func fail(s status, message string, cause error) *callError {
	return &callError{status: s, message: message, cause: cause}
}

// maxCallableBody bounds a callable request (SPEC §3).
const maxCallableBody = 64 << 10

// corsHeaders lets Flutter web and the JS SDK call the function from any
// origin: the caller is authenticated by its ID token, not by its origin.
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

// decodeCallable reads {"data": ...} into data, refusing what Firebase's
// own callables refuse: another method, another content type, a body that
// is not JSON, too large, or without "data".
func decodeCallable(w http.ResponseWriter, r *http.Request, data any) *callError {
	if r.Method != http.MethodPost {
		return fail(statusInvalidArgument, "Request must be a POST.", nil)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fail(statusInvalidArgument, "Request Content-Type must be application/json.", nil)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallableBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(statusInvalidArgument, fmt.Sprintf("Request body is larger than %d bytes.", maxCallableBody), nil)
		}
		return fail(statusInvalidArgument, "Request body could not be read.", err)
	}
	// A map, not a struct: encoding/json matches struct fields without
	// regard to case, and the protocol's key is exactly "data".
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fail(statusInvalidArgument, "Request body must be a JSON object.", nil)
	}
	raw := envelope["data"]
	if len(raw) == 0 || string(raw) == "null" {
		return fail(statusInvalidArgument, `Request body must have a "data" field.`, nil)
	}
	if err := json.Unmarshal(raw, data); err != nil {
		return fail(statusInvalidArgument, `Request "data" must be an object with the documented fields.`, nil)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeResult(w http.ResponseWriter, result any) {
	writeJSON(w, http.StatusOK, map[string]any{"result": result})
}

func writeCallError(w http.ResponseWriter, e *callError) {
	writeJSON(w, e.status.code, map[string]any{
		"error": map[string]string{"status": e.status.name, "message": e.message},
	})
}
