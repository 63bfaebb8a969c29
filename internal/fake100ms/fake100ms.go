// Package fake100ms is a fake of 100ms's REST API for tests and the load
// tools, following 100ms's current documentation (docs/100ms.md,
// reference/100ms-current): rooms, end-room, sessions, the peers of an
// active room, their roles and their removal, the check of a join token
// (VerifyJoinToken), room recordings (composite, with transcript and
// summary), recording assets and presigned URLs, the webhooks 100ms sends
// for role changes, removed peers and recordings, and the webhook delivery
// history with its replay. It is test
// support only: nothing outside tests and cmd/ imports it.
//
// Every request must carry a management token (HS256 with the app secret,
// "type": "management", "version": 2, an expiry). The fake serves the API at
// its root and under /v2, so that HMS_API_BASE may be either.
//
// What 100ms does not document, the fake decides, and says so where it
// does: end-room on a room with no active session answers 404; a failed
// delivery's time in the history is when it failed; a replayed event that
// the webhook accepts (2xx) counts as delivered from then on.
//
// For active rooms and recordings (active-rooms--list-peers.md,
// active-rooms--update-a-peer.md, active-rooms--remove-peers.md,
// recordings--start-recording-for-room.md,
// recordings--stop-recording-for-room.md document no error answers): the
// active-room routes and a recording start answer 404 for a room with no
// active session, update-a-peer and remove-peers 404 for a peer_id not
// connected, and remove-peers 200 for a role no peer has; a peer removed
// leaves at once, and a session whose last peer is removed stays active,
// as after LeavePeer (the fake sends no session.close.success); a start
// while the room's recording runs answers 409; a stop with none running
// answers 404. One recording runs per room. A role update to the role the
// peer has is recorded but sends no role.change.success, since no role
// changed. A recording's id (the REST answer's) is the recording_id of
// beam.recording.success and of the transcription events and the job_id
// of its assets, while the beam.* events' beam_id and job_id are other ids:
// no page says they are equal, so code must not match a beam.* event to a
// recording by them (the room and session do). A recording runs as soon as
// it is started, and its files, transcripts and summary are ready as soon
// as it is stopped; a start that asks for a transcript without output modes
// gets the three of the dashboard's default. An end-room stops the room's
// recording with reason "client request", as the webhook page's "Beam Stop
// Reason" says.
//
// The webhooks it sends on its own go, after the answer of the call that
// caused them, one at a time in the order they were made, to the webhook
// of SetWebhook, with 100ms's retries (SetWebhookRetryDelays); each outcome
// joins the delivery history. WaitWebhooks waits for them.
package fake100ms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultReplayInterval is 100ms's documented replay pace: 10 events per
// second.
const DefaultReplayInterval = 100 * time.Millisecond

// Room is a 100ms room as the fake keeps it.
type Room struct {
	ID, Name, Description, TemplateID, Region string
	Enabled                                   bool
	CreatedAt, UpdatedAt                      time.Time
}

// Session is a session of a room; Peers are every join, with LeftAt zero
// while the peer is in it.
type Session struct {
	ID, RoomID           string
	Active               bool
	CreatedAt, UpdatedAt time.Time
	Peers                []Peer
}

// Peer is one join of a session.
type Peer struct {
	ID, Name, Role, UserID string
	JoinedAt, LeftAt       time.Time
}

// Asset is a recording asset (a recording, transcript, summary, chat file).
type Asset struct {
	ID, JobID, RoomID, SessionID string
	Type, Path, Status           string // Status defaults to "completed"
	Duration                     int    // seconds
	Size                         int64
	CreatedAt                    time.Time
	Metadata                     map[string]any
}

// EndRequest is one end-room request that ended a session.
type EndRequest struct {
	RoomID, SessionID, Reason string
	Lock                      bool
	At                        time.Time
}

// Replay is the state of one replay workflow.
type Replay struct {
	WorkflowID string
	// Status is "Running", "completed", "completed_with_failures" or
	// "failed", as 100ms reports it.
	Status                   string
	Total, Completed, Failed int
	FailedEvents             []string // event ids
	Filters                  ReplayFilters
}

// ReplayFilters are the filters of a replay request, defaults applied.
type ReplayFilters struct {
	StartTime  time.Time `json:"start_time"`
	EndTime    time.Time `json:"end_time"`
	RoomID     string    `json:"room_id"`
	EventNames []string  `json:"event_names"`
	Status     string    `json:"status"`
	Limit      int       `json:"limit"`
	Offset     int       `json:"offset"`
}

// delivery is one webhook delivery in the history.
type delivery struct {
	eventID, eventName, roomID string
	at                         time.Time // when it failed, or was last delivered
	failed                     bool
	reason                     string
	body                       []byte
	data                       map[string]any // session_id, peer_id, user_id
}

// Server is a running fake. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give the code under test as HMS_API_BASE.
	URL string

	http     *httptest.Server
	secret   string
	idPrefix string // random per fake, in every id it makes
	down     atomic.Bool
	slow     atomic.Int64 // nanoseconds
	newRooms atomic.Bool  // every POST /rooms makes a room, see SetNewRoomPerCreate

	ctx    context.Context // ends the replays when the server closes
	cancel context.CancelFunc
	wg     sync.WaitGroup
	client *http.Client

	mu             sync.Mutex
	nextID         int
	rooms          map[string]*Room  // by id
	roomIDs        map[string]string // lower-case name → id
	sessions       map[string]*Session
	assets         map[string]*Asset
	deliveries     []*delivery
	ends           []EndRequest
	replays        []*Replay
	running        map[string]*Replay // by filters, while running
	calls          map[string]int     // by route pattern
	sessionGets    map[string]int
	bearers        map[string]bool
	roomRequests   int
	authFailures   int
	webhookURL     string
	webhookHeader  http.Header
	replayInterval time.Duration

	peerUpdates []PeerUpdate
	removals    []Removal
	recordings  map[string]*recording // running, by room id
	recStarts   []RecordingStart
	recStops    []RecordingStop

	outbox       []outgoing // webhooks to send, in order
	sending      bool       // sendQueued runs
	pendingHooks int        // queued or being delivered
	retryDelays  []time.Duration
}

// New starts a fake on a free local port. secret is the 100ms app secret
// whose management tokens it accepts; with an empty secret it checks the
// tokens' claims but not their signature (for tools that do not know the
// server's secret). Close it when done.
func New(secret string) *Server {
	s := newServer(secret)
	s.http = httptest.NewServer(s.handler())
	s.URL = s.http.URL
	return s
}

// Listen starts a fake on addr (host:port), for the command-line tools.
func Listen(addr, secret string) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake 100ms: listen on %s: %w", addr, err)
	}
	s := newServer(secret)
	s.http = httptest.NewUnstartedServer(s.handler())
	_ = s.http.Listener.Close()
	s.http.Listener = l
	s.http.Start()
	s.URL = s.http.URL
	return s, nil
}

func newServer(secret string) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		secret: secret, ctx: ctx, cancel: cancel,
		client:         &http.Client{Timeout: 30 * time.Second},
		rooms:          map[string]*Room{},
		roomIDs:        map[string]string{},
		sessions:       map[string]*Session{},
		assets:         map[string]*Asset{},
		running:        map[string]*Replay{},
		calls:          map[string]int{},
		sessionGets:    map[string]int{},
		bearers:        map[string]bool{},
		recordings:     map[string]*recording{},
		replayInterval: DefaultReplayInterval,
		retryDelays:    defaultRetryDelays,
		idPrefix:       randomHex(4),
	}
}

// Close stops the replays and webhooks in flight and the server.
func (s *Server) Close() {
	// Under s.mu, so that send, which checks s.ctx under it, never starts
	// a sender once Wait may have begun.
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
	s.http.Close()
}

// SetDown makes the fake answer 503 to every request (true) or serve again.
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// SetSlow delays every answer by d (0: none), for deadline tests.
func (s *Server) SetSlow(d time.Duration) { s.slow.Store(int64(d)) }

// SetNewRoomPerCreate makes every POST /rooms create a new room, even for
// a name that has one (the newest room then holds the name), or restores
// 100ms's documented create-by-name (false). 100ms documents no guarantee
// for two creates of one name racing each other: under this option,
// callers that race to create an appointment's room each get another one,
// and only the code that records the room can make them agree.
func (s *Server) SetNewRoomPerCreate(on bool) { s.newRooms.Store(on) }

// SetWebhook sets where replays and the fake's own webhooks deliver and the
// headers they carry (the secret header configured in 100ms's dashboard).
func (s *Server) SetWebhook(url string, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookHeader = url, header.Clone()
}

// SetReplayInterval sets the pause between two replayed events
// (DefaultReplayInterval, 100ms's 10 per second, unless set).
func (s *Server) SetReplayInterval(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replayInterval = d
}

// newID makes an id unique across fakes too, as 100ms's are: tests that
// share a Firestore project but not a fake must never see one room id
// handed to two appointments.
func (s *Server) newID(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s%s%012d", prefix, s.idPrefix, s.nextID)
}

// AddRoom records a room as if created earlier; an empty ID gets one. It
// returns the room as stored.
func (s *Server) AddRoom(r Room) Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.ID == "" {
		r.ID = s.newID("room")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	s.rooms[r.ID] = &r
	if r.Name != "" {
		s.roomIDs[strings.ToLower(r.Name)] = r.ID
	}
	return r
}

// Room returns a room by id.
func (s *Server) Room(id string) (Room, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	if !ok {
		return Room{}, false
	}
	return *r, true
}

// RoomByName returns a room by name, ignoring case as 100ms does.
func (s *Server) RoomByName(name string) (Room, bool) {
	s.mu.Lock()
	id, ok := s.roomIDs[strings.ToLower(name)]
	s.mu.Unlock()
	if !ok {
		return Room{}, false
	}
	return s.Room(id)
}

// RoomCount is how many distinct rooms exist.
func (s *Server) RoomCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// RoomRequests is how many POST /rooms were answered with a room, new or
// existing: a client that creates a room per call shows up here even
// though the fake keeps one room per name.
func (s *Server) RoomRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roomRequests
}

// AddSession records a session (replacing one with its id); an empty ID
// gets one, which is returned.
func (s *Server) AddSession(sess Session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.ID == "" {
		sess.ID = s.newID("sess")
	}
	sess.Peers = append([]Peer(nil), sess.Peers...)
	s.sessions[sess.ID] = &sess
	return sess.ID
}

// Session returns a session as the fake now has it (after an end-room, say).
func (s *Server) Session(id string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	if !ok {
		return Session{}, false
	}
	c := *sess
	c.Peers = append([]Peer(nil), sess.Peers...)
	return c, true
}

// SessionGets is how many GET /sessions/{id} asked for that session.
func (s *Server) SessionGets(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionGets[id]
}

// AddAsset records a recording asset; an empty ID gets one, which is
// returned.
func (s *Server) AddAsset(a Asset) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addAssetLocked(a).ID
}

// AddFailedDelivery records a webhook (its exact body, as 100ms sent it)
// that 100ms gave up delivering now. See AddFailedDeliveryAt.
func (s *Server) AddFailedDelivery(body []byte) error {
	return s.AddFailedDeliveryAt(body, time.Now())
}

// AddFailedDeliveryAt records a webhook 100ms gave up delivering at "at":
// it appears in GET /analytics/webhooks?status=failed with that time, and a
// replay covering it re-sends the body with "is_replay": true. The body must
// be a webhook envelope with an id and a type.
func (s *Server) AddFailedDeliveryAt(body []byte, at time.Time) error {
	var env struct {
		ID   string         `json:"id"`
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.ID == "" || env.Type == "" {
		return fmt.Errorf("fake 100ms: a failed delivery must be a webhook with an id and a type (%v)", err)
	}
	d := &delivery{eventID: env.ID, eventName: env.Type, at: at.UTC(), failed: true, reason: "timeout",
		body: append([]byte(nil), body...), data: map[string]any{}}
	if r, ok := env.Data["room_id"].(string); ok {
		d.roomID = r
	}
	for _, k := range []string{"session_id", "peer_id", "user_id"} {
		if v, ok := env.Data[k]; ok {
			d.data[k] = v
		}
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return nil
}

// FailedDeliveries is how many deliveries are failed still (not yet
// replayed successfully).
func (s *Server) FailedDeliveries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, d := range s.deliveries {
		if d.failed {
			n++
		}
	}
	return n
}

// Ends lists the end-room requests that ended a session, in order.
func (s *Server) Ends() []EndRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]EndRequest(nil), s.ends...)
}

// Replays lists the replay workflows started, in order.
func (s *Server) Replays() []Replay {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Replay, len(s.replays))
	for i, r := range s.replays {
		out[i] = *r
		out[i].FailedEvents = append([]string(nil), r.FailedEvents...)
	}
	return out
}

// WaitReplays waits until no replay is running, or ctx ends.
func (s *Server) WaitReplays(ctx context.Context) error {
	for {
		s.mu.Lock()
		n := len(s.running)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fake 100ms: %d replays still running: %w", n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Calls is how many authorized requests reached a route, named by its
// pattern: "POST /rooms", "POST /rooms/{id}", "POST
// /active-rooms/{id}/end-room", "GET /active-rooms/{id}/peers", "GET
// /active-rooms/{id}/peers/{peer}", "POST /active-rooms/{id}/peers/{peer}",
// "POST /active-rooms/{id}/remove-peers", "POST
// /recordings/room/{id}/start", "POST /recordings/room/{id}/stop", "GET
// /sessions", "GET /sessions/{id}", "GET /recording-assets", "GET
// /recording-assets/{id}", "GET /recording-assets/{id}/presigned-url", "GET
// /analytics/webhooks", "POST /analytics/webhooks/replay", "GET
// /analytics/webhooks/replay/{id}".
func (s *Server) Calls(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[route]
}

// AuthFailures is how many requests were refused for their token.
func (s *Server) AuthFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authFailures
}

// BearerTokens are the distinct bearer tokens received, so that a test can
// check none of them reached a log.
func (s *Server) BearerTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.bearers))
	for t := range s.bearers {
		out = append(out, t)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkToken verifies a management token as 100ms does.
func (s *Server) checkToken(raw string) error {
	claims := jwt.MapClaims{}
	var err error
	if s.secret == "" {
		_, _, err = jwt.NewParser().ParseUnverified(raw, claims)
		if err == nil {
			var exp *jwt.NumericDate
			if exp, err = claims.GetExpirationTime(); err == nil && (exp == nil || exp.Before(time.Now())) {
				err = fmt.Errorf("expired or no exp")
			}
		}
	} else {
		_, err = jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(s.secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	}
	if err != nil {
		return err
	}
	if claims["type"] != "management" || claims["version"] != float64(2) || claims["access_key"] == nil {
		return fmt.Errorf("not a management token")
	}
	return nil
}
