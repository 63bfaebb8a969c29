package fake100ms

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"
)

// PeerUpdate is one update-a-peer request that named a role
// (active-rooms--update-a-peer.md). FromRole == ToRole when the peer had
// that role already.
type PeerUpdate struct {
	RoomID, SessionID, PeerID, UserID string
	FromRole, ToRole                  string
	At                                time.Time
}

// Removal is one peer disconnected by a remove-peers request
// (active-rooms--remove-peers.md). Role is the peer's role when removed;
// ByRole says the request named that role rather than the peer's id.
type Removal struct {
	RoomID, SessionID, PeerID, UserID, Role string
	Reason                                  string
	ByRole                                  bool
	At                                      time.Time
}

// JoinPeer adds p to the active session of a room, as a join does, and
// returns that session's id; a room with no active session gets a new one,
// as the first join opens a session. An empty p.ID gets a fresh peer id
// (100ms's are UUIDs), a zero JoinedAt is now, and LeftAt is cleared. It
// sends no webhook: a test that wants peer.join.success sends its own.
func (s *Server) JoinPeer(roomID string, p Peer) (sessionID string) {
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.activeSession(roomID)
	if sess == nil {
		sess = &Session{ID: s.newID("sess"), RoomID: roomID, Active: true, CreatedAt: now}
		s.sessions[sess.ID] = sess
	}
	if p.ID == "" {
		p.ID = newUUID()
	}
	if p.JoinedAt.IsZero() {
		p.JoinedAt = now
	}
	p.LeftAt = time.Time{}
	sess.Peers = append(sess.Peers, p)
	sess.UpdatedAt = now
	return sess.ID
}

// LeavePeer marks a peer of a room's active session as left now; false
// when no such peer is connected. The session stays active, as it does
// while anyone else is in it.
func (s *Server) LeavePeer(roomID, peerID string) bool {
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.activeSession(roomID)
	if sess == nil {
		return false
	}
	p := connected(sess, peerID)
	if p == nil {
		return false
	}
	p.LeftAt, sess.UpdatedAt = now, now
	return true
}

// PeerUpdates lists the role updates received, in order.
func (s *Server) PeerUpdates() []PeerUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]PeerUpdate(nil), s.peerUpdates...)
}

// Removals lists the peers removed by remove-peers, in order (a request
// by role adds one per peer, in the order the peers joined the session;
// one that removed nobody adds none, and Calls counts it).
func (s *Server) Removals() []Removal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Removal(nil), s.removals...)
}

// activeSession is the newest active session of a room, nil when it has
// none. s.mu held.
func (s *Server) activeSession(roomID string) *Session {
	var newest *Session
	for _, sess := range s.sessions {
		if sess.RoomID != roomID || !sess.Active {
			continue
		}
		if newest == nil || cmp.Or(sessionStarted(sess).Compare(sessionStarted(newest)), cmp.Compare(sess.ID, newest.ID)) > 0 {
			newest = sess
		}
	}
	return newest
}

// connected is the peer of a session with that id that has not left.
func connected(sess *Session, peerID string) *Peer {
	i := slices.IndexFunc(sess.Peers, func(p Peer) bool { return p.ID == peerID && p.LeftAt.IsZero() })
	if i < 0 {
		return nil
	}
	return &sess.Peers[i]
}

// activePeerJSON is a peer as list-peers shows it; the fake keeps no
// metadata.
func activePeerJSON(p Peer) map[string]any {
	return map[string]any{"id": p.ID, "name": p.Name, "user_id": p.UserID, "metadata": "", "role": p.Role,
		"joined_at": stampNano(p.JoinedAt)}
}

// peerWithTracksJSON is a peer as retrieve-peer and update-a-peer show it;
// the fake's peers publish no tracks.
func peerWithTracksJSON(p Peer) map[string]any {
	m := activePeerJSON(p)
	m["tracks"] = map[string]any{}
	return m
}

// notActive answers for an active room the fake does not have: 404, which
// 100ms does not document (see the package comment).
func notActive(w http.ResponseWriter) { answerError(w, http.StatusNotFound, "room is not active") }

func (s *Server) listActivePeers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	sess := s.activeSession(r.PathValue("id"))
	peers := map[string]any{}
	if sess != nil {
		for _, p := range sess.Peers {
			if p.LeftAt.IsZero() && (q.Get("user_id") == "" || p.UserID == q.Get("user_id")) &&
				(q.Get("role") == "" || p.Role == q.Get("role")) {
				peers[p.ID] = activePeerJSON(p)
			}
		}
	}
	s.mu.Unlock()
	if sess == nil {
		notActive(w)
		return
	}
	// Keyed by peer id; no peer matching is an empty object, as the page says.
	answer(w, map[string]any{"peers": peers})
}

func (s *Server) getActivePeer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	sess := s.activeSession(r.PathValue("id"))
	var body map[string]any
	if sess != nil {
		if p := connected(sess, r.PathValue("peer")); p != nil {
			body = peerWithTracksJSON(*p)
		}
	}
	s.mu.Unlock()
	switch {
	case sess == nil:
		notActive(w)
	case body == nil:
		answerError(w, http.StatusNotFound, "peer not found")
	default:
		answer(w, body)
	}
}

func (s *Server) updatePeer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name     *string `json:"name"`
		Role     *string `json:"role"`
		Metadata *string `json:"metadata"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(bytes.TrimSpace(body), &req); err != nil {
		answerError(w, http.StatusBadRequest, "invalid body")
		return
	}
	if req.Role != nil && *req.Role == "" {
		answerError(w, http.StatusBadRequest, "role must not be empty")
		return
	}
	roomID := r.PathValue("id")
	now := time.Now().UTC()
	var hooks []hook
	s.mu.Lock()
	sess := s.activeSession(roomID)
	var p *Peer
	if sess != nil {
		p = connected(sess, r.PathValue("peer"))
	}
	if p == nil {
		s.mu.Unlock()
		if sess == nil {
			notActive(w)
		} else {
			answerError(w, http.StatusNotFound, "peer not found")
		}
		return
	}
	if req.Name != nil {
		p.Name = *req.Name
	}
	if req.Role != nil {
		from := p.Role
		p.Role = *req.Role
		s.peerUpdates = append(s.peerUpdates, PeerUpdate{RoomID: roomID, SessionID: sess.ID, PeerID: p.ID, UserID: p.UserID,
			FromRole: from, ToRole: p.Role, At: now})
		if from != p.Role {
			hooks = append(hooks, s.roleChanged(sess, *p, from, now))
		}
	}
	answerBody := peerWithTracksJSON(*p)
	s.mu.Unlock()
	answer(w, answerBody)
	s.send(hooks)
}

// roleChanged is the role.change.success 100ms sends for a role set by
// the API: the fields of its sample, without role_change_requested_by,
// which "won't be present if role is changed using API". s.mu held.
func (s *Server) roleChanged(sess *Session, p Peer, from string, at time.Time) hook {
	data := map[string]any{
		"joined_at": stampNano(p.JoinedAt), "peer_id": p.ID, "role": p.Role, "previous_role": from,
		"room_id": sess.RoomID, "room_name": "", "session_id": sess.ID, "template_id": "",
		"user_id": p.UserID, "user_name": p.Name, "user_data": "",
		"session_started_at": stampNano(sessionStarted(sess)), "role_changed_at": stampNano(at),
	}
	if room := s.rooms[sess.RoomID]; room != nil {
		data["room_name"], data["template_id"] = room.Name, room.TemplateID
	}
	return s.webhook("role.change.success", sess.RoomID, at, data)
}

// peerKicked is the reason of the peer.leave.success 100ms sends for a
// peer removed "using the remove peer API from the application server"
// (configure-webhooks--webhook.md, "Peer Leave Reason").
const peerKicked = "peer kicked"

// removePeers disconnects the peer named by peer_id, or every peer
// connected with the role named, from the room's active session, as
// active-rooms--remove-peers.md describes: peer_id wins when both are sent,
// and one of them is required. Each removed peer gets the
// peer.leave.success 100ms sends, with reason "peer kicked" and the
// request's reason as its message. What the page does not document, the
// fake decides (see the package comment): a room with no active session
// answers 404, a peer_id not connected 404, and a role no peer has 200,
// removing nobody.
func (s *Server) removePeers(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PeerID string `json:"peer_id"`
		Role   string `json:"role"`
		Reason string `json:"reason"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(bytes.TrimSpace(body), &req); err != nil {
		answerError(w, http.StatusBadRequest, "invalid body")
		return
	}
	if req.PeerID == "" && req.Role == "" {
		// The page: "you must specify peer_id or role for this request".
		answerError(w, http.StatusBadRequest, "peer_id or role is required")
		return
	}
	roomID := r.PathValue("id")
	now := time.Now().UTC()
	s.mu.Lock()
	sess := s.activeSession(roomID)
	if sess == nil {
		s.mu.Unlock()
		notActive(w)
		return
	}
	var gone []*Peer
	if req.PeerID != "" {
		if p := connected(sess, req.PeerID); p != nil {
			gone = append(gone, p)
		}
	} else {
		for i := range sess.Peers {
			if p := &sess.Peers[i]; p.LeftAt.IsZero() && p.Role == req.Role {
				gone = append(gone, p)
			}
		}
	}
	if req.PeerID != "" && len(gone) == 0 {
		s.mu.Unlock()
		answerError(w, http.StatusNotFound, "peer not found")
		return
	}
	var hooks []hook
	for _, p := range gone {
		p.LeftAt = now
		s.removals = append(s.removals, Removal{RoomID: roomID, SessionID: sess.ID, PeerID: p.ID, UserID: p.UserID,
			Role: p.Role, Reason: req.Reason, ByRole: req.PeerID == "", At: now})
		hooks = append(hooks, s.peerLeft(sess, *p, peerKicked, req.Reason))
	}
	if len(gone) > 0 {
		sess.UpdatedAt = now
	}
	s.mu.Unlock()
	// The page's answer, whatever was removed: it names no peer.
	answer(w, map[string]any{"message": "peer remove request submitted"})
	s.send(hooks)
}

// peerLeft is the peer.leave.success of a peer that has left (p.LeftAt
// set): the fields of the page's sample, duration in whole seconds. s.mu
// held.
func (s *Server) peerLeft(sess *Session, p Peer, reason, message string) hook {
	data := map[string]any{
		"duration": int(p.LeftAt.Sub(p.JoinedAt).Seconds()), "joined_at": stampNano(p.JoinedAt),
		"left_at": stampNano(p.LeftAt), "peer_id": p.ID, "reason": reason, "message": message, "role": p.Role,
		"room_id": sess.RoomID, "room_name": "", "session_id": sess.ID, "template_id": "", "type": "regular",
		"user_id": p.UserID, "user_name": p.Name, "user_data": "",
		"session_started_at": stampNano(sessionStarted(sess)),
	}
	if room := s.rooms[sess.RoomID]; room != nil {
		data["room_name"], data["template_id"] = room.Name, room.TemplateID
	}
	return s.webhook("peer.leave.success", sess.RoomID, p.LeftAt, data)
}
