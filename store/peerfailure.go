package store

import (
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// peerFailurePlan is the blind merge of peer.join.failure and
// peer.leave.failure into calls/{a}.peerFailures.{eventId} (SPEC §2): they
// carry no session id, so they go to the call. Each entry is written by its
// own event only, so exactly-once is its whole merge rule; at is joined_at
// or left_at, else the event time.
func (s *Store) peerFailurePlan(ev *hms.Event, appt string) plan {
	var kind, msg string
	var p hms.PeerRef
	var at time.Time
	switch d := ev.Data.(type) {
	case *hms.PeerJoinFailed:
		kind, p, msg, at = "join", d.PeerRef, d.ErrorMessage, tm(d.JoinedAt)
	case *hms.PeerLeaveFailed:
		kind, p, msg, at = "leave", d.PeerRef, d.ErrorMessage, tm(d.LeftAt)
	default:
		return plan{}
	}
	f := map[string]any{"kind": kind, "at": firstTime(at, norm(ev.Timestamp))}
	setStr(f, "peerId", p.PeerID)
	setStr(f, "userId", p.UserID)
	setStr(f, "role", p.Role)
	setStr(f, "error", msg)
	return plan{merges: []write{{s.callRef(appt), map[string]any{
		"peerFailures": map[string]any{ev.ID: f},
		"updatedAt":    firestore.ServerTimestamp,
	}}}}
}
