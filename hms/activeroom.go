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

// The remove-peers call (POST /active-rooms/{room_id}/remove-peers,
// active-rooms--remove-peers.md) takes a peer_id or a role, and gives the
// peer_id "preference" when both are sent. It is two methods, not one with
// an options struct, so that a call site says which it removes and can
// never send both and have the role silently ignored.
//
// 100ms answers only {"message": "peer remove request submitted"}: not
// which peers, nor how many, were removed, so these return an error alone.
// "Submitted" also means the peer may still be listed by ActivePeers for a
// moment; the peer.leave.success that follows, with reason "peer kicked"
// and the reason given here as its message (configure-webhooks--webhook.md,
// "Peer Leave Reason"), is what says it left. A removed peer's join token
// stays valid: the page says to "combine with custom logic not to generate
// auth tokens for this user".

// RemovePeer disconnects one connected peer from the active session of a
// room (body {"peer_id", "reason"}); reason, when not empty, is passed to
// the other peers and comes back as the message of the peer's
// peer.leave.success.
//
// A peer that has left, or a room with no active session, is ErrNotFound:
// the page documents no error answer, and 100ms answers 404 for what it
// does not have; the two cannot be told apart, and either way that peer is
// not in the room. A retry whose first attempt took effect ends the same
// way, so a caller may take ErrNotFound as "out already".
func (c *Client) RemovePeer(ctx context.Context, roomID, peerID, reason string) error {
	if peerID == "" {
		return fmt.Errorf("remove peer: %w: empty peer id", ErrInvalidArgument)
	}
	in := struct {
		PeerID string `json:"peer_id"`
		Reason string `json:"reason,omitempty"`
	}{peerID, reason}
	if err := c.removePeers(ctx, roomID, in); err != nil {
		return fmt.Errorf("remove peer %s from room %s: %w", peerID, roomID, err)
	}
	return nil
}

// RemoveRole disconnects every peer connected with that role from the
// active session of a room (body {"role", "reason"}); reason is as for
// RemovePeer. A role no peer has is no error: 100ms documents none, and
// there is nobody to remove.
//
// A room with no active session is ErrNotActive (100ms answers 404 for an
// active room it does not have; see ErrNotActive).
func (c *Client) RemoveRole(ctx context.Context, roomID, role, reason string) error {
	if role == "" {
		return fmt.Errorf("remove role: %w: empty role", ErrInvalidArgument)
	}
	in := struct {
		Role   string `json:"role"`
		Reason string `json:"reason,omitempty"`
	}{role, reason}
	if err := c.removePeers(ctx, roomID, in); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove peers of role %s from room %s: %w: %w", role, roomID, ErrNotActive, err)
		}
		return fmt.Errorf("remove peers of role %s from room %s: %w", role, roomID, err)
	}
	return nil
}

// removePeers posts one remove-peers request. Its answer ("peer remove
// request submitted") tells the caller nothing more, so it is not read.
func (c *Client) removePeers(ctx context.Context, roomID string, in any) error {
	seg, err := pathSegment("room id", roomID)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, "/active-rooms/"+seg+"/remove-peers", in, nil)
}
