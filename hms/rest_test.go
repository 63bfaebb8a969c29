package hms

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The answers below are the samples of 100ms's current documentation
// (reference/100ms-current), trimmed only where they elide ("......").

const docRoomDisabled = `{"id":"6316d5cfae8c4271df5d0554","name":"new-room-1662440912","enabled":false,"description":"",
	"customer_id":"627cdddff2e4e30487862ad1","recording_source_template":true,"enabled_source_template":true,
	"recording":null,"template_id":"","template":"","region":"","created_at":"2022-09-06T05:08:31.935Z",
	"updated_at":"2022-09-08T14:58:25.629819038Z","customer":"627cdddff2e4e30487862ad1","large_room":false}`

const docSessionList = `{"limit":10,"data":[
	{"id":"631a0fa23e3d9fdb00832596","room_id":"631a0f990e6ffae22efa610c","customer_id":"627cdddff2e4e30487862ad1","active":false,
	 "peers":{"a24687bb-de68-4276-9758-e1efa5e7e4d8":{"id":"a24687bb-de68-4276-9758-e1efa5e7e4d8","session_id":"631a0fa23e3d9fdb00832596",
	   "name":"asdas","role":"host","user_id":"Batch1-student1","joined_at":"2022-09-08T15:52:02.194Z","left_at":"2022-09-08T15:52:04.009Z"}},
	 "created_at":"2022-09-08T15:52:02.197Z","updated_at":"2022-09-08T15:52:04.015Z"},
	{"id":"63172c2d3e3d9fdb008322e1","room_id":"627ce5b8f2e4e30487862adb","customer_id":"627cdddff2e4e30487862ad1","active":false,
	 "peers":{"2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3":{"id":"2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3","session_id":"63172c2d3e3d9fdb008322e1",
	   "name":"Nixon K","role":"backstage","user_id":"Batch1-student10","joined_at":"2022-09-06T11:17:01.816Z","left_at":"2022-09-06T11:17:03.643Z"}},
	 "created_at":"2022-09-06T11:17:01.817Z","updated_at":"2022-09-06T11:17:03.65Z"}],
	"last":"63172c2d3e3d9fdb008322e1"}`

const docAssetList = `{"limit":1,"data":[{"id":"<asset-id>","job_id":"<job-id>","room_id":"<room-id>","session_id":"<session-id>",
	"type":"room-vod","path":"<storage-path>","thumbnails":null,"metadata":{"num_layers":"4","max_width":1280,"max_height":720},
	"duration":30,"size":364582,"status":"completed","created_at":"2023-03-30T06:23:03.216Z"}],"last":"<last-asset-id>"}`

const docWebhookEvents = `{"events":[{"event_id":"abc123-def456","event_name":"reporter.webhook.delivery.failed","room_id":"room-123",
	"event_timestamp":"2025-12-29T10:30:00Z","payload":{"event_data":{"session_id":"63f73bf05223403c9671c5c9",
	"peer_id":"c8e85ab4-d533-4de0-ba7c-4c58a4de6c74","user_id":"187a1a92-150f-4506-83b7-d8a1cd716fb0"},
	"webhook_url":"https://example.com/webhook","original_event_name":"session.open.success","error_reason":"timeout"}}],
	"pagination":{"current_page":1,"page_size":50,"total_pages":10,"total_items":500,"has_next":true,"has_prev":false},
	"summary":{"total_events":500}}`

const docReplay = `{"workflow_id":"webhook-replay-customer123-a1b2c3d4","status":"started",
	"message":"Webhook replay has been queued for processing","filters":{"start_time":"2025-12-28T00:00:00Z",
	"end_time":"2025-12-29T00:00:00Z","room_id":"","event_types":["peer.join.success","peer.leave.success"]}}`

// oneRequest checks what the fake received: one request of that method and
// path, with the management token, and returns it.
func oneRequest(t *testing.T, f *fakeHMS, method, path string) seenRequest {
	t.Helper()
	reqs := f.seen()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	eq(t, "method", r.method, method)
	eq(t, "path", r.path, path)
	checkManagementToken(t, r.header)
	return r
}

func eqQuery(t *testing.T, got url.Values, want string) {
	t.Helper()
	w, err := url.ParseQuery(want)
	if err != nil {
		t.Fatal(err)
	}
	if got.Encode() != w.Encode() {
		t.Errorf("query = %s, want %s", got.Encode(), w.Encode())
	}
}

func TestEnableRoom(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		f := newFakeHMS(t, fakeResponse{status: 200, body: docRoomDisabled})
		c := newTestClient(t, f)
		if err := c.EnableRoom(t.Context(), "room 1", enabled); err != nil {
			t.Fatal(err)
		}
		r := oneRequest(t, f, "POST", "/v2/rooms/room%201")
		eq(t, "query", r.query.Encode(), "")
		if enabled {
			jsonEqual(t, r.body, `{"enabled":true}`)
		} else {
			jsonEqual(t, r.body, `{"enabled":false}`)
		}
	}
}

// TestEndRoomNotActive pins the sentinel hmsEndCall turns into NOT_LIVE: a
// 404 from end-room is ErrNotActive (and still refused, not retried); other
// refusals and outages are not.
func TestEndRoomNotActive(t *testing.T) {
	tests := []struct {
		status    int
		requests  int
		notActive bool
		want      error
	}{
		{404, 1, true, ErrRefused},
		{400, 1, false, ErrRefused},
		{403, 2, false, ErrRefused}, // one more try with a fresh token
		{503, 3, false, ErrUnavailable},
	}
	for _, tt := range tests {
		f := newFakeHMS(t, fakeResponse{status: tt.status, body: `{"message":"x"}`})
		c := newTestClient(t, f)
		err := c.EndRoom(t.Context(), "r", "consultation over", true)
		eq(t, "requests", len(f.seen()), tt.requests)
		if errors.Is(err, ErrNotActive) != tt.notActive || !errors.Is(err, tt.want) {
			t.Errorf("%d: err = %v, want not-active %t and %v", tt.status, err, tt.notActive, tt.want)
		}
	}
}

func TestActiveSessions(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docSessionList})
	c := newTestClient(t, f)
	got, err := c.ActiveSessions(t.Context(), "room-1")
	if err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "GET", "/v2/sessions")
	eqQuery(t, r.query, "room_id=room-1&active=true&limit=100")
	eq(t, "body", string(r.body), "")
	if len(got) != 2 {
		t.Fatalf("sessions = %+v", got)
	}
	s := got[0]
	eq(t, "id", s.ID, "631a0fa23e3d9fdb00832596")
	eq(t, "room", s.RoomID, "631a0f990e6ffae22efa610c")
	eq(t, "active", s.Active, false)
	eq(t, "created_at", s.CreatedAt, ts("2022-09-08T15:52:02.197Z"))
	eq(t, "updated_at", s.UpdatedAt, ts("2022-09-08T15:52:04.015Z"))
	if len(s.Peers) != 1 {
		t.Fatalf("peers = %+v", s.Peers)
	}
	eq(t, "peer", s.Peers[0], SessionPeer{ID: "a24687bb-de68-4276-9758-e1efa5e7e4d8", UserID: "Batch1-student1",
		Name: "asdas", Role: "host", JoinedAt: ts("2022-09-08T15:52:02.194Z"), LeftAt: ts("2022-09-08T15:52:04.009Z")})
	eq(t, "second", got[1].ID, "63172c2d3e3d9fdb008322e1")

	f = newFakeHMS(t, fakeResponse{status: 200, body: `{"limit":10,"data":[],"last":""}`})
	c = newTestClient(t, f)
	if got, err := c.ListSessions(t.Context(), "room-1", false); err != nil || len(got) != 0 {
		t.Fatalf("inactive: %v, %v", got, err)
	}
	eqQuery(t, oneRequest(t, f, "GET", "/v2/sessions").query, "room_id=room-1&active=false&limit=100")
}

// TestListPagination pins that every page is read (start = the previous
// page's last) and that an item repeated at a page boundary counts once.
func TestListPagination(t *testing.T) {
	page := func(limit int, last string, ids ...string) fakeResponse {
		var data []string
		for _, id := range ids {
			data = append(data, `{"id":"`+id+`","room_id":"r","active":true}`)
		}
		return fakeResponse{status: 200, body: `{"limit":` + itoa(limit) + `,"data":[` + strings.Join(data, ",") + `],"last":"` + last + `"}`}
	}
	f := newFakeHMS(t, page(2, "s2", "s1", "s2"), page(2, "s3", "s2", "s3"), page(2, "s4", "s4"))
	c := newTestClient(t, f)
	got, err := c.ActiveSessions(t.Context(), "r")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	eq(t, "ids", strings.Join(ids, ","), "s1,s2,s3,s4")
	reqs := f.seen()
	eq(t, "requests", len(reqs), 3)
	eq(t, "first start", reqs[0].query.Get("start"), "")
	eq(t, "second start", reqs[1].query.Get("start"), "s2")
	eq(t, "third start", reqs[2].query.Get("start"), "s3")

	// A server that keeps answering the same full page ends the loop.
	f = newFakeHMS(t, page(2, "s2", "s1", "s2"))
	c = newTestClient(t, f)
	if got, err := c.ActiveSessions(t.Context(), "r"); err != nil || len(got) != 2 {
		t.Fatalf("repeated page: %v, %v", got, err)
	}
	eq(t, "repeated page requests", len(f.seen()), 2)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestListRecordingAssets(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docAssetList}, fakeResponse{status: 200, body: `{"limit":1,"data":[],"last":""}`})
	c := newTestClient(t, f)
	got, err := c.ListRecordingAssets(t.Context(), "<room-id>", "<session-id>")
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.seen()
	eq(t, "requests", len(reqs), 2)
	eq(t, "path", reqs[0].path, "/v2/recording-assets")
	checkManagementToken(t, reqs[0].header)
	eqQuery(t, reqs[0].query, "room_id=<room-id>&session_id=<session-id>&limit=100")
	eqQuery(t, reqs[1].query, "room_id=<room-id>&session_id=<session-id>&limit=100&start=<last-asset-id>")
	if len(got) != 1 {
		t.Fatalf("assets = %+v", got)
	}
	a := got[0]
	eq(t, "id", a.ID, "<asset-id>")
	eq(t, "job", a.JobID, "<job-id>")
	eq(t, "room", a.RoomID, "<room-id>")
	eq(t, "session", a.SessionID, "<session-id>")
	eq(t, "type", a.Type, "room-vod")
	eq(t, "path", a.Path, "<storage-path>")
	eq(t, "status", a.Status, "completed")
	eq(t, "duration", a.Duration, 30*time.Second)
	eq(t, "size", a.Size, int64(364582))
	eq(t, "created", a.CreatedAt, ts("2023-03-30T06:23:03.216Z"))
	jsonEqual(t, a.Metadata, `{"num_layers":"4","max_width":1280,"max_height":720}`)

	f = newFakeHMS(t, fakeResponse{status: 200, body: `{"limit":10,"data":[]}`})
	c = newTestClient(t, f)
	if _, err := c.ListRecordingAssets(t.Context(), "r", ""); err != nil {
		t.Fatal(err)
	}
	eqQuery(t, oneRequest(t, f, "GET", "/v2/recording-assets").query, "room_id=r&limit=100")
}

func TestPresignURL(t *testing.T) {
	now := time.Now().Truncate(time.Millisecond)
	tests := []struct {
		validFor time.Duration
		query    string
	}{
		{0, ""},
		{90 * time.Second, "presign_duration=90"},
		{1500 * time.Millisecond, "presign_duration=2"},
	}
	for _, tt := range tests {
		f := newFakeHMS(t, fakeResponse{status: 200, body: `{"id":"asset-1","path":"s3://b/x.mp4","url":"https://signed.example/x?sig=1","expiry":3600}`})
		c := newTestClient(t, f, withClock(func() time.Time { return now }))
		p, err := c.PresignURL(t.Context(), "asset/1", tt.validFor)
		if err != nil {
			t.Fatal(err)
		}
		r := oneRequest(t, f, "GET", "/v2/recording-assets/asset%2F1/presigned-url")
		eqQuery(t, r.query, tt.query)
		eq(t, "answer", p, PresignedURL{AssetID: "asset-1", Path: "s3://b/x.mp4", URL: "https://signed.example/x?sig=1", ExpiresAt: now.Add(time.Hour).UTC()})
	}
	f := newFakeHMS(t)
	c := newTestClient(t, f)
	if _, err := c.PresignURL(t.Context(), "a", -time.Second); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative duration: %v", err)
	}
	eq(t, "requests", len(f.seen()), 0)
}

func TestFailedWebhooks(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	last := `{"events":[{"event_id":"e2","event_name":"reporter.webhook.delivery.failed","room_id":"r2",
		"event_timestamp":"2025-12-29T10:31:00Z","payload":{"original_event_name":"peer.leave.success"}}],
		"pagination":{"current_page":2,"has_next":false}}`
	f := newFakeHMS(t, fakeResponse{status: 200, body: docWebhookEvents}, fakeResponse{status: 200, body: last})
	c := newTestClient(t, f, withClock(func() time.Time { return now }))
	start, end := now.Add(-2*time.Hour).Add(300*time.Millisecond), now.Add(-time.Hour).Add(300*time.Millisecond)
	got, err := c.FailedWebhooks(t.Context(), start, end)
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.seen()
	eq(t, "requests", len(reqs), 2)
	eq(t, "method", reqs[0].method, "GET")
	eq(t, "path", reqs[0].path, "/v2/analytics/webhooks")
	checkManagementToken(t, reqs[0].header)
	// Rounded outward to whole seconds.
	q := "status=failed&limit=100&start_time=" + now.Add(-2*time.Hour).Format(time.RFC3339) + "&end_time=" + now.Add(-time.Hour+time.Second).Format(time.RFC3339)
	eqQuery(t, reqs[0].query, q+"&page=1")
	eqQuery(t, reqs[1].query, q+"&page=2")
	if len(got) != 2 {
		t.Fatalf("events = %+v", got)
	}
	e := got[0]
	eq(t, "event id", e.EventID, "abc123-def456")
	eq(t, "event name", e.EventName, "reporter.webhook.delivery.failed")
	eq(t, "original", e.OriginalEventName, "session.open.success")
	eq(t, "room", e.RoomID, "room-123")
	eq(t, "time", e.Timestamp, ts("2025-12-29T10:30:00Z"))
	eq(t, "reason", e.ErrorReason, "timeout")
	jsonEqual(t, e.EventData, `{"session_id":"63f73bf05223403c9671c5c9","peer_id":"c8e85ab4-d533-4de0-ba7c-4c58a4de6c74","user_id":"187a1a92-150f-4506-83b7-d8a1cd716fb0"}`)
	eq(t, "second", got[1].EventID, "e2")

	// Zero bounds leave 100ms's defaults.
	f = newFakeHMS(t, fakeResponse{status: 200, body: `{"events":[],"pagination":{"has_next":false}}`})
	c = newTestClient(t, f)
	if _, err := c.FailedWebhooks(t.Context(), time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	eqQuery(t, oneRequest(t, f, "GET", "/v2/analytics/webhooks").query, "status=failed&limit=100&page=1")
}

// TestWebhookWindowRefused pins 100ms's documented limits (start within 30
// days, end after start and within 14 days of it), checked before sending.
func TestWebhookWindowRefused(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		start, end time.Time
	}{
		{"start 31 days ago", now.Add(-31 * 24 * time.Hour), time.Time{}},
		{"window of 15 days", now.Add(-20 * 24 * time.Hour), now.Add(-5 * 24 * time.Hour)},
		{"end before start", now.Add(-time.Hour), now.Add(-2 * time.Hour)},
		{"end equal to start", now.Add(-time.Hour), now.Add(-time.Hour)},
		{"end before the default start", time.Time{}, now.Add(-25 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t)
			c := newTestClient(t, f, withClock(func() time.Time { return now }))
			if _, err := c.FailedWebhooks(t.Context(), tt.start, tt.end); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("list: %v, want ErrInvalidArgument", err)
			}
			if _, err := c.ReplayWebhooks(t.Context(), tt.start, tt.end, "", "failed"); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("replay: %v, want ErrInvalidArgument", err)
			}
			eq(t, "requests", len(f.seen()), 0)
		})
	}
	// The edges are allowed.
	f := newFakeHMS(t, fakeResponse{status: 200, body: `{"events":[]}`})
	c := newTestClient(t, f, withClock(func() time.Time { return now }))
	start := now.Add(-29 * 24 * time.Hour)
	if _, err := c.FailedWebhooks(t.Context(), start, start.Add(14*24*time.Hour-time.Second)); err != nil {
		t.Errorf("29 days ago, 14-day window: %v", err)
	}
}

func TestReplayWebhooks(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	f := newFakeHMS(t, fakeResponse{status: 200, body: docReplay})
	c := newTestClient(t, f, withClock(func() time.Time { return now }))
	got, err := c.ReplayWebhooks(t.Context(), now.Add(-time.Hour), now, "room-1", "failed")
	if err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "POST", "/v2/analytics/webhooks/replay")
	eq(t, "query", r.query.Encode(), "")
	eq(t, "Content-Type", r.header.Get("Content-Type"), "application/json")
	jsonEqual(t, r.body, `{"start_time":"`+now.Add(-time.Hour).Format(time.RFC3339)+`","end_time":"`+now.Format(time.RFC3339)+`","room_id":"room-1","status":"failed"}`)
	eq(t, "answer", got, Replay{WorkflowID: "webhook-replay-customer123-a1b2c3d4", Status: "started", Message: "Webhook replay has been queued for processing"})

	f = newFakeHMS(t, fakeResponse{status: 200, body: `{"workflow_id":"w","status":"already_running"}`})
	c = newTestClient(t, f)
	got, err = c.ReplayWebhooks(t.Context(), time.Time{}, time.Time{}, "", "")
	if err != nil || got.Status != "already_running" {
		t.Fatalf("already running: %+v, %v", got, err)
	}
	jsonEqual(t, oneRequest(t, f, "POST", "/v2/analytics/webhooks/replay").body, `{}`)

	f = newFakeHMS(t)
	c = newTestClient(t, f)
	if _, err := c.ReplayWebhooks(t.Context(), time.Time{}, time.Time{}, "", "pending"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad status: %v", err)
	}
	eq(t, "requests", len(f.seen()), 0)
}

// TestRESTErrorMapping pins, for every call added for hmsEndCall,
// hmsRecordingUrl and hmsSweep, that 404 is ErrNotFound, other 4xx are
// refused at once, and 5xx and 429 are retried to the limit.
func TestRESTErrorMapping(t *testing.T) {
	calls := map[string]func(c *Client) error{
		"enable room":     func(c *Client) error { return c.EnableRoom(t.Context(), "r", true) },
		"end room":        func(c *Client) error { return c.EndRoom(t.Context(), "r", "", false) },
		"active sessions": func(c *Client) error { _, err := c.ActiveSessions(t.Context(), "r"); return err },
		"assets":          func(c *Client) error { _, err := c.ListRecordingAssets(t.Context(), "r", "s"); return err },
		"presign":         func(c *Client) error { _, err := c.PresignURL(t.Context(), "a", time.Hour); return err },
		"failed webhooks": func(c *Client) error { _, err := c.FailedWebhooks(t.Context(), time.Time{}, time.Time{}); return err },
		"replay": func(c *Client) error {
			_, err := c.ReplayWebhooks(t.Context(), time.Time{}, time.Time{}, "", "failed")
			return err
		},
	}
	statuses := []struct {
		status, requests int
		want             error
		notFound         bool
	}{
		{404, 1, ErrRefused, true},
		{400, 1, ErrRefused, false},
		{500, 3, ErrUnavailable, false},
		{503, 3, ErrUnavailable, false},
		{429, 3, ErrUnavailable, false},
	}
	for name, call := range calls {
		for _, st := range statuses {
			f := newFakeHMS(t, fakeResponse{status: st.status, body: `{"message":"m"}`})
			c := newTestClient(t, f)
			err := call(c)
			if n := len(f.seen()); n != st.requests {
				t.Errorf("%s %d: %d requests, want %d", name, st.status, n, st.requests)
			}
			var apiErr *APIError
			if !errors.Is(err, st.want) || errors.Is(err, ErrNotFound) != st.notFound || !errors.As(err, &apiErr) || apiErr.Status != st.status {
				t.Errorf("%s %d: err = %v", name, st.status, err)
			}
		}
	}
}

// TestRESTRefusesBadArgumentsBeforeSending covers the new calls' checks.
func TestRESTRefusesBadArgumentsBeforeSending(t *testing.T) {
	f := newFakeHMS(t)
	c := newTestClient(t, f)
	ctx := t.Context()
	errs := []error{
		c.EnableRoom(ctx, "", true),
		c.EnableRoom(ctx, "..", true),
		func() error { _, err := c.ActiveSessions(ctx, ""); return err }(),
		func() error { _, err := c.ListSessions(ctx, "", false); return err }(),
		func() error { _, err := c.ListRecordingAssets(ctx, "", "s"); return err }(),
		func() error { _, err := c.PresignURL(ctx, ".", 0); return err }(),
	}
	for i, err := range errs {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("call %d: %v, want ErrInvalidArgument", i, err)
		}
	}
	eq(t, "requests", len(f.seen()), 0)
}

// TestFirstFailedWebhooks reads one page of the size asked and says
// whether 100ms has more, in one request, however long the history.
func TestFirstFailedWebhooks(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docWebhookEvents})
	c := newTestClient(t, f)
	got, more, err := c.FirstFailedWebhooks(t.Context(), time.Time{}, time.Time{}, 7)
	if err != nil {
		t.Fatal(err)
	}
	eqQuery(t, oneRequest(t, f, "GET", "/v2/analytics/webhooks").query, "status=failed&limit=7&page=1")
	if len(got) == 0 || !more {
		t.Errorf("%d events, more %v; want the page and more", len(got), more)
	}
	if _, _, err := c.FirstFailedWebhooks(t.Context(), time.Time{}, time.Time{}, 101); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("limit 101: %v", err)
	}
}
