package hms

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Session is one session of a room, as GET /sessions/{id} reports it.
type Session struct {
	ID, RoomID           string
	Active               bool
	CreatedAt, UpdatedAt time.Time
	// Peers are ordered by JoinedAt, then ID.
	Peers []SessionPeer
}

// SessionPeer is one peer (one join) of a session; a zero LeftAt means the
// peer has not left, or 100ms did not say.
type SessionPeer struct {
	ID, UserID, Name, Role string
	JoinedAt, LeftAt       time.Time
}

type sessionPeerJSON struct {
	ID       string `json:"id"`
	UserID   string `json:"user_id"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	JoinedAt Time   `json:"joined_at"`
	LeftAt   Time   `json:"left_at"`
}

// sessionPeersJSON reads "peers" as 100ms sends it, an object keyed by peer
// id, and also as an array, in case the shape changes.
type sessionPeersJSON []sessionPeerJSON

func (ps *sessionPeersJSON) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, (*[]sessionPeerJSON)(ps))
	}
	var byID map[string]sessionPeerJSON
	if err := json.Unmarshal(b, &byID); err != nil {
		return err
	}
	*ps = (*ps)[:0]
	for id, p := range byID {
		if p.ID == "" {
			p.ID = id
		}
		*ps = append(*ps, p)
	}
	return nil
}

type sessionJSON struct {
	ID        string           `json:"id"`
	RoomID    string           `json:"room_id"`
	Active    bool             `json:"active"`
	CreatedAt Time             `json:"created_at"`
	UpdatedAt Time             `json:"updated_at"`
	Peers     sessionPeersJSON `json:"peers"`
}

// GetSession returns a session with every peer that joined it, including
// those who left.
func (c *Client) GetSession(ctx context.Context, sessionID string) (Session, error) {
	seg, err := pathSegment("session id", sessionID)
	if err != nil {
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	var out sessionJSON
	if err := c.do(ctx, http.MethodGet, "/sessions/"+seg, nil, &out); err != nil {
		return Session{}, fmt.Errorf("get session %s: %w", sessionID, err)
	}
	return out.session(), nil
}

// ActiveSessions returns the active sessions of a room (GET
// /sessions?room_id=&active=true, every page): none when nobody is in it,
// normally one. Each has its peers, as GetSession would return them.
func (c *Client) ActiveSessions(ctx context.Context, roomID string) ([]Session, error) {
	return c.ListSessions(ctx, roomID, true)
}

// ListSessions returns the sessions of a room that are active, or with
// active false those that are not (100ms's filter has no "both"; its
// default is true, so the flag is always sent). Newest first, as 100ms
// lists them.
func (c *Client) ListSessions(ctx context.Context, roomID string, active bool) ([]Session, error) {
	if roomID == "" {
		return nil, fmt.Errorf("list sessions: %w: empty room id", ErrInvalidArgument)
	}
	q := url.Values{"room_id": {roomID}, "active": {strconv.FormatBool(active)}}
	list, err := listAll(ctx, c, "/sessions", q, func(s sessionJSON) string { return s.ID })
	if err != nil {
		return nil, fmt.Errorf("list sessions of room %s (active=%t): %w", roomID, active, err)
	}
	out := make([]Session, 0, len(list))
	for _, s := range list {
		if s.ID == "" {
			return nil, fmt.Errorf("list sessions of room %s: %w: a session has no id", roomID, ErrUnavailable)
		}
		out = append(out, s.session())
	}
	return out, nil
}

func (out sessionJSON) session() Session {
	s := Session{
		ID:        out.ID,
		RoomID:    out.RoomID,
		Active:    out.Active,
		CreatedAt: out.CreatedAt.Time,
		UpdatedAt: out.UpdatedAt.Time,
		Peers:     make([]SessionPeer, 0, len(out.Peers)),
	}
	for _, p := range out.Peers {
		s.Peers = append(s.Peers, SessionPeer{
			ID: p.ID, UserID: p.UserID, Name: p.Name, Role: p.Role,
			JoinedAt: p.JoinedAt.Time, LeftAt: p.LeftAt.Time,
		})
	}
	slices.SortFunc(s.Peers, func(a, b SessionPeer) int {
		return cmp.Or(a.JoinedAt.Compare(b.JoinedAt), cmp.Compare(a.ID, b.ID))
	})
	return s
}
