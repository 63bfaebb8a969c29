package hms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeResponse is one scripted answer of the fake 100ms.
type fakeResponse struct {
	status int
	body   string
	header map[string]string
	delay  time.Duration
}

// seenRequest is what the fake 100ms received.
type seenRequest struct {
	method, path string
	query        url.Values
	header       http.Header
	body         []byte
}

// fakeHMS is an httptest 100ms: it answers from a script (the last answer
// repeats) and records every request.
type fakeHMS struct {
	*httptest.Server
	mu       sync.Mutex
	script   []fakeResponse
	requests []seenRequest
}

func newFakeHMS(t *testing.T, script ...fakeResponse) *fakeHMS {
	t.Helper()
	f := &fakeHMS{script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := len(f.requests)
		f.requests = append(f.requests, seenRequest{r.Method, r.URL.EscapedPath(), r.URL.Query(), r.Header.Clone(), body})
		resp := fakeResponse{status: http.StatusOK, body: `{}`}
		if len(f.script) > 0 {
			resp = f.script[min(n, len(f.script)-1)]
		}
		f.mu.Unlock()
		if resp.delay > 0 {
			select {
			case <-time.After(resp.delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		_, _ = io.WriteString(w, resp.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeHMS) seen() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.requests...)
}

func newTestClient(t *testing.T, f *fakeHMS, opts ...ClientOption) *Client {
	t.Helper()
	opts = append([]ClientOption{WithRetry(3, time.Millisecond, 5*time.Millisecond)}, opts...)
	c, err := NewClient(f.URL+"/v2", testCreds, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkManagementToken verifies the bearer token the fake received and
// returns it.
func checkManagementToken(t *testing.T, h http.Header) string {
	t.Helper()
	auth := h.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		t.Fatalf("Authorization = %q, want Bearer", auth)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testCreds.Secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("management token: %v", err)
	}
	for _, k := range []string{"room_id", "user_id", "role"} {
		if _, has := claims[k]; has {
			t.Errorf("management token has %s", k)
		}
	}
	if claims["type"] != "management" || claims["version"] != float64(2) || claims["access_key"] != testCreds.AccessKey || claims["jti"] == "" {
		t.Errorf("management claims = %v", claims)
	}
	for _, k := range []string{"iat", "nbf", "exp"} {
		if _, has := claims[k]; !has {
			t.Errorf("management token lacks %s", k)
		}
	}
	return tok
}

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("body = %s, want %s", gb, wb)
	}
}

func TestClientCalls(t *testing.T) {
	const sessionJSON = `{"id":"sess/1","room_id":"room-1","active":false,"customer_id":"c","app_id":"a",
		"created_at":"2026-03-01T10:00:00.123456789Z","updated_at":"2026-03-01T11:00:00Z",
		"peers":{
			"p2":{"id":"p2","name":"Client","role":"guest","user_id":"uid-c","joined_at":"2026-03-01T10:05:00Z","left_at":"0001-01-01T00:00:00Z"},
			"p1":{"id":"p1","name":"Doctor","role":"host","user_id":"uid-d","joined_at":"2026-03-01T10:00:01.5Z","left_at":"2026-03-01T10:59:00Z"},
			"p3":{"name":"Late","role":"guest","user_id":"uid-c","joined_at":"2026-03-01T10:30:00Z"}}}`
	tests := []struct {
		name     string
		answer   string
		call     func(t *testing.T, c *Client)
		method   string
		path     string
		wantBody string // "" for no body
	}{
		{
			name:   "create room",
			answer: `{"id":"room-1","name":"demo-appt-1","enabled":true,"description":"d","template_id":"tpl","region":"in","customer":"x"}`,
			call: func(t *testing.T, c *Client) {
				r, err := c.CreateRoom(t.Context(), CreateRoomParams{Name: "demo-appt-1", Description: "d", TemplateID: "tpl", Region: "in"})
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "room", r, Room{ID: "room-1", Name: "demo-appt-1", TemplateID: "tpl", Description: "d", Enabled: true})
			},
			method: "POST", path: "/v2/rooms",
			wantBody: `{"name":"demo-appt-1","description":"d","template_id":"tpl","region":"in"}`,
		},
		{
			name:   "create room, empty fields not sent",
			answer: `{"id":"room-2","name":"n","enabled":true,"template_id":"tpl"}`,
			call: func(t *testing.T, c *Client) {
				if _, err := c.CreateRoom(t.Context(), CreateRoomParams{Name: "n", TemplateID: "tpl"}); err != nil {
					t.Fatal(err)
				}
			},
			method: "POST", path: "/v2/rooms", wantBody: `{"name":"n","template_id":"tpl"}`,
		},
		{
			name:   "get session, id escaped, peers keyed by id",
			answer: sessionJSON,
			call: func(t *testing.T, c *Client) {
				s, err := c.GetSession(t.Context(), "sess/1")
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "id", s.ID, "sess/1")
				eq(t, "room", s.RoomID, "room-1")
				eq(t, "active", s.Active, false)
				eq(t, "created_at nanos", s.CreatedAt.Nanosecond(), 123456789)
				if len(s.Peers) != 3 {
					t.Fatalf("peers = %+v", s.Peers)
				}
				eq(t, "peer 0", s.Peers[0], SessionPeer{ID: "p1", UserID: "uid-d", Name: "Doctor", Role: "host",
					JoinedAt: ts("2026-03-01T10:00:01.5Z"), LeftAt: ts("2026-03-01T10:59:00Z")})
				eq(t, "peer 1 id", s.Peers[1].ID, "p2")
				eq(t, "peer 1 left_at 0001 absent", s.Peers[1].LeftAt.IsZero(), true)
				eq(t, "peer 2 id from key", s.Peers[2].ID, "p3")
			},
			method: "GET", path: "/v2/sessions/sess%2F1",
		},
		{
			name:   "get session, peers as array",
			answer: `{"id":"s","room_id":"r","active":true,"peers":[{"id":"p1","user_id":"u","joined_at":"2026-03-01T10:00:00Z"}]}`,
			call: func(t *testing.T, c *Client) {
				s, err := c.GetSession(t.Context(), "s")
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "active", s.Active, true)
				eq(t, "peers", len(s.Peers), 1)
			},
			method: "GET", path: "/v2/sessions/s",
		},
		{
			name:   "end room",
			answer: `{"message":"room is ending"}`,
			call: func(t *testing.T, c *Client) {
				if err := c.EndRoom(t.Context(), "room 1", "appointment over", true); err != nil {
					t.Fatal(err)
				}
			},
			method: "POST", path: "/v2/active-rooms/room%201/end-room", wantBody: `{"reason":"appointment over","lock":true}`,
		},
		{
			name:   "end room without lock",
			answer: `{}`,
			call: func(t *testing.T, c *Client) {
				if err := c.EndRoom(t.Context(), "r", "", false); err != nil {
					t.Fatal(err)
				}
			},
			method: "POST", path: "/v2/active-rooms/r/end-room", wantBody: `{"lock":false}`,
		},
		{
			name:   "recording url",
			answer: `{"id":"asset-1","path":"s3://b/x.mp4","url":"https://signed.example/x.mp4?sig=1","expiry":3600}`,
			call: func(t *testing.T, c *Client) {
				before := time.Now()
				u, exp, err := c.RecordingURL(t.Context(), "asset-1")
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "url", u, "https://signed.example/x.mp4?sig=1")
				if exp.Before(before.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour)) {
					t.Errorf("expiresAt = %v, want about an hour from now", exp)
				}
			},
			method: "GET", path: "/v2/recording-assets/asset-1/presigned-url",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t, fakeResponse{status: 200, body: tt.answer})
			c := newTestClient(t, f)
			tt.call(t, c)
			reqs := f.seen()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			eq(t, "method", r.method, tt.method)
			eq(t, "path", r.path, tt.path)
			eq(t, "Accept", r.header.Get("Accept"), "application/json")
			checkManagementToken(t, r.header)
			if tt.wantBody == "" {
				eq(t, "body", string(r.body), "")
			} else {
				eq(t, "Content-Type", r.header.Get("Content-Type"), "application/json")
				jsonEqual(t, r.body, tt.wantBody)
			}
		})
	}
}

func TestClientRefusesBadIDsBeforeSending(t *testing.T) {
	f := newFakeHMS(t)
	c := newTestClient(t, f)
	ctx := t.Context()
	errs := []error{
		func() error { _, err := c.GetSession(ctx, ""); return err }(),
		func() error { _, err := c.GetSession(ctx, ".."); return err }(),
		c.EndRoom(ctx, ".", "", false),
		func() error { _, _, err := c.RecordingURL(ctx, ""); return err }(),
		func() error { _, err := c.CreateRoom(ctx, CreateRoomParams{}); return err }(),
	}
	for i, err := range errs {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("call %d: %v, want ErrInvalidArgument", i, err)
		}
	}
	if n := len(f.seen()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestClientRetries(t *testing.T) {
	tests := []struct {
		name     string
		script   []fakeResponse
		requests int
		want     error // nil for success
		status   int
	}{
		{"500 retried to the limit", []fakeResponse{{status: 500, body: `{"message":"boom"}`}}, 3, ErrUnavailable, 500},
		{"503 retried to the limit", []fakeResponse{{status: 503}}, 3, ErrUnavailable, 503},
		{"429 retried to the limit", []fakeResponse{{status: 429}}, 3, ErrUnavailable, 429},
		{"502 then success", []fakeResponse{{status: 502}, {status: 200, body: `{"id":"s"}`}}, 2, nil, 0},
		{"429 twice then success", []fakeResponse{{status: 429}, {status: 429}, {status: 200, body: `{"id":"s"}`}}, 3, nil, 0},
		{"400 not retried", []fakeResponse{{status: 400, body: `{"message":"bad name"}`}}, 1, ErrRefused, 400},
		{"404 not retried", []fakeResponse{{status: 404}}, 1, ErrRefused, 404},
		{"409 not retried", []fakeResponse{{status: 409}}, 1, ErrRefused, 409},
		{"unreadable 200 not retried", []fakeResponse{{status: 200, body: `{"id":`}}, 1, ErrUnavailable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t, tt.script...)
			c := newTestClient(t, f)
			_, err := c.GetSession(t.Context(), "s")
			if n := len(f.seen()); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			other := ErrRefused
			if tt.want == ErrRefused {
				other = ErrUnavailable
			}
			if errors.Is(err, other) {
				t.Errorf("err %v is both refused and unavailable", err)
			}
			var apiErr *APIError
			if tt.status != 0 && (!errors.As(err, &apiErr) || apiErr.Status != tt.status) {
				t.Errorf("err = %v, want APIError %d", err, tt.status)
			}
			if !strings.Contains(err.Error(), "get session s") {
				t.Errorf("err %q lacks context", err)
			}
		})
	}
}

func TestClientUnauthorizedRemintsOnce(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFakeHMS(t, fakeResponse{status: status}, fakeResponse{status: 200, body: `{"id":"s"}`})
			c := newTestClient(t, f)
			if _, err := c.GetSession(t.Context(), "s"); err != nil {
				t.Fatal(err)
			}
			reqs := f.seen()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			first, second := checkManagementToken(t, reqs[0].header), checkManagementToken(t, reqs[1].header)
			if first == second {
				t.Error("retried with the refused token")
			}
			eq(t, "mints", c.tokens.mints, 2)
			// The new token is cached: the next call mints nothing.
			if _, err := c.GetSession(t.Context(), "s"); err != nil {
				t.Fatal(err)
			}
			eq(t, "mints after another call", c.tokens.mints, 2)
		})
		t.Run(http.StatusText(status)+" twice", func(t *testing.T) {
			f := newFakeHMS(t, fakeResponse{status: status, body: `{"message":"invalid token"}`})
			c := newTestClient(t, f)
			_, err := c.GetSession(t.Context(), "s")
			var apiErr *APIError
			if !errors.Is(err, ErrRefused) || !errors.As(err, &apiErr) || apiErr.Status != status {
				t.Fatalf("err = %v, want refused %d", err, status)
			}
			eq(t, "requests", len(f.seen()), 2)
			eq(t, "mints", c.tokens.mints, 2)
		})
	}
}

// TestClientBackoffStopsAtDeadline pins that a call gives up by its
// context's deadline rather than after its attempts. The bounds are far from
// what a correct client takes (it returns at the deadline or at once) and
// far below what a broken one takes (tens of seconds), so that a loaded
// machine cannot fail a good client: 503 forever with 1000 attempts of up to
// 100 ms would run ~50 s if the deadline were ignored; a Retry-After of 60 s
// slept through would end only at the 20 s deadline; an answer that takes
// 60 s would hold a request not bound to its context.
func TestClientBackoffStopsAtDeadline(t *testing.T) {
	tests := []struct {
		name     string
		answer   fakeResponse
		deadline time.Duration
		maxTotal time.Duration
		requests int // 0: any number
	}{
		{"503 forever", fakeResponse{status: 503}, 400 * time.Millisecond, 10 * time.Second, 0},
		{"Retry-After beyond the deadline", fakeResponse{status: 429, header: map[string]string{"Retry-After": "60"}}, 20 * time.Second, 10 * time.Second, 1},
		{"answer slower than the deadline", fakeResponse{status: 200, delay: 60 * time.Second}, 300 * time.Millisecond, 10 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t, tt.answer)
			c := newTestClient(t, f, WithRetry(1000, 20*time.Millisecond, 100*time.Millisecond))
			ctx, cancel := context.WithTimeout(t.Context(), tt.deadline)
			defer cancel()
			start := time.Now()
			_, err := c.GetSession(ctx, "s")
			took := time.Since(start)
			if took > tt.maxTotal {
				t.Errorf("returned after %v, want within %v", took, tt.maxTotal)
			}
			if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want ErrUnavailable and DeadlineExceeded", err)
			}
			if n := len(f.seen()); tt.requests > 0 && n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
		})
	}
}

func TestClientHonoursRetryAfter(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 429, header: map[string]string{"Retry-After": "1"}}, fakeResponse{status: 200, body: `{"id":"s"}`})
	c := newTestClient(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := c.GetSession(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("retried after %v, want the 1 s Retry-After", took)
	}
}

func TestClientNetworkError(t *testing.T) {
	f := newFakeHMS(t)
	c := newTestClient(t, f)
	f.Close()
	_, err := c.GetSession(t.Context(), "s")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestClientResponseCap(t *testing.T) {
	big := `{"id":"s","pad":"` + strings.Repeat("x", 2<<20) + `"}`
	// A retry would get the small answer and succeed: the error itself
	// says there was none (a count of requests at the fake also counts any
	// stray request to a port the OS handed out again, under load).
	f := newFakeHMS(t, fakeResponse{status: 200, body: big}, fakeResponse{status: 200, body: `{"id":"s"}`})
	c := newTestClient(t, f)
	_, err := c.GetSession(t.Context(), "s")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v, want a size-cap error, not retried", err)
	}
}

func TestClientErrorsCarryNoToken(t *testing.T) {
	var echoed string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echoed = r.Header.Get("Authorization")
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"message":"bad token `+echoed+` with secret `+testCreds.Secret+`"}`)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, testCreds, WithRetry(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSession(t.Context(), "s")
	if err == nil {
		t.Fatal("no error")
	}
	tok := strings.TrimPrefix(echoed, "Bearer ")
	if tok == "" || strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), testCreds.Secret) {
		t.Errorf("error leaks a credential: %v", err)
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q lost 100ms's message", err)
	}
}

func TestNewClientValidation(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		creds Credentials
		opts  []ClientOption
		want  error
	}{
		{"ftp", "ftp://api.100ms.live/v2", testCreds, nil, ErrInvalidArgument},
		{"no host", "https:///v2", testCreds, nil, ErrInvalidArgument},
		{"query", "https://api.100ms.live/v2?x=1", testCreds, nil, ErrInvalidArgument},
		{"no secret", "", Credentials{AccessKey: "a"}, nil, ErrMissingCredentials},
		{"zero attempts", "", testCreds, []ClientOption{WithRetry(0, 0, 0)}, ErrInvalidArgument},
		{"max below base", "", testCreds, []ClientOption{WithRetry(3, time.Second, time.Millisecond)}, ErrInvalidArgument},
		{"management TTL too short", "", testCreds, []ClientOption{WithManagementTTL(time.Second)}, ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewClient(tt.base, tt.creds, tt.opts...); !errors.Is(err, tt.want) {
				t.Errorf("NewClient = %v, want %v", err, tt.want)
			}
		})
	}
	c, err := NewClient("", testCreds)
	if err != nil || c.base != DefaultBaseURL {
		t.Errorf("default base: %v, %v", c, err)
	}
}
