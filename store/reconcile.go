package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	// A read and a commit conditional on the session document not having
	// changed since (read again when it did), instead of a transaction:
	// the Firestore client opens a transaction with a round trip of its
	// own, and this runs before the webhook answers a close.
	unlock, err := s.lock(ctx, ref.Path)
	if err != nil {
		return wrapf(err, "reconcile session %s of %s", sessionID, appointmentID)
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		snap, err := ref.Get(ctx)
		if err != nil && !isNotFound(err) {
			return wrapf(err, "reconcile session %s of %s", sessionID, appointmentID)
		}
		stored := mapAt(dataOf(snap), "peers")
		add := map[string]any{}
		for _, p := range peers {
			if !safeID(p.PeerID) {
				continue // no key for it (the raw session is 100ms's to keep)
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
		b := s.fs.Batch() //nolint:staticcheck // SA1019: one conditional commit (see commitBlind).
		if snap != nil && snap.Exists() {
			b.Update(ref, leafUpdates(firestore.FieldPath{"peers"}, add), firestore.LastUpdateTime(snap.UpdateTime))
		} else {
			b.Create(ref, map[string]any{"peers": add})
		}
		_, err = b.Commit(ctx)
		switch {
		case err == nil:
			return nil
		case attempt+1 < txAttempts && (status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.AlreadyExists || status.Code(err) == codes.Aborted):
			continue // an event wrote the session meanwhile: read again
		default:
			return wrapf(err, "reconcile session %s of %s", sessionID, appointmentID)
		}
	}
}
