package store

import "github.com/telemed/videocalls/hms"

// roomEndPlan is the blind merge of room.end.success into its session's
// roomEnd (docs/data-model.md): reason, source, userId, lockRoom, and at (the event
// time). 100ms ends a session's room once, so that event is its only writer.
func (s *Store) roomEndPlan(ev *hms.Event, appt string, d *hms.RoomEnd) plan {
	if ev.SessionID == "" {
		return plan{}
	}
	e := map[string]any{"lockRoom": d.LockRoom, "at": norm(ev.Timestamp)}
	setText(e, "reason", d.Reason)
	setText(e, "source", d.Source)
	setText(e, "userId", d.UserID)
	sess := map[string]any{"roomEnd": e}
	setStr(sess, "roomId", d.RoomID)
	return plan{merges: []write{{s.sessionRef(appt, ev.SessionID), sess}}}
}
