// Package fakefcm is a fake Firebase Cloud Messaging for tests and for
// scripts/dev --fake-100ms: the one endpoint of FCM's HTTP v1 API that the
// Admin SDK's messaging client calls (firebase-admin-go messaging.go
// makeSendRequest: POST {endpoint}/projects/{project}/messages:send, body
// {"validate_only"?, "message"}, answer {"name"}), with FCM's documented
// error shape (firebase.google.com/docs/cloud-messaging/error-codes, and
// reference/fcm/rest/v1/ErrorCode): an error with code, message, status
// and a details entry of type google.firebase.fcm.v1.FcmError naming the
// errorCode, which the Admin SDK reads (handleFCMError). It keeps every
// message it accepted, and answers UNREGISTERED (HTTP 404, NOT_FOUND) for
// the tokens a test unregistered. Test-support code only.
package fakefcm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Message is what the fake received for one device, as FCM's v1 API
// names it (projects.messages resource).
type Message struct {
	Project      string            `json:"-"`
	Name         string            `json:"-"`
	Token        string            `json:"token,omitempty"`
	Topic        string            `json:"topic,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Notification *Notification     `json:"notification,omitempty"`
	Data         map[string]string `json:"data,omitempty"`
	Android      json.RawMessage   `json:"android,omitempty"`
	APNS         json.RawMessage   `json:"apns,omitempty"`
	Webpush      json.RawMessage   `json:"webpush,omitempty"`
	FCMOptions   json.RawMessage   `json:"fcm_options,omitempty"`
	// Raw is the message exactly as sent, for checks on what it carries.
	Raw json.RawMessage `json:"-"`
}

// Notification is the message's notification block.
type Notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Image string `json:"image,omitempty"`
}

// Server is a running fake FCM.
type Server struct {
	URL string // the v1 base, e.g. http://127.0.0.1:1234/v1: FCM_API_BASE
	srv *httptest.Server

	mu           sync.Mutex
	messages     []Message
	unregistered map[string]bool
	down         bool
	onMessage    func(Message)
}

// New starts a fake FCM on a free local port.
func New() *Server {
	s := &Server{unregistered: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL + "/v1"
	return s
}

// NewHandler is a fake FCM served by the caller, which onMessage (when
// set) tells of each message it accepts.
func NewHandler(onMessage func(Message)) (*Server, http.Handler) {
	s := &Server{unregistered: map[string]bool{}, onMessage: onMessage}
	return s, http.HandlerFunc(s.handle)
}

// Close stops the server.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// Unregister makes FCM answer UNREGISTERED for token from now on, as it
// does for an app uninstalled or a token expired.
func (s *Server) Unregister(token string) {
	s.mu.Lock()
	s.unregistered[token] = true
	s.mu.Unlock()
}

// SetDown makes every send fail with 503 UNAVAILABLE.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// Messages returns every message accepted so far (not the refused ones).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// fcmError writes FCM v1's error body.
func fcmError(w http.ResponseWriter, code int, status, errorCode, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	details := []map[string]any{}
	if errorCode != "" {
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": errorCode})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": msg, "status": status, "details": details}})
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	// /v1/projects/{project}/messages:send
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	project, action, _ := strings.Cut(rest, "/")
	if !ok || project == "" || action != "messages:send" {
		fcmError(w, http.StatusNotFound, "NOT_FOUND", "", "no such method: "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		fcmError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "", "messages:send takes POST")
		return
	}
	var req struct {
		ValidateOnly bool            `json:"validate_only"`
		Message      json.RawMessage `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Message) == 0 {
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received.")
		return
	}
	var m Message
	if err := json.Unmarshal(req.Message, &m); err != nil {
		// data values that are not strings land here, as at FCM.
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid value in message: "+err.Error())
		return
	}
	targets := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			targets++
		}
	}
	if targets != 1 {
		fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Exactly one of token, topic or condition must be set.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.down:
		fcmError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
		return
	case s.unregistered[m.Token]:
		fcmError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
		return
	}
	m.Project, m.Raw = project, req.Message
	m.Name = fmt.Sprintf("projects/%s/messages/%d", project, len(s.messages)+1)
	if !req.ValidateOnly {
		s.messages = append(s.messages, m)
		if s.onMessage != nil {
			s.onMessage(m)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"name": m.Name})
}
