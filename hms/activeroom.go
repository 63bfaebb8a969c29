package hms

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// ActivePeer is one peer connected now to the active session of a room, as
// GET /active-rooms/{room_id}/peers reports it.
type ActivePeer struct {
	ID, Name, UserID, Role string
	JoinedAt               time.Time
}

// ActivePeers lists the peers connected now to the active session of a
// room, only those of one user when userID is not empty (GET
// /active-rooms/{room_id}/peers?user_id=, active-rooms--list-peers.md),
// ordered by JoinedAt, then ID. 100ms reads them from the live room, so a
// role just changed shows here before its webhook arrives.
//
// A room with no active session is ErrNotActive: the page documents no error
// answer, the HIPAA page (hipaa--HIPAA-workspace.md) says an active room's
// details are deleted as soon as its session ends, and 100ms answers 404
// for an active room it does not have (see ErrNotActive). An active room
// where no peer matches gives none and no error, as the page says.
func (c *Client) ActivePeers(ctx context.Context, roomID, userID string) ([]ActivePeer, error) {
	seg, err := pathSegment("room id", roomID)
	if err != nil {
		return nil, fmt.Errorf("list active peers: %w", err)
	}
	path := "/active-rooms/" + seg + "/peers"
	if userID != "" {
		path += "?" + url.Values{"user_id": {userID}}.Encode()
	}
	// The page's answer is an object keyed by peer id; sessionPeersJSON
	// reads that, and a list too.
	var out struct {
		Peers sessionPeersJSON `json:"peers"`
	}
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("list active peers of room %s: %w: %w", roomID, ErrNotActive, err)
		}
		return nil, fmt.Errorf("list active peers of room %s: %w", roomID, err)
	}
	peers := make([]ActivePeer, 0, len(out.Peers))
	for _, p := range out.Peers {
		if p.ID == "" {
			return nil, fmt.Errorf("list active peers of room %s: %w: a peer has no id", roomID, ErrUnavailable)
		}
		// Callers act on these ids (SetPeerRole): a filter 100ms did not
		// apply must not hand them another user's peer.
		if userID != "" && p.UserID != userID {
			continue
		}
		peers = append(peers, ActivePeer{ID: p.ID, Name: p.Name, UserID: p.UserID, Role: p.Role, JoinedAt: p.JoinedAt.Time})
	}
	slices.SortFunc(peers, func(a, b ActivePeer) int {
		return cmp.Or(a.JoinedAt.Compare(b.JoinedAt), cmp.Compare(a.ID, b.ID))
	})
	return peers, nil
}

// SetPeerRole moves a connected peer to another role (POST
// /active-rooms/{room_id}/peers/{peer_id} {"role"},
// active-rooms--update-a-peer.md), the server-side way to let a patient
// out of the waiting room (guide--waiting-room.md); 100ms then sends
// role.change.success. The move is forced, not asked of the peer. Setting
// the role a peer already has changes nothing, so a retried call is
// harmless.
//
// A peer that has left, or a room with no active session, is ErrNotFound:
// the page documents no error answer, and 100ms answers 404 for what it
// does not have; the two cannot be told apart by the answer, and either
// way there is no peer to move.
func (c *Client) SetPeerRole(ctx context.Context, roomID, peerID, role string) error {
	roomSeg, err := pathSegment("room id", roomID)
	if err != nil {
		return fmt.Errorf("set peer role: %w", err)
	}
	peerSeg, err := pathSegment("peer id", peerID)
	if err != nil {
		return fmt.Errorf("set peer role: %w", err)
	}
	if role == "" {
		return fmt.Errorf("set peer role: %w: empty role", ErrInvalidArgument)
	}
	in := struct {
		Role string `json:"role"`
	}{role}
	// The answer is the updated peer; nothing in it changes what the
	// caller does next, so it is not read.
	if err := c.do(ctx, http.MethodPost, "/active-rooms/"+roomSeg+"/peers/"+peerSeg, in, nil); err != nil {
		return fmt.Errorf("set role of peer %s in room %s to %s: %w", peerID, roomID, role, err)
	}
	return nil
}
