package store

import (
	"context"
	"time"
)

// PeerRecord is a peer as 100ms's session API reports it (GET /sessions/{id}).
type PeerRecord struct {
	PeerID, UserID, UserName, Role string
	JoinedAt, LeftAt               time.Time
}

// ReconcileSession adds to calls/{appointmentID}/sessions/{sessionID} the
// peers no event recorded, and fills a missing userId, userName, role,
// joinedAt, leftAt or durationSec. It never overwrites a field that is
// already stored, so what events wrote stands; an event arriving later
// overwrites what this filled in.
//
// It is a plan that reads (commitRead) rather than a transaction: the
// Firestore client opens a transaction with a round trip of its own, and
// this runs before the webhook answers a close. An event that writes the
// session between the read and the commit makes the commit fail its
// precondition, and the missing fields are worked out again, until ctx
// ends (the webhook gives it reconcileTimeout, the sweep firestoreTimeout).
func (s *Store) ReconcileSession(ctx context.Context, appointmentID, sessionID string, peers []PeerRecord) error {
	if !validID(appointmentID) || !validID(sessionID) {
		return wrapf(ErrNotFound, "reconcile session %q of %q", sessionID, appointmentID)
	}
	p := s.reconcilePlan(appointmentID, sessionID, peers)
	return wrapf(s.commitRead(ctx, nil, p, nil), "reconcile session %s of %s", sessionID, appointmentID)
}

// reconcilePlan reads the session and writes what peers adds to it.
func (s *Store) reconcilePlan(appointmentID, sessionID string, peers []PeerRecord) plan {
	return plan{
		read: s.sessionRef(appointmentID, sessionID),
		step: func(stored map[string]any) (map[string]any, []write) {
			add := missingPeers(mapAt(stored, "peers"), peers)
			if len(add) == 0 {
				return nil, nil
			}
			return map[string]any{"peers": add}, nil
		},
	}
}

// missingPeers is, per peer id, the fields of peers that stored (the
// session's peers map) lacks; peers with nothing missing are left out.
func missingPeers(stored map[string]any, peers []PeerRecord) map[string]any {
	add := map[string]any{}
	for _, p := range peers {
		if !safeID(p.PeerID) {
			continue // no key for it (the raw session is 100ms's to keep)
		}
		if m := missingFields(mapAt(stored, p.PeerID), p); len(m) > 0 {
			add[p.PeerID] = m
		}
	}
	return add
}

// missingFields is what p knows that cur (one stored peer) does not,
// durationSec included once both ends are known, from either source.
func missingFields(cur map[string]any, p PeerRecord) map[string]any {
	m := map[string]any{}
	fill := func(k string, v any, known bool) {
		if _, ok := cur[k]; !ok && known {
			m[k] = v
		}
	}
	fill("userId", p.UserID, p.UserID != "")
	fill("userName", p.UserName, p.UserName != "")
	fill("role", p.Role, p.Role != "")
	joined, left := timeAt(cur, "joinedAt"), timeAt(cur, "leftAt")
	if j := norm(p.JoinedAt); joined.IsZero() && !j.IsZero() {
		joined = j
		fill("joinedAt", j, true)
	}
	if l := norm(p.LeftAt); left.IsZero() && !l.IsZero() {
		left = l
		fill("leftAt", l, true)
	}
	fill("durationSec", durationSec(joined, left), !joined.IsZero() && !left.IsZero())
	return m
}
