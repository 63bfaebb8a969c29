package fake100ms

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
)

// sinkEvents waits for the fake's webhooks and parses what the sink got.
func sinkEvents(t *testing.T, f *Server, sink *webhookSink) []*hms.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := f.WaitWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var evs []*hms.Event
	for _, b := range sink.bodies {
		ev, err := hms.ParseEvent(b)
		if err != nil {
			t.Fatalf("webhook %s: %v", b, err)
		}
		if len(ev.DataProblems) > 0 {
			t.Errorf("%s: unreadable fields %v", ev.Type, ev.DataProblems)
		}
		evs = append(evs, ev)
	}
	return evs
}

func types(evs []*hms.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, string(ev.Type))
	}
	return out
}

// docDataKeys are the data keys of the page's sample of an event type
// (hms/testdata/current holds every sample of configure-webhooks--webhook.md).
func docDataKeys(t *testing.T, typ string) []string {
	t.Helper()
	b, err := os.ReadFile("../../hms/testdata/current/" + typ + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct{ Data map[string]any }
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(ev.Data))
}

// eqKeys checks that an event's data has the sample's keys, less those
// named in without and with those named in plus.
func eqKeys(t *testing.T, ev *hms.Event, without, plus []string) {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(ev.RawData, &data); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(docDataKeys(t, string(ev.Type)), func(k string) bool { return slices.Contains(without, k) })
	want = slices.Sorted(slices.Values(append(want, plus...)))
	if got := slices.Sorted(maps.Keys(data)); !slices.Equal(got, want) {
		t.Errorf("%s data keys = %v\nwant %v", ev.Type, got, want)
	}
}

func TestActivePeers(t *testing.T) {
	f, c := start(t)
	room := f.AddRoom(Room{Name: "appt-1", Enabled: true})
	if _, err := c.ActivePeers(t.Context(), room.ID, ""); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("no session: %v, want ErrNotActive", err)
	}
	t0 := time.Now().Add(-time.Minute).UTC()
	sid := f.JoinPeer(room.ID, Peer{ID: "doc", UserID: "doctor", Name: "Dr A", Role: "host", JoinedAt: t0})
	if again := f.JoinPeer(room.ID, Peer{ID: "cli1", UserID: "client", Role: "waiting-room", JoinedAt: t0.Add(time.Second)}); again != sid {
		t.Fatalf("second join opened session %s, want %s", again, sid)
	}
	f.JoinPeer(room.ID, Peer{UserID: "client", Role: "waiting-room"}) // a second device, id made up
	f.JoinPeer(room.ID, Peer{ID: "gone", UserID: "client", Role: "guest", JoinedAt: t0})
	if !f.LeavePeer(room.ID, "gone") || f.LeavePeer(room.ID, "gone") || f.LeavePeer("other", "doc") {
		t.Error("LeavePeer")
	}
	if s, ok := f.Session(sid); !ok || !s.Active || s.RoomID != room.ID || len(s.Peers) != 4 {
		t.Fatalf("session = %+v", s)
	}

	all, err := c.ActivePeers(t.Context(), room.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ID != "doc" || all[0].Name != "Dr A" || all[0].Role != "host" || !all[0].JoinedAt.Equal(t0) ||
		all[1].ID != "cli1" || all[2].UserID != "client" || all[2].ID == "" || all[2].JoinedAt.IsZero() {
		t.Fatalf("active peers = %+v", all)
	}
	mine, err := c.ActivePeers(t.Context(), room.ID, "client")
	if err != nil || len(mine) != 2 || mine[0].ID != "cli1" {
		t.Fatalf("client's peers = %+v, %v", mine, err)
	}
	if none, err := c.ActivePeers(t.Context(), room.ID, "nobody"); err != nil || len(none) != 0 {
		t.Errorf("nobody's peers = %+v, %v", none, err)
	}
	// The answer is keyed by peer id, and role filters too.
	status, got := raw(t, f, "GET", "/active-rooms/"+room.ID+"/peers?role=host", "")
	if peers, _ := got["peers"].(map[string]any); status != 200 || len(peers) != 1 || peers["doc"] == nil {
		t.Errorf("role=host: %d %v", status, got)
	}
	status, got = raw(t, f, "GET", "/v2/active-rooms/"+room.ID+"/peers/cli1", "")
	if status != 200 || got["id"] != "cli1" || got["role"] != "waiting-room" || got["tracks"] == nil {
		t.Errorf("retrieve peer: %d %v", status, got)
	}
	if status, _ := raw(t, f, "GET", "/active-rooms/"+room.ID+"/peers/gone", ""); status != 404 {
		t.Errorf("retrieve a peer that left: %d", status)
	}
	if n := f.Calls("GET /active-rooms/{id}/peers"); n != 5 {
		t.Errorf("list calls = %d, want 5", n)
	}

	// After end-room the room is not active any more.
	if err := c.EndRoom(t.Context(), room.ID, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ActivePeers(t.Context(), room.ID, "client"); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("after end: %v, want ErrNotActive", err)
	}
	if next := f.JoinPeer(room.ID, Peer{UserID: "doctor", Role: "host"}); next == sid {
		t.Error("a join after the end reused the ended session")
	}
}

func TestSetPeerRoleSendsRoleChange(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	f.SetWebhook(sink.URL, http.Header{"X-Webhook-Secret": {"hook-secret"}})
	room := f.AddRoom(Room{Name: "appt-2", TemplateID: "tpl-1", Enabled: true})
	joined := time.Now().Add(-time.Minute).UTC()
	sid := f.JoinPeer(room.ID, Peer{ID: "p1", UserID: "client", Name: "Pat", Role: "waiting-room", JoinedAt: joined})

	before := time.Now().UTC()
	if err := c.SetPeerRole(t.Context(), room.ID, "p1", "guest"); err != nil {
		t.Fatal(err)
	}
	peers, _ := c.ActivePeers(t.Context(), room.ID, "client")
	if len(peers) != 1 || peers[0].Role != "guest" {
		t.Errorf("after the move: %+v", peers)
	}
	// The same role again: recorded, and no webhook, since nothing changed.
	if err := c.SetPeerRole(t.Context(), room.ID, "p1", "guest"); err != nil {
		t.Fatal(err)
	}
	ups := f.PeerUpdates()
	if len(ups) != 2 || ups[0].RoomID != room.ID || ups[0].SessionID != sid || ups[0].PeerID != "p1" || ups[0].UserID != "client" ||
		ups[0].FromRole != "waiting-room" || ups[0].ToRole != "guest" || ups[0].At.Before(before) ||
		ups[1].FromRole != "guest" || ups[1].ToRole != "guest" {
		t.Errorf("peer updates = %+v", ups)
	}

	evs := sinkEvents(t, f, sink)
	if len(evs) != 1 || evs[0].Type != hms.EventType("role.change.success") {
		t.Fatalf("webhooks = %v, want one role.change.success", types(evs))
	}
	ev := evs[0]
	d, ok := ev.Data.(*hms.RoleChange)
	if !ok {
		t.Fatalf("data = %T", ev.Data)
	}
	if ev.Version != "2.0" || ev.ID == "" || ev.AppID == "" || ev.AccountID == "" || ev.TemplateID != "tpl-1" ||
		ev.RoomID != room.ID || ev.SessionID != sid || ev.Timestamp.Before(before.Truncate(time.Second)) {
		t.Errorf("envelope = %+v", ev)
	}
	if d.PeerID != "p1" || d.UserID != "client" || d.UserName != "Pat" || d.Role != "guest" || d.PreviousRole != "waiting-room" ||
		d.RoomName != "appt-2" || d.RoomRef.TemplateID != "tpl-1" || !d.JoinedAt.Equal(joined) || d.RoleChangedAt.Before(before) ||
		d.SessionStartedAt.IsZero() || d.RoleChangeRequestedBy != "" {
		t.Errorf("role change = %+v", d)
	}
	// The sample's fields, less the one "won't be present if role is
	// changed using API".
	eqKeys(t, ev, []string{"role_change_requested_by"}, nil)
	sink.mu.Lock()
	if sink.header[0] != "hook-secret" {
		t.Error("webhook without the secret header")
	}
	sink.mu.Unlock()
	// The live delivery is in the history, delivered.
	if failed, err := c.FailedWebhooks(t.Context(), time.Time{}, time.Time{}); err != nil || len(failed) != 0 {
		t.Errorf("failed deliveries: %+v, %v", failed, err)
	}
	status, hist := raw(t, f, "GET", "/analytics/webhooks?status=success", "")
	if events, _ := hist["events"].([]any); status != 200 || len(events) != 1 {
		t.Errorf("history: %d %v", status, hist)
	}

	// A peer that left, and a room that is not active: 404, ErrNotFound.
	f.LeavePeer(room.ID, "p1")
	if err := c.SetPeerRole(t.Context(), room.ID, "p1", "host"); !errors.Is(err, hms.ErrNotFound) {
		t.Errorf("peer gone: %v, want ErrNotFound", err)
	}
	if err := c.SetPeerRole(t.Context(), "no-room", "p1", "host"); !errors.Is(err, hms.ErrNotFound) {
		t.Errorf("no active room: %v, want ErrNotFound", err)
	}
	if n := len(f.PeerUpdates()); n != 2 {
		t.Errorf("%d updates after refused ones, want 2", n)
	}
}

func TestUpdatePeerBadInput(t *testing.T) {
	f, _ := start(t)
	room := f.AddRoom(Room{Name: "appt-3"})
	f.JoinPeer(room.ID, Peer{ID: "p1", UserID: "u", Role: "host"})
	for _, body := range []string{"", "not json", `{"role":""}`, `{"role":7}`} {
		if status, _ := raw(t, f, "POST", "/active-rooms/"+room.ID+"/peers/p1", body); status != 400 {
			t.Errorf("body %q: %d, want 400", body, status)
		}
	}
	// A name alone is an update too, not a role change.
	status, got := raw(t, f, "POST", "/active-rooms/"+room.ID+"/peers/p1", `{"name":"Dr B","metadata":"{}"}`)
	if status != 200 || got["name"] != "Dr B" || got["role"] != "host" {
		t.Errorf("rename: %d %v", status, got)
	}
	if n := len(f.PeerUpdates()); n != 0 {
		t.Errorf("%d role updates, want 0", n)
	}
}

// TestNewRoutesNeedManagementToken: the active-room and recording routes
// are behind the same check as the others.
func TestNewRoutesNeedManagementToken(t *testing.T) {
	f, _ := start(t)
	room := f.AddRoom(Room{Name: "appt-4"})
	f.JoinPeer(room.ID, Peer{ID: "p1", UserID: "u", Role: "waiting-room"})
	join, _, err := hms.JoinToken(creds, hms.JoinParams{RoomID: room.ID, UserID: "u", Role: hms.RoleHost})
	if err != nil {
		t.Fatal(err)
	}
	routes := []struct{ method, path, body, pattern string }{
		{"GET", "/active-rooms/" + room.ID + "/peers", "", "GET /active-rooms/{id}/peers"},
		{"GET", "/active-rooms/" + room.ID + "/peers/p1", "", "GET /active-rooms/{id}/peers/{peer}"},
		{"POST", "/active-rooms/" + room.ID + "/peers/p1", `{"role":"guest"}`, "POST /active-rooms/{id}/peers/{peer}"},
		{"POST", "/active-rooms/" + room.ID + "/remove-peers", `{"peer_id":"p1"}`, "POST /active-rooms/{id}/remove-peers"},
		{"POST", "/recordings/room/" + room.ID + "/start", `{}`, "POST /recordings/room/{id}/start"},
		{"POST", "/recordings/room/" + room.ID + "/stop", "", "POST /recordings/room/{id}/stop"},
	}
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer " + join} {
			req, _ := http.NewRequest(rt.method, f.URL+"/v2"+rt.path, strings.NewReader(rt.body))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s %s with %.12q: %d, want 401", rt.method, rt.path, auth, resp.StatusCode)
			}
		}
		if n := f.Calls(rt.pattern); n != 0 {
			t.Errorf("%s reached %d times without a management token", rt.pattern, n)
		}
	}
	if n := f.AuthFailures(); n != 2*len(routes) {
		t.Errorf("auth failures = %d, want %d", n, 2*len(routes))
	}
	if ups, starts, rm := f.PeerUpdates(), f.RecordingStarts(), f.Removals(); len(ups) != 0 || len(starts) != 0 || len(rm) != 0 {
		t.Errorf("refused requests acted: %+v %+v %+v", ups, starts, rm)
	}
}

// TestRemovePeerEndToEnd drives hms.Client.RemovePeer against the fake: the
// peer leaves the room, the removal is recorded, and the webhook gets the
// peer.leave.success 100ms sends for a kicked peer, with our reason as its
// message.
func TestRemovePeerEndToEnd(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	f.SetWebhook(sink.URL, http.Header{"X-Webhook-Secret": {"hook-secret"}})
	room := f.AddRoom(Room{Name: "appt-5", TemplateID: "tpl-5", Enabled: true})
	joined := time.Now().Add(-time.Minute).UTC()
	sid := f.JoinPeer(room.ID, Peer{ID: "doc", UserID: "doctor", Role: "host", JoinedAt: joined})
	f.JoinPeer(room.ID, Peer{ID: "cli1", UserID: "client", Name: "Pat", Role: "guest", JoinedAt: joined})
	f.JoinPeer(room.ID, Peer{ID: "cli2", UserID: "client", Role: "guest", JoinedAt: joined.Add(time.Second)})

	before := time.Now().UTC()
	if err := c.RemovePeer(t.Context(), room.ID, "cli1", "removed by the doctor"); err != nil {
		t.Fatal(err)
	}
	peers, err := c.ActivePeers(t.Context(), room.ID, "")
	if err != nil || len(peers) != 2 || peers[0].ID != "doc" || peers[1].ID != "cli2" {
		t.Fatalf("after the removal: %+v, %v", peers, err)
	}
	rm := f.Removals()
	if len(rm) != 1 || rm[0] != (Removal{RoomID: room.ID, SessionID: sid, PeerID: "cli1", UserID: "client", Role: "guest",
		Reason: "removed by the doctor", At: rm[0].At}) || rm[0].At.Before(before) {
		t.Errorf("removals = %+v", rm)
	}
	if s, _ := f.Session(sid); !s.Active || s.Peers[1].LeftAt.IsZero() {
		t.Errorf("session = %+v", s)
	}

	evs := sinkEvents(t, f, sink)
	if len(evs) != 1 || evs[0].Type != hms.PeerLeaveSuccess {
		t.Fatalf("webhooks = %v, want one peer.leave.success", types(evs))
	}
	ev := evs[0]
	d, ok := ev.Data.(*hms.PeerLeave)
	if !ok {
		t.Fatalf("data = %T", ev.Data)
	}
	if ev.RoomID != room.ID || ev.SessionID != sid || ev.TemplateID != "tpl-5" || ev.ID == "" {
		t.Errorf("envelope = %+v", ev)
	}
	if d.PeerID != "cli1" || d.UserID != "client" || d.UserName != "Pat" || d.Role != "guest" || d.PeerType != "regular" ||
		d.Reason != "peer kicked" || d.Message != "removed by the doctor" || d.RoomName != "appt-5" ||
		!d.JoinedAt.Equal(joined) || d.LeftAt.Before(before) || d.Duration == nil || *d.Duration < 59 || d.SessionStartedAt.IsZero() {
		t.Errorf("peer leave = %+v", d)
	}
	// Every field of the page's sample, no other.
	eqKeys(t, ev, nil, nil)

	// The peer is out: removing it again, or from a room with no active
	// session, is 404, ErrNotFound, and removes nothing more.
	if err := c.RemovePeer(t.Context(), room.ID, "cli1", ""); !errors.Is(err, hms.ErrNotFound) {
		t.Errorf("peer gone: %v, want ErrNotFound", err)
	}
	if err := c.RemovePeer(t.Context(), "no-room", "doc", ""); !errors.Is(err, hms.ErrNotFound) {
		t.Errorf("no active room: %v, want ErrNotFound", err)
	}
	if n := len(f.Removals()); n != 1 {
		t.Errorf("%d removals after refused ones, want 1", n)
	}
	if n := f.Calls("POST /active-rooms/{id}/remove-peers"); n != 3 {
		t.Errorf("remove-peers calls = %d, want 3", n)
	}
}

// TestRemoveRole: every connected peer of the role goes, each with its
// peer.leave.success, in the order they joined the session; a role nobody
// has removes nobody.
func TestRemoveRole(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	f.SetWebhook(sink.URL, nil)
	room := f.AddRoom(Room{Name: "appt-6", Enabled: true})
	if err := c.RemoveRole(t.Context(), room.ID, "guest", ""); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("no session: %v, want ErrNotActive", err)
	}
	t0 := time.Now().Add(-time.Minute).UTC()
	f.JoinPeer(room.ID, Peer{ID: "doc", UserID: "doctor", Role: "host", JoinedAt: t0})
	f.JoinPeer(room.ID, Peer{ID: "g2", UserID: "guest-b", Role: "guest", JoinedAt: t0.Add(2 * time.Second)})
	f.JoinPeer(room.ID, Peer{ID: "g1", UserID: "guest-a", Role: "guest", JoinedAt: t0.Add(time.Second)})
	f.JoinPeer(room.ID, Peer{ID: "w1", UserID: "client", Role: "waiting-room", JoinedAt: t0})
	f.JoinPeer(room.ID, Peer{ID: "g0", UserID: "guest-c", Role: "guest", JoinedAt: t0})
	f.LeavePeer(room.ID, "g0") // left already: not removed again

	if err := c.RemoveRole(t.Context(), room.ID, "guest", "private word"); err != nil {
		t.Fatal(err)
	}
	peers, _ := c.ActivePeers(t.Context(), room.ID, "")
	if len(peers) != 2 || peers[0].ID != "doc" || peers[1].ID != "w1" {
		t.Errorf("after the removal: %+v", peers)
	}
	rm := f.Removals()
	if len(rm) != 2 || rm[0].PeerID != "g2" || rm[1].PeerID != "g1" || !rm[0].ByRole || !rm[1].ByRole ||
		rm[0].Role != "guest" || rm[1].Reason != "private word" {
		t.Errorf("removals = %+v", rm)
	}
	if err := c.RemoveRole(t.Context(), room.ID, "guest", ""); err != nil {
		t.Errorf("a role nobody has: %v", err)
	}
	if n := len(f.Removals()); n != 2 {
		t.Errorf("%d removals, want 2", n)
	}

	evs := sinkEvents(t, f, sink)
	if len(evs) != 2 {
		t.Fatalf("webhooks = %v, want two peer.leave.success", types(evs))
	}
	for i, want := range []string{"g2", "g1"} {
		d, ok := evs[i].Data.(*hms.PeerLeave)
		if !ok || d.PeerID != want || d.Reason != "peer kicked" || d.Message != "private word" {
			t.Errorf("webhook %d = %+v, want %s kicked", i, evs[i].Data, want)
		}
	}
}

// TestRemovePeersAsDocumented holds the fake to the page's rules that the
// hms client never exercises: one of peer_id and role is required, peer_id
// wins over role, and the answer is the page's message.
func TestRemovePeersAsDocumented(t *testing.T) {
	f, _ := start(t)
	room := f.AddRoom(Room{Name: "appt-7"})
	f.JoinPeer(room.ID, Peer{ID: "p1", UserID: "u1", Role: "host"})
	f.JoinPeer(room.ID, Peer{ID: "p2", UserID: "u2", Role: "guest"})
	for _, body := range []string{"", "not json", `{}`, `{"reason":"x"}`, `{"peer_id":"","role":""}`, `{"peer_id":7}`} {
		if status, _ := raw(t, f, "POST", "/v2/active-rooms/"+room.ID+"/remove-peers", body); status != 400 {
			t.Errorf("body %q: %d, want 400", body, status)
		}
	}
	if n := len(f.Removals()); n != 0 {
		t.Fatalf("bad requests removed %d peers", n)
	}
	status, got := raw(t, f, "POST", "/v2/active-rooms/"+room.ID+"/remove-peers", `{"peer_id":"p1","role":"guest","reason":""}`)
	if status != 200 || got["message"] != "peer remove request submitted" {
		t.Errorf("answer: %d %v", status, got)
	}
	if rm := f.Removals(); len(rm) != 1 || rm[0].PeerID != "p1" || rm[0].ByRole {
		t.Errorf("peer_id and role: removals = %+v, want p1 alone", rm)
	}
	if status, _ := raw(t, f, "POST", "/v2/active-rooms/"+room.ID+"/remove-peers", `{"peer_id":"nobody","role":"guest"}`); status != 404 {
		t.Errorf("an unknown peer_id beside a role: %d, want 404 (peer_id wins)", status)
	}
	if rm := f.Removals(); len(rm) != 1 {
		t.Errorf("removals = %+v, want p2 kept", rm)
	}
}
