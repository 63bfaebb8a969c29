package store

import (
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// Failures, calls/{a}/failures/{eventId} (docs/data-model.md): peer.join.failure,
// peer.leave.failure, room.end.failure and role.change.failure, one
// document per event. They used to be a map on the call document, which
// grew with every failure until the call document passed 1 MiB and every
// later event of the call failed; a document each keeps the call bounded.
// Each document is written by its own event only, so exactly-once is its
// whole merge rule: kind, peerId, userId, role, sessionId (when the event
// carries one), error, errorCode, and at (joined_at, left_at or
// role_changed_at when the event has it, else the event time). The call's
// updatedAt moves, as for any event applied to the call.
func (s *Store) failurePlan(ev *hms.Event, appt string) plan {
	var kind, msg string
	var peer hms.PeerRef
	var at time.Time
	var code *int64
	switch d := ev.Data.(type) {
	case *hms.PeerJoinFailed:
		kind, peer, msg, at = "join", d.PeerRef, d.ErrorMessage, tm(d.JoinedAt)
	case *hms.PeerLeaveFailed:
		kind, peer, msg, at = "leave", d.PeerRef, d.ErrorMessage, tm(d.LeftAt)
	case *hms.RoomEndFailed:
		kind, peer, msg, code = "room-end", d.PeerRef, d.ErrorMessage, d.ErrorCode.Ptr()
	case *hms.RoleChangeFailed:
		kind, peer, msg = "role-change", d.PeerRef, d.ErrorMessage
	default:
		return plan{}
	}
	f := map[string]any{"kind": kind, "at": firstTime(at, norm(ev.Timestamp))}
	setText(f, "peerId", peer.PeerID)
	setText(f, "userId", peer.UserID)
	setText(f, "role", peer.Role)
	setStr(f, "sessionId", ev.SessionID)
	setText(f, "error", msg)
	setInt(f, "errorCode", code)
	return plan{merges: []write{
		{s.failureRef(appt, ev.ID), f},
		{s.callRef(appt), map[string]any{"updatedAt": firestore.ServerTimestamp}},
	}}
}
