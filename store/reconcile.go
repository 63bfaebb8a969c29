package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
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
func (s *Store) ReconcileSession(ctx context.Context, appointmentID, sessionID string, peers []PeerRecord) error {
	if !validID(appointmentID) || !validID(sessionID) {
		return wrapf(ErrNotFound, "reconcile session %q of %q", sessionID, appointmentID)
	}
	ref := s.sessionRef(appointmentID, sessionID)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil && !isNotFound(err) {
			return err
		}
		stored := mapAt(dataOf(snap), "peers")
		add := map[string]any{}
		for _, p := range peers {
			if p.PeerID == "" {
				continue
			}
			cur := mapAt(stored, p.PeerID)
			m := map[string]any{}
			fill := func(k string, v any) {
				if _, ok := cur[k]; !ok {
					m[k] = v
				}
			}
			if p.UserID != "" {
				fill("userId", p.UserID)
			}
			if p.UserName != "" {
				fill("userName", p.UserName)
			}
			if p.Role != "" {
				fill("role", p.Role)
			}
			joined, left := timeAt(cur, "joinedAt"), timeAt(cur, "leftAt")
			if j := norm(p.JoinedAt); !j.IsZero() && joined.IsZero() {
				joined = j
				fill("joinedAt", j)
			}
			if l := norm(p.LeftAt); !l.IsZero() && left.IsZero() {
				left = l
				fill("leftAt", l)
			}
			if !joined.IsZero() && !left.IsZero() {
				fill("durationSec", durationSec(joined, left))
			}
			if len(m) > 0 {
				add[p.PeerID] = m
			}
		}
		if len(add) == 0 {
			return nil
		}
		return tx.Set(ref, map[string]any{"peers": add}, firestore.MergeAll)
	}, firestore.MaxAttempts(txAttempts))
	return wrapf(err, "reconcile session %s of %s", sessionID, appointmentID)
}
