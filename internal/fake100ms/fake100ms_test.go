package fake100ms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
)

const secret = "fake-secret-for-tests-0123456789"

var creds = hms.Credentials{AccessKey: "ak", Secret: secret}

func start(t *testing.T) (*Server, *hms.Client) {
	t.Helper()
	f := New(secret)
	t.Cleanup(f.Close)
	return f, client(t, f.URL)
}

func client(t *testing.T, base string) *hms.Client {
	t.Helper()
	c, err := hms.NewClient(base, creds, hms.WithRetry(2, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// get sends one raw request with a valid management token, for what the hms
// client does not ask (small pages, bad input).
func raw(t *testing.T, f *Server, method, path, body string) (int, map[string]any) {
	t.Helper()
	var got map[string]any
	var status int
	// The hms client mints the token; borrow it through a recording proxy.
	tok := managementToken(t, f)
	req, _ := http.NewRequest(method, f.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	_ = json.NewDecoder(resp.Body).Decode(&got)
	return status, got
}

// managementToken returns a token the hms client sent to the fake.
func managementToken(t *testing.T, f *Server) string {
	t.Helper()
	if toks := f.BearerTokens(); len(toks) > 0 {
		for _, tok := range toks {
			if f.checkToken(tok) == nil {
				return tok
			}
		}
	}
	_, _ = client(t, f.URL).ActiveSessions(t.Context(), "warm")
	for _, tok := range f.BearerTokens() {
		if f.checkToken(tok) == nil {
			return tok
		}
	}
	t.Fatal("no management token")
	return ""
}

func TestAuth(t *testing.T) {
	f, _ := start(t)
	other := client(t, f.URL)
	bad, _ := hms.NewClient(f.URL, hms.Credentials{AccessKey: "ak", Secret: "another-secret"}, hms.WithRetry(1, 0, 0))
	if _, err := bad.ActiveSessions(t.Context(), "r"); !errors.Is(err, hms.ErrRefused) {
		t.Errorf("other secret: %v, want refused", err)
	}
	join, _, err := hms.JoinToken(creds, hms.JoinParams{RoomID: "r", UserID: "u", Role: hms.RoleHost})
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"", "Bearer ", "Bearer " + join, "Basic x"} {
		req, _ := http.NewRequest("GET", f.URL+"/sessions?room_id=r", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %.20q: %d, want 401", auth, resp.StatusCode)
		}
	}
	// 2 by the other secret (first try and the fresh-token retry), 4 raw.
	if n := f.AuthFailures(); n != 6 {
		t.Errorf("auth failures = %d, want 6", n)
	}
	if n := f.Calls("GET /sessions"); n != 0 {
		t.Errorf("refused requests reached the route %d times", n)
	}
	if _, err := other.ActiveSessions(t.Context(), "r"); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("GET /sessions"); n != 1 {
		t.Errorf("GET /sessions calls = %d, want 1", n)
	}

	// Without a secret, claims are still checked: a join token is refused.
	open := New("")
	defer open.Close()
	anyKey, _ := hms.NewClient(open.URL, hms.Credentials{AccessKey: "k", Secret: "whatever"})
	if _, err := anyKey.ActiveSessions(t.Context(), "r"); err != nil {
		t.Errorf("no secret, management token: %v", err)
	}
	req, _ := http.NewRequest("GET", open.URL+"/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+join)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no secret, join token: %d, want 401", resp.StatusCode)
	}
}

func TestRooms(t *testing.T) {
	f, c := start(t)
	a, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "proj-appt-1", TemplateID: "tpl", Description: "d"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "PROJ-Appt-1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || !a.Enabled || a.TemplateID != "tpl" || b.TemplateID != "tpl" {
		t.Errorf("same name, other case: %+v then %+v", a, b)
	}
	if f.RoomCount() != 1 || f.RoomRequests() != 2 {
		t.Errorf("rooms %d, requests %d; want 1, 2", f.RoomCount(), f.RoomRequests())
	}
	if _, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "bad name!"}); !errors.Is(err, hms.ErrRefused) {
		t.Errorf("bad name: %v", err)
	}
	if err := c.EnableRoom(t.Context(), a.ID, false); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.Room(a.ID); r.Enabled {
		t.Error("room still enabled")
	}
	if err := c.EnableRoom(t.Context(), a.ID, true); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.RoomByName("proj-APPT-1"); !r.Enabled {
		t.Error("room not re-enabled")
	}
	if err := c.EnableRoom(t.Context(), "nope", true); !errors.Is(err, hms.ErrNotFound) {
		t.Errorf("unknown room: %v", err)
	}
}

func TestEndRoom(t *testing.T) {
	f, c := start(t)
	room := f.AddRoom(Room{Name: "r1", Enabled: true})
	joined := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	left := joined.Add(10 * time.Minute)
	sid := f.AddSession(Session{RoomID: room.ID, Active: true, CreatedAt: joined, Peers: []Peer{
		{ID: "p1", UserID: "doctor", Role: "host", JoinedAt: joined},
		{ID: "p2", UserID: "client", Role: "guest", JoinedAt: joined, LeftAt: left},
	}})
	f.AddSession(Session{RoomID: room.ID, Active: false, CreatedAt: joined.Add(-24 * time.Hour)})

	active, err := c.ActiveSessions(t.Context(), room.ID)
	if err != nil || len(active) != 1 || active[0].ID != sid || len(active[0].Peers) != 2 {
		t.Fatalf("active before: %+v, %v", active, err)
	}
	before := time.Now().UTC()
	if err := c.EndRoom(t.Context(), room.ID, "consultation over", true); err != nil {
		t.Fatal(err)
	}
	s, err := c.GetSession(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if s.Active || s.UpdatedAt.Before(before.Truncate(time.Millisecond)) {
		t.Errorf("session after end: active %t, updated %v", s.Active, s.UpdatedAt)
	}
	for _, p := range s.Peers {
		switch p.ID {
		case "p1":
			if p.LeftAt.Before(before.Truncate(time.Millisecond)) {
				t.Errorf("p1 left_at = %v, want the end", p.LeftAt)
			}
		case "p2":
			if !p.LeftAt.Equal(left) {
				t.Errorf("p2 left_at = %v, want %v kept", p.LeftAt, left)
			}
		}
	}
	ends := f.Ends()
	if len(ends) != 1 || ends[0].RoomID != room.ID || ends[0].SessionID != sid || ends[0].Reason != "consultation over" || !ends[0].Lock {
		t.Errorf("ends = %+v", ends)
	}
	if r, _ := f.Room(room.ID); r.Enabled {
		t.Error("lock did not disable the room")
	}
	if err := c.EndRoom(t.Context(), room.ID, "again", false); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("second end: %v, want ErrNotActive", err)
	}
	if active, err := c.ActiveSessions(t.Context(), room.ID); err != nil || len(active) != 0 {
		t.Errorf("active after: %+v, %v", active, err)
	}
	if n := f.SessionGets(sid); n != 1 {
		t.Errorf("session gets = %d, want 1", n)
	}
	// Without lock the room stays enabled.
	f.AddSession(Session{RoomID: room.ID, Active: true, Peers: []Peer{{ID: "p3", JoinedAt: time.Now()}}})
	_ = c.EnableRoom(t.Context(), room.ID, true)
	if err := c.EndRoom(t.Context(), room.ID, "", false); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.Room(room.ID); !r.Enabled {
		t.Error("end without lock disabled the room")
	}
}

func TestSessionsPagination(t *testing.T) {
	f, c := start(t)
	t0 := time.Now().Add(-time.Hour)
	for i := range 150 {
		f.AddSession(Session{RoomID: "busy", Active: true, CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	f.AddSession(Session{RoomID: "busy", Active: false})
	f.AddSession(Session{RoomID: "other", Active: true})
	got, err := c.ActiveSessions(t.Context(), "busy")
	if err != nil || len(got) != 150 {
		t.Fatalf("active sessions: %d, %v", len(got), err)
	}
	if !got[0].CreatedAt.After(got[149].CreatedAt) {
		t.Error("not newest first")
	}
	if n := f.Calls("GET /sessions"); n != 2 {
		t.Errorf("pages = %d, want 2", n)
	}
	status, page1 := raw(t, f, "GET", "/sessions?room_id=busy&limit=10", "")
	if status != 200 || len(page1["data"].([]any)) != 10 {
		t.Fatalf("page 1: %d %v", status, page1)
	}
	_, page2 := raw(t, f, "GET", "/sessions?room_id=busy&limit=10&start="+page1["last"].(string), "")
	first2 := page2["data"].([]any)[0].(map[string]any)["id"]
	if first2 == page1["last"] {
		t.Error("start is inclusive")
	}
	if status, _ := raw(t, f, "GET", "/sessions?active=maybe", ""); status != 400 {
		t.Errorf("active=maybe: %d", status)
	}
}

func TestAssetsAndPresignedURLs(t *testing.T) {
	f, c := start(t)
	a1 := f.AddAsset(Asset{RoomID: "r", SessionID: "s1", Type: "room-composite", Path: "gs://b/1.mp4", Duration: 100, Size: 9})
	f.AddAsset(Asset{RoomID: "r", SessionID: "s1", Type: "transcript", Path: "gs://b/1.txt", Metadata: map[string]any{"output_mode": "txt"}})
	f.AddAsset(Asset{RoomID: "r", SessionID: "s2", Type: "room-composite", Path: "gs://b/2.mp4"})
	got, err := c.ListRecordingAssets(t.Context(), "r", "s1")
	if err != nil || len(got) != 2 {
		t.Fatalf("assets: %+v, %v", got, err)
	}
	if got[0].ID != a1 || got[0].Type != "room-composite" || got[0].Path != "gs://b/1.mp4" || got[0].Status != "completed" ||
		got[0].Duration != 100*time.Second || got[0].Size != 9 || got[0].RoomID != "r" || got[0].SessionID != "s1" {
		t.Errorf("asset = %+v", got[0])
	}
	if string(got[1].Metadata) != `{"output_mode":"txt"}` {
		t.Errorf("metadata = %s", got[1].Metadata)
	}
	if all, _ := c.ListRecordingAssets(t.Context(), "r", ""); len(all) != 3 {
		t.Errorf("room assets = %d, want 3", len(all))
	}
	before := time.Now()
	p1, err := c.PresignURL(t.Context(), a1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.PresignURL(t.Context(), a1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p1.URL == p2.URL || !strings.Contains(p1.URL, a1) || p1.Path != "gs://b/1.mp4" {
		t.Errorf("urls %q, %q", p1.URL, p2.URL)
	}
	if d := p1.ExpiresAt.Sub(before); d < time.Hour-time.Second || d > time.Hour+time.Minute {
		t.Errorf("1h url expires in %v", d)
	}
	if d := p2.ExpiresAt.Sub(before); d < 72*time.Hour-time.Second || d > 72*time.Hour+time.Minute {
		t.Errorf("default url expires in %v, want 100ms's 3 days", d)
	}
	if _, err := c.PresignURL(t.Context(), "nope", 0); !errors.Is(err, hms.ErrNotFound) {
		t.Errorf("unknown asset: %v", err)
	}
	if n := f.Calls("GET /recording-assets/{id}/presigned-url"); n != 3 {
		t.Errorf("presign calls = %d", n)
	}
}

// webhookSink records the webhooks the fake replays.
type webhookSink struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	at     []time.Time
	header []string
	refuse string // an event id answered 500
}

func newSink(t *testing.T) *webhookSink {
	s := &webhookSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.at = append(s.at, time.Now())
		s.header = append(s.header, r.Header.Get("X-Webhook-Secret"))
		refuse := s.refuse != "" && bytes.Contains(b, []byte(s.refuse))
		s.mu.Unlock()
		if refuse {
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func event(id, typ, room string) []byte {
	return []byte(`{"version":"2.0","id":"` + id + `","account_id":"acc","app_id":"app","timestamp":"2026-01-01T10:00:00Z","type":"` + typ +
		`","data":{"room_id":"` + room + `","session_id":"sess-` + id + `","peer_id":"peer-` + id + `","user_id":"u"}}`)
}

func TestFailedDeliveriesAndReplay(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	sink.refuse = "ev-3"
	f.SetWebhook(sink.URL, http.Header{"X-Webhook-Secret": {"hook-secret"}})
	const interval = 40 * time.Millisecond
	f.SetReplayInterval(interval)
	now := time.Now()
	if err := f.AddFailedDeliveryAt(event("ev-0", "peer.join.success", "r1"), now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{"session.open.success", "peer.join.success", "session.close.success"} {
		id := "ev-" + string(rune('1'+i))
		if err := f.AddFailedDelivery(event(id, typ, "r1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.AddFailedDelivery([]byte(`{"type":"x"}`)); err == nil {
		t.Error("a body without id was accepted")
	}

	got, err := c.FailedWebhooks(t.Context(), now.Add(-time.Hour), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].EventID != "ev-1" || got[0].OriginalEventName != "session.open.success" ||
		got[0].EventName != "reporter.webhook.delivery.failed" || got[0].RoomID != "r1" || got[0].ErrorReason == "" {
		t.Fatalf("failed deliveries = %+v", got)
	}
	if !bytes.Contains(got[0].EventData, []byte(`"session_id":"sess-ev-1"`)) {
		t.Errorf("event data = %s", got[0].EventData)
	}

	begin := time.Now()
	rp, err := c.ReplayWebhooks(t.Context(), now.Add(-time.Hour), time.Time{}, "", "failed")
	if err != nil || rp.Status != "started" || rp.WorkflowID == "" {
		t.Fatalf("replay: %+v, %v", rp, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f.WaitReplays(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	bodies, at, headers := sink.bodies, sink.at, sink.header
	sink.mu.Unlock()
	if len(bodies) != 3 {
		t.Fatalf("%d replayed, want 3 (the 48 h old one is outside the window)", len(bodies))
	}
	for i, b := range bodies {
		id := "ev-" + string(rune('1'+i))
		want := append([]byte(`{"is_replay":true,`), event(id, "", "")[1:]...)
		want = bytes.Replace(want, []byte(`"type":""`), []byte(`"type":"`+[]string{"session.open.success", "peer.join.success", "session.close.success"}[i]+`"`), 1)
		want = bytes.Replace(want, []byte(`"room_id":""`), []byte(`"room_id":"r1"`), 1)
		if !bytes.Equal(b, want) {
			t.Errorf("replayed %d = %s\nwant %s", i, b, want)
		}
		if headers[i] != "hook-secret" {
			t.Errorf("replay %d without the secret header", i)
		}
	}
	// 100ms's pace: the third event no sooner than two intervals in.
	if d := at[2].Sub(begin); d < 2*interval {
		t.Errorf("3 events in %v, faster than one per %v", d, interval)
	}
	rs := f.Replays()
	if len(rs) != 1 || rs[0].Status != "completed_with_failures" || rs[0].Completed != 2 || rs[0].Failed != 1 ||
		len(rs[0].FailedEvents) != 1 || rs[0].FailedEvents[0] != "ev-3" {
		t.Errorf("replay state = %+v", rs)
	}
	// Delivered ones leave the failed list; the refused one stays.
	if n := f.FailedDeliveries(); n != 2 {
		t.Errorf("failed deliveries left = %d, want 2 (ev-0, ev-3)", n)
	}
	got, err = c.FailedWebhooks(t.Context(), now.Add(-time.Hour), time.Time{})
	if err != nil || len(got) != 1 || got[0].EventID != "ev-3" {
		t.Errorf("failed after replay: %+v, %v", got, err)
	}
	status, st := raw(t, f, "GET", "/analytics/webhooks/replay/"+rp.WorkflowID, "")
	if status != 200 || st["status"] != "completed_with_failures" {
		t.Errorf("replay status: %d %v", status, st)
	}
}

func TestReplayIdenticalRequestReusesWorkflow(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	f.SetWebhook(sink.URL, nil)
	f.SetReplayInterval(time.Hour) // the second event waits: the replay stays running
	_ = f.AddFailedDelivery(event("a", "peer.join.success", "r"))
	_ = f.AddFailedDelivery(event("b", "peer.leave.success", "r"))
	start := time.Now().Add(-time.Minute)
	first, err := c.ReplayWebhooks(t.Context(), start, time.Time{}, "r", "failed")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.ReplayWebhooks(t.Context(), start, time.Time{}, "r", "failed")
	if err != nil || again.Status != "already_running" || again.WorkflowID != first.WorkflowID {
		t.Errorf("identical replay: %+v, %v; first %+v", again, err, first)
	}
	other, err := c.ReplayWebhooks(t.Context(), start, time.Time{}, "", "failed")
	if err != nil || other.Status != "started" || other.WorkflowID == first.WorkflowID {
		t.Errorf("different filters: %+v, %v", other, err)
	}
	// Close ends the running replays rather than waiting an hour.
	done := make(chan struct{})
	go func() { f.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waits for the replays")
	}
}

func TestWebhookWindowLimits(t *testing.T) {
	f, _ := start(t)
	old := time.Now().Add(-31 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct{ method, path, body, msg string }{
		{"GET", "/analytics/webhooks?start_time=" + old, "", "start_time must be within the last 30 days"},
		{"POST", "/analytics/webhooks/replay", `{"start_time":"` + old + `"}`, "start_time must be within the last 30 days"},
		{"POST", "/analytics/webhooks/replay", `{"start_time":"` + time.Now().Add(-20*24*time.Hour).UTC().Format(time.RFC3339) + `"}`,
			"end_time must be within 14 days after start_time"},
	} {
		status, got := raw(t, f, tt.method, tt.path, tt.body)
		if status != 400 || got["message"] != tt.msg {
			t.Errorf("%s %s: %d %v", tt.method, tt.path, status, got)
		}
	}
}

func TestDownSlowAndPrefix(t *testing.T) {
	f, _ := start(t)
	c := client(t, f.URL+"/v2")
	if _, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "n"}); err != nil {
		t.Fatalf("under /v2: %v", err)
	}
	f.SetDown(true)
	if _, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "n"}); !errors.Is(err, hms.ErrUnavailable) {
		t.Errorf("down: %v", err)
	}
	if f.RoomRequests() != 1 {
		t.Errorf("a request reached the route while down")
	}
	f.SetDown(false)
	f.SetSlow(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.CreateRoom(ctx, hms.CreateRoomParams{Name: "n"}); !errors.Is(err, hms.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow: %v", err)
	}
	f.SetSlow(0)
	if _, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "n"}); err != nil {
		t.Errorf("after: %v", err)
	}
}

func TestListen(t *testing.T) {
	f, err := Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasPrefix(f.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %q", f.URL)
	}
	c := client(t, f.URL)
	if _, err := c.GetSession(t.Context(), "none"); !errors.Is(err, hms.ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
	if _, err := Listen(strings.TrimPrefix(f.URL, "http://"), ""); err == nil {
		t.Error("listened twice on one port")
	}
}

func TestMarkReplay(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":"a","type":"t"}`:        `{"is_replay":true,"id":"a","type":"t"}`,
		` {"id":"a"} `:                 `{"is_replay":true,"id":"a"} `,
		`{}`:                           `{"is_replay":true}`,
		`{"is_replay":false,"id":"a"}`: `{"id":"a","is_replay":true}`,
	} {
		if got := string(markReplay([]byte(in))); got != want {
			t.Errorf("markReplay(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestNewRoomPerCreate(t *testing.T) {
	f, c := start(t)
	f.SetNewRoomPerCreate(true)
	a, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "proj-appt-2"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "proj-appt-2"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || a.Name != b.Name || f.RoomCount() != 2 {
		t.Errorf("two creates of one name: %+v then %+v, %d rooms; want two rooms", a, b, f.RoomCount())
	}
	if r, _ := f.RoomByName("proj-appt-2"); r.ID != b.ID {
		t.Errorf("the name names %s, want the newest room %s", r.ID, b.ID)
	}
	f.SetNewRoomPerCreate(false)
	if c2, err := c.CreateRoom(t.Context(), hms.CreateRoomParams{Name: "proj-appt-2"}); err != nil || c2.ID != b.ID {
		t.Errorf("back to create-by-name: %+v, %v; want %s", c2, err, b.ID)
	}
}
