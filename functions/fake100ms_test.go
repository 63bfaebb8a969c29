package functions

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fake100ms follows the 100ms REST API as SPEC §6 describes it: POST
// /rooms creates a room or returns the one with that name, GET
// /sessions/{id} returns a session with its peers keyed by peer id. Every
// request must carry a management token signed with the app secret.
type fake100ms struct {
	*httptest.Server
	secret string

	down        atomic.Bool  // answer 503 to everything
	createCalls atomic.Int64 // POST /rooms requests that got a room
	authFailed  atomic.Int64

	mu       sync.Mutex
	rooms    map[string]fakeRoom // by name
	sessions map[string]fakeSession
	bearers  map[string]bool // management tokens seen, to scan the logs for
}

type fakeRoom struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Enabled    bool   `json:"enabled"`
	TemplateID string `json:"template_id"`
	CreatedAt  string `json:"created_at"`
}

type fakePeer struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	UserID   string `json:"user_id"`
	JoinedAt string `json:"joined_at"`
	LeftAt   string `json:"left_at,omitempty"`
}

type fakeSession struct {
	ID     string              `json:"id"`
	RoomID string              `json:"room_id"`
	Active bool                `json:"active"`
	Peers  map[string]fakePeer `json:"peers"`
}

func newFake100ms(secret string) *fake100ms {
	f := &fake100ms{secret: secret, rooms: map[string]fakeRoom{}, sessions: map[string]fakeSession{}, bearers: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /rooms", f.createRoom)
	mux.HandleFunc("GET /sessions/{id}", f.getSession)
	f.Server = httptest.NewServer(f.authorize(mux))
	return f
}

func (f *fake100ms) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, `{"code":503,"message":"service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		f.bearers[raw] = true
		f.mu.Unlock()
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(f.secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
		if !ok || err != nil || claims["type"] != "management" || claims["version"] != float64(2) {
			f.authFailed.Add(1)
			http.Error(w, `{"code":401,"message":"invalid management token"}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fake100ms) createRoom(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name       string `json:"name"`
		TemplateID string `json:"template_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
		http.Error(w, `{"code":400,"message":"bad request"}`, http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	room, ok := f.rooms[req.Name]
	if !ok {
		room = fakeRoom{
			ID:         fmt.Sprintf("room%020d", len(f.rooms)+1),
			Name:       req.Name,
			Enabled:    true,
			TemplateID: req.TemplateID,
			CreatedAt:  time.Now().UTC().Format(time.RFC3339Nano),
		}
		f.rooms[req.Name] = room
	}
	f.mu.Unlock()
	f.createCalls.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(room)
}

func (f *fake100ms) getSession(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	s, ok := f.sessions[r.PathValue("id")]
	f.mu.Unlock()
	if !ok {
		http.Error(w, `{"code":404,"message":"session not found"}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

func (f *fake100ms) roomCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rooms)
}

func (f *fake100ms) setSession(s fakeSession) {
	f.mu.Lock()
	f.sessions[s.ID] = s
	f.mu.Unlock()
}

func (f *fake100ms) bearerTokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.bearers))
	for t := range f.bearers {
		out = append(out, t)
	}
	return out
}
