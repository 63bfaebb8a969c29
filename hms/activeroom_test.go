package hms

import (
	"errors"
	"testing"
)

// docActivePeers is the sample answer of active-rooms--list-peers.md.
const docActivePeers = `{
    "peers": {
        "dcd88eb0-83e6-486a-bcae-c3be5e0f2c20": {
            "id": "dcd88eb0-83e6-486a-bcae-c3be5e0f2c20",
            "name": "John",
            "user_id": "student-3461",
            "metadata": "",
            "role": "student",
            "joined_at": "2023-01-25T12:06:34.080990401Z"
        },
        "4e03dce3-ddec-4bdd-b91b-0b18be1a7f10": {
            "id": "4e03dce3-ddec-4bdd-b91b-0b18be1a7f10",
            "name": "Nick",
            "user_id": "teacher-81",
            "metadata": "",
            "role": "teacher",
            "joined_at": "2023-01-25T12:04:30.366388779Z"
        }
    }
}`

// docUpdatedPeer is the sample answer of active-rooms--update-a-peer.md.
const docUpdatedPeer = `{"id":"2b8bee10-5733-43af-a2f3-ecce623cbb90","name":"nixon-test2","user_id":"4f33d87f-e86b-4f58-97c6-d07fc476d936",
	"metadata":"{\"isHandRaised\":false,\"isBRBOn\":true}","role":"host","joined_at":"2022-10-12T12:56:17.759148635Z",
	"tracks":{"a22befac-b77c-49bf-82ff-7b93c9f49fef":{"id":"a22befac-b77c-49bf-82ff-7b93c9f49fef","stream_id":"b90ef533-2af9-412c-9442-52cd70e758b6",
	"mute":true,"type":"audio","source":"regular","started_at":"2022-10-12T12:56:17.932404678Z","description":""}}}`

var (
	docNick = ActivePeer{ID: "4e03dce3-ddec-4bdd-b91b-0b18be1a7f10", Name: "Nick", UserID: "teacher-81", Role: "teacher",
		JoinedAt: ts("2023-01-25T12:04:30.366388779Z")}
	docJohn = ActivePeer{ID: "dcd88eb0-83e6-486a-bcae-c3be5e0f2c20", Name: "John", UserID: "student-3461", Role: "student",
		JoinedAt: ts("2023-01-25T12:06:34.080990401Z")}
)

func eqPeers(t *testing.T, got []ActivePeer, want ...ActivePeer) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("peers = %+v, want %+v", got, want)
	}
	for i := range want {
		eq(t, "peer", got[i], want[i])
	}
}

func TestActivePeers(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docActivePeers})
	c := newTestClient(t, f)
	got, err := c.ActivePeers(t.Context(), "room 1", "")
	if err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "GET", "/v2/active-rooms/room%201/peers")
	eqQuery(t, r.query, "")
	eq(t, "body", string(r.body), "")
	// Keyed by id on the wire; ordered by join here, whatever the map order.
	eqPeers(t, got, docNick, docJohn)
}

func TestActivePeersOfUser(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docActivePeers})
	c := newTestClient(t, f)
	// The fake ignores the filter and answers both peers: only the one of
	// that user may come back.
	got, err := c.ActivePeers(t.Context(), "r/1", "student-3461")
	if err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "GET", "/v2/active-rooms/r%2F1/peers")
	eqQuery(t, r.query, "user_id=student-3461")
	eqPeers(t, got, docJohn)
}

func TestActivePeersShapes(t *testing.T) {
	tests := []struct {
		name, body string
		want       []ActivePeer
	}{
		{"no peer matches", `{"peers":{}}`, nil},
		{"peers null", `{"peers":null}`, nil},
		{"no peers key", `{}`, nil},
		{"a list", `{"peers":[{"id":"p2","user_id":"u","role":"guest","joined_at":"2026-01-01T10:00:01Z"},
			{"id":"p1","user_id":"u","role":"waiting-room","name":"Ann","joined_at":"2026-01-01T10:00:00Z"}]}`,
			[]ActivePeer{{ID: "p1", UserID: "u", Name: "Ann", Role: "waiting-room", JoinedAt: ts("2026-01-01T10:00:00Z")},
				{ID: "p2", UserID: "u", Role: "guest", JoinedAt: ts("2026-01-01T10:00:01Z")}}},
		{"id only as the key", `{"peers":{"p9":{"user_id":"u","role":"guest"}}}`, []ActivePeer{{ID: "p9", UserID: "u", Role: "guest"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t, fakeResponse{status: 200, body: tt.body})
			c := newTestClient(t, f)
			got, err := c.ActivePeers(t.Context(), "r", "")
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Error("nil slice, want empty")
			}
			eqPeers(t, got, tt.want...)
		})
	}
	f := newFakeHMS(t, fakeResponse{status: 200, body: `{"peers":[{"user_id":"u"}]}`})
	c := newTestClient(t, f)
	if _, err := c.ActivePeers(t.Context(), "r", ""); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a peer without id: %v, want ErrUnavailable", err)
	}
}

func TestSetPeerRole(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docUpdatedPeer})
	c := newTestClient(t, f)
	if err := c.SetPeerRole(t.Context(), "room/1", "peer 1", "guest"); err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "POST", "/v2/active-rooms/room%2F1/peers/peer%201")
	eqQuery(t, r.query, "")
	eq(t, "Content-Type", r.header.Get("Content-Type"), "application/json")
	jsonEqual(t, r.body, `{"role":"guest"}`)
}

// docRemovePeers is the sample answer of active-rooms--remove-peers.md.
const docRemovePeers = `{"message": "peer remove request submitted"}`

func TestRemovePeer(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docRemovePeers})
	c := newTestClient(t, f)
	if err := c.RemovePeer(t.Context(), "room/1", "peer 1", "removed by the doctor"); err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "POST", "/v2/active-rooms/room%2F1/remove-peers")
	eqQuery(t, r.query, "")
	eq(t, "Content-Type", r.header.Get("Content-Type"), "application/json")
	// The peer id in the body, unescaped; never a role beside it, which
	// 100ms would ignore (the page: peer_id has "preference").
	jsonEqual(t, r.body, `{"peer_id":"peer 1","reason":"removed by the doctor"}`)

	// No reason: the field is optional, and left out.
	f = newFakeHMS(t, fakeResponse{status: 200, body: docRemovePeers})
	c = newTestClient(t, f)
	if err := c.RemovePeer(t.Context(), "r", "p", ""); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, oneRequest(t, f, "POST", "/v2/active-rooms/r/remove-peers").body, `{"peer_id":"p"}`)
}

func TestRemoveRole(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docRemovePeers})
	c := newTestClient(t, f)
	if err := c.RemoveRole(t.Context(), "room 1", "waiting-room", "the doctor asked"); err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "POST", "/v2/active-rooms/room%201/remove-peers")
	jsonEqual(t, r.body, `{"role":"waiting-room","reason":"the doctor asked"}`)
}

// TestActiveRoomErrors pins the sentinels hmsAdmit and hmsRemove decide on:
// a room with no active session lists (or loses a role) as ErrNotActive, a
// peer gone is ErrNotFound, and outages are ErrUnavailable after the
// retries.
func TestActiveRoomErrors(t *testing.T) {
	calls := map[string]struct {
		call      func(c *Client) error
		notActive bool // on 404
	}{
		"active peers": {func(c *Client) error { _, err := c.ActivePeers(t.Context(), "r", "u"); return err }, true},
		"set role":     {func(c *Client) error { return c.SetPeerRole(t.Context(), "r", "p", "guest") }, false},
		"remove peer":  {func(c *Client) error { return c.RemovePeer(t.Context(), "r", "p", "") }, false},
		"remove role":  {func(c *Client) error { return c.RemoveRole(t.Context(), "r", "guest", "") }, true},
	}
	statuses := []struct {
		status, requests int
		want             error
	}{
		{404, 1, ErrRefused},
		{400, 1, ErrRefused},
		{403, 2, ErrRefused}, // one more try with a fresh token
		{500, 3, ErrUnavailable},
		{429, 3, ErrUnavailable},
	}
	for name, tt := range calls {
		for _, st := range statuses {
			f := newFakeHMS(t, fakeResponse{status: st.status, body: `{"code":` + itoa(st.status) + `,"message":"m"}`})
			c := newTestClient(t, f)
			err := tt.call(c)
			eq(t, name+" requests", len(f.seen()), st.requests)
			var apiErr *APIError
			if !errors.Is(err, st.want) || !errors.As(err, &apiErr) || apiErr.Status != st.status {
				t.Errorf("%s %d: err = %v, want %v", name, st.status, err, st.want)
			}
			if got := errors.Is(err, ErrNotFound); got != (st.status == 404) {
				t.Errorf("%s %d: not found %t", name, st.status, got)
			}
			if got := errors.Is(err, ErrNotActive); got != (st.status == 404 && tt.notActive) {
				t.Errorf("%s %d: not active %t", name, st.status, got)
			}
		}
	}
}

func TestActiveRoomRefusesBadArgumentsBeforeSending(t *testing.T) {
	f := newFakeHMS(t)
	c := newTestClient(t, f)
	ctx := t.Context()
	errs := []error{
		func() error { _, err := c.ActivePeers(ctx, "", "u"); return err }(),
		func() error { _, err := c.ActivePeers(ctx, "..", ""); return err }(),
		c.SetPeerRole(ctx, "", "p", "guest"),
		c.SetPeerRole(ctx, "r", "", "guest"),
		c.SetPeerRole(ctx, "r", ".", "guest"),
		c.SetPeerRole(ctx, "r", "p", ""),
		c.RemovePeer(ctx, "", "p", ""),
		c.RemovePeer(ctx, "..", "p", ""),
		c.RemovePeer(ctx, "r", "", "why"),
		c.RemoveRole(ctx, "", "guest", ""),
		c.RemoveRole(ctx, "r", "", "why"),
	}
	for i, err := range errs {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("call %d: %v, want ErrInvalidArgument", i, err)
		}
	}
	eq(t, "requests", len(f.seen()), 0)
}
