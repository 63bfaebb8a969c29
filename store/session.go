package store

import (
	"sort"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// Call and session status values (docs/data-model.md).
const (
	statusIdle   = "idle"
	statusLive   = "live"
	statusEnded  = "ended"
	sessionOpen  = "open"
	sessionClose = "closed"
)

// sessionPlan applies session.open.success or session.close.success. These
// are rare (two per session) and derive the call's state from all of its
// sessions, so they read. Not the sessions collection nor the call: a query
// in a transaction locks far more than its results on the emulator, and the
// session and call documents are the ones every other event writes.
// Instead each call has a bookkeeping document, hmsCalls/{appointmentId},
// holding sessions.{sessionId}: {status, startedAt, endedAt}, written only
// by these events, and they read only that (commitRead).
//
// Session fields:
//   - status: closed beats open.
//   - startedAt: session_started_at, earliest seen (open and close carry the same).
//   - endedAt: the close's session_stopped_at, else its event timestamp;
//     latest seen. A close that hmsSweep made (CloseSession: 100ms said
//     the session was over, no close came) gives way to a real one: its
//     time stands only until a real close arrives, whichever comes first,
//     so that the result is the real close's in any order.
//   - durationSec: the close's session_duration when it carries one, else
//     endedAt − startedAt once both are known (never negative).
//   - roomId: the event's room.
//
// Bookkeeping of the session (hmsCalls sessions.{id}): the fields above,
// sweptEnd, room, and reconciled: 100ms's record of the session's peers
// was merged into the facts (reconcile.go). A closed session not yet
// reconciled makes the book's reconcileDue true, which hmsSweep queries.
//
// Call fields, recomputed from the stored sessions that had an open or a
// close (so never blindly incremented):
//   - status: live if a session is open, else ended if any was seen, else idle.
//   - activeSessionId: the open session (the latest started, should there be
//     several), absent otherwise.
//   - sessionCount: the number of sessions seen.
//   - startedAt: earliest session startedAt.
//   - endedAt: latest session endedAt, absent while live.
//   - updatedAt: server time.
func (s *Store) sessionPlan(ev *hms.Event, appt string, ref hms.SessionRef, closing *hms.SessionClose, bySweep bool) plan {
	if ev.SessionID == "" {
		return plan{}
	}
	sid, roomID, started := ev.SessionID, ref.RoomID, tm(ref.SessionStartedAt)
	var ended time.Time
	var duration *int64
	if closing != nil {
		ended, duration = firstTime(tm(closing.SessionStoppedAt), norm(ev.Timestamp)), closing.SessionDuration.Ptr()
	}
	bookRef := s.callBookRef(appt)
	step := func(stored map[string]any) (map[string]any, []write) {
		seen := sessionsOf(stored)
		cur := seen[sid]

		// Session rules.
		if closing != nil || cur.status == sessionClose {
			cur.status = sessionClose
		} else {
			cur.status = sessionOpen
		}
		cur.startedAt = earlier(cur.startedAt, started)
		cur.room = firstOf(cur.room, roomID)
		switch {
		case closing == nil:
		case bySweep && !cur.endedAt.IsZero() && !cur.sweptEnd:
			// A real close stands.
		case bySweep:
			cur.endedAt, cur.sweptEnd = later(cur.endedAt, ended), true
		case cur.sweptEnd:
			cur.endedAt, cur.sweptEnd = ended, false // the real close replaces the sweep's
		default:
			cur.endedAt = later(cur.endedAt, ended)
		}
		if duration != nil && (cur.duration == nil || *duration > *cur.duration) {
			cur.duration = duration // closes agree; the greatest, should they not
		}
		seen[sid] = cur
		sess := map[string]any{"status": cur.status}
		setStr(sess, "roomId", roomID)
		setTime(sess, "startedAt", cur.startedAt)
		setTime(sess, "endedAt", cur.endedAt)
		switch {
		case cur.duration != nil:
			sess["durationSec"] = *cur.duration
		case !cur.startedAt.IsZero() && !cur.endedAt.IsZero():
			sess["durationSec"] = durationSec(cur.startedAt, cur.endedAt)
		}
		book := map[string]any{"status": cur.status}
		setTime(book, "startedAt", cur.startedAt)
		setTime(book, "endedAt", cur.endedAt)
		setInt(book, "durationSec", cur.duration)
		book["sweptEnd"] = cur.sweptEnd
		setStr(book, "room", cur.room)

		// Presence and the visit follow the sessions (a close ends its
		// peers' time; inCall is of the open session only).
		pr := presenceOf(stored)
		pr.sessions = seen
		call := deriveCall(seen)
		deepMerge(call, pr.derived(s.waitingRole))
		return map[string]any{"sessions": map[string]any{sid: book}, "reconcileDue": reconcileDue(seen)}, []write{
			{s.sessionRef(appt, sid), sess},
			{s.callRef(appt), call},
		}
	}
	return plan{read: bookRef, step: step}
}

type sessionState struct {
	status             string
	startedAt, endedAt time.Time
	duration           *int64 // session_duration, when a close carried it
	sweptEnd           bool   // endedAt is hmsSweep's, no real close yet
	room               string // the room its events named
	reconciled         bool   // 100ms's record of its peers is merged
}

func sessionStateOf(d map[string]any) sessionState {
	st := sessionState{status: strAt(d, "status"), startedAt: timeAt(d, "startedAt"), endedAt: timeAt(d, "endedAt"),
		room: strAt(d, "room")}
	if n, ok := d["durationSec"].(int64); ok {
		st.duration = &n
	}
	st.sweptEnd, _ = d["sweptEnd"].(bool)
	st.reconciled, _ = d["reconciled"].(bool)
	return st
}

// sessionsOf reads the book's sessions.
func sessionsOf(stored map[string]any) map[string]sessionState {
	seen := map[string]sessionState{}
	for id, v := range mapAt(stored, "sessions") {
		if m, ok := v.(map[string]any); ok {
			seen[id] = sessionStateOf(m)
		}
	}
	return seen
}

// reconcileDue is the book's reconcileDue: true while a closed session
// awaits its reconciliation, else deleted (so that hmsSweep's query,
// reconcileDue == true, finds exactly the calls with one).
func reconcileDue(seen map[string]sessionState) any {
	for _, st := range seen {
		if st.due() {
			return true
		}
	}
	return firestore.Delete
}

// due: closed, not reconciled, and of a known room (sessions closed before
// revision 5 kept no room, and 100ms's record is never taken without
// checking that it is this room's).
func (st sessionState) due() bool {
	return st.status == sessionClose && !st.reconciled && st.room != ""
}

// activeSession is the open session: the latest started of those open,
// should there be several (then the greatest id, so any order agrees).
// The call's activeSessionId and its inCall both follow it.
func activeSession(seen map[string]sessionState) string {
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var active string
	var activeStart time.Time
	for _, id := range ids {
		st := seen[id]
		if st.status == sessionOpen && (active == "" || !st.startedAt.Before(activeStart)) {
			active, activeStart = id, st.startedAt
		}
	}
	return active
}

// deriveCall computes the call's session-derived fields; absent values are
// deleted so that a field never outlives its meaning.
func deriveCall(seen map[string]sessionState) map[string]any {
	var first, last time.Time
	for _, st := range seen {
		first = earlier(first, st.startedAt)
		last = later(last, st.endedAt)
	}
	active := activeSession(seen)
	call := map[string]any{
		"sessionCount":    int64(len(seen)),
		"updatedAt":       firestore.ServerTimestamp,
		"activeSessionId": firestore.Delete,
		"startedAt":       firestore.Delete,
		"endedAt":         firestore.Delete,
	}
	switch {
	case active != "":
		call["status"] = statusLive
		call["activeSessionId"] = active
	case len(seen) > 0:
		call["status"] = statusEnded
		if !last.IsZero() {
			call["endedAt"] = last
		}
	default:
		call["status"] = statusIdle
	}
	if !first.IsZero() {
		call["startedAt"] = first
	}
	return call
}
