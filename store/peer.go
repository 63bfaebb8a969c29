package store

import (
	"time"

	"github.com/telemed/videocalls/hms"
)

// The one model of a peer (docs/data-model.md, "Peer facts"; docs/webhook.md,
// "Every path an event takes"): every fact about a peer (joined, left,
// role, admitted) is kept once, in the call's bookkeeping document
// hmsCalls/{appointmentId}, as peers.{peerId}, and merged there by one
// set of rules. What the app reads is derived from those facts in the same
// commit: the session's peers.{peerId} (this file), and calls/{id}.inCall
// and .visit (presence.go).
//
// Merge rule of each fact (short keys, as stored):
//   - u userId, s sessionId: every event of the peer carries the same; the
//     first stored stands.
//   - j joinedAt: the earliest joined_at seen (the join's, else its event
//     time; and the joined_at that leaves and role changes carry).
//   - l leftAt: the latest leave time (left_at, else the event time). 100ms
//     sends one leave per peer id; a rejoin is a new peer.
//   - r role, with its key ra, rr, ri: the role of the greatest role key
//     (roleKey: role_changed_at, else the event time; then a role change
//     over a join; then the event id).
//   - jr joinedRole: the join's role (one join per peer id).
//   - a admittedAt: the earliest role_changed_at of a change from the
//     waiting role to another.
//   - d durationSec: the leave's duration (the greatest, should two
//     deliveries of the leave differ).
//   - e: an event of the peer was applied (what 100ms's record adds stands
//     only where no event said).
//   - k: the peer's join was claimed for enforcement of a removal
//     (removal.go): set, once, by the join's own commit when the join's
//     user is in the book's removed, with the system's remove.enforce
//     entry; never unset. Only the delivery whose commit sets it reports
//     the peer (ApplyResult.Enforce) for the webhook to remove at 100ms,
//     so once per peer id however often the join is delivered or replayed
//     (a redelivery is a duplicate; a replay with a new event id finds k
//     set).
//   - x: 100ms's own record of the peer (GET /sessions/{id}), written by
//     reconciliation after the session closed (reconcile.go): x.j, x.l,
//     x.r. It fills what no event said and never overrides an event.
//
// Every peer event reads the facts (one document, with the call's
// sessions and recording control) and commits on condition that it did not
// change meanwhile (commitRead), so that the last commit is derived from
// every fact: whatever the order, the same documents.
//
// The facts are bounded (maxPresencePeers, presence.go). An event of a
// peer past the bound writes what it says to the session's peer as it
// comes, with no merge rule: a call with more than 500 peer ids is a
// misbehaving client, and its events must still be taken (docs/webhook.md).

// Ranks of the events that set a role, for equal timestamps.
const (
	rankJoin       = 0
	rankRoleChange = 1
)

// roleKey orders the events that set a peer's role; greater wins.
type roleKey struct {
	at   time.Time
	rank int64
	id   string
}

// joinTime is when a peer joined: 100ms's joined_at, else the event time.
func joinTime(ev *hms.Event, d *hms.PeerJoin) time.Time {
	return firstTime(tm(d.JoinedAt), norm(ev.Timestamp))
}

// joinRoleKey is the role key of a join: its event time. roleChangeKey is
// a role change's: when 100ms says the role changed, else its event time;
// at one instant, a role change wins over a join.
func joinRoleKey(ev *hms.Event) roleKey { return roleKey{norm(ev.Timestamp), rankJoin, ev.ID} }

func roleChangeKey(ev *hms.Event, d *hms.RoleChange) roleKey {
	return roleKey{firstTime(tm(d.RoleChangedAt), norm(ev.Timestamp)), rankRoleChange, ev.ID}
}

func (k roleKey) after(o roleKey) bool {
	if !k.at.Equal(o.at) {
		return k.at.After(o.at)
	}
	if k.rank != o.rank {
		return k.rank > o.rank
	}
	return k.id > o.id
}

// peerFact is what the events, and 100ms's record, said about one peer.
type peerFact struct {
	userID, sessionID string
	joinedAt, leftAt  time.Time
	role, joinedRole  string
	roleKey           roleKey
	hasRole           bool
	admittedAt        time.Time
	duration          *int64
	fromEvent         bool
	enforced          bool // k
	record            recordFact
}

// recordFact is 100ms's record of a peer, as reconciliation read it.
type recordFact struct {
	joinedAt, leftAt time.Time
	role             string
}

func peerFactOf(m map[string]any) peerFact {
	f := peerFact{userID: strAt(m, "u"), sessionID: strAt(m, "s"), joinedAt: timeAt(m, "j"), leftAt: timeAt(m, "l"),
		role: strAt(m, "r"), joinedRole: strAt(m, "jr"), admittedAt: timeAt(m, "a")}
	if id := strAt(m, "ri"); id != "" {
		rank, _ := m["rr"].(int64)
		f.roleKey, f.hasRole = roleKey{at: timeAt(m, "ra"), rank: rank, id: id}, true
	}
	if d, ok := m["d"].(int64); ok {
		f.duration = &d
	}
	f.fromEvent, _ = m["e"].(bool)
	f.enforced, _ = m["k"].(bool)
	if x := mapAt(m, "x"); x != nil {
		f.record = recordFact{joinedAt: timeAt(x, "j"), leftAt: timeAt(x, "l"), role: strAt(x, "r")}
	}
	return f
}

func (f peerFact) fields() map[string]any {
	m := map[string]any{}
	setStr(m, "u", f.userID)
	setStr(m, "s", f.sessionID)
	setTime(m, "j", f.joinedAt)
	setTime(m, "l", f.leftAt)
	setStr(m, "jr", f.joinedRole)
	setTime(m, "a", f.admittedAt)
	if f.hasRole {
		m["r"], m["ra"], m["rr"], m["ri"] = f.role, f.roleKey.at, f.roleKey.rank, f.roleKey.id
	}
	setInt(m, "d", f.duration)
	if f.fromEvent {
		m["e"] = true
	}
	if f.enforced {
		m["k"] = true
	}
	x := map[string]any{}
	setTime(x, "j", f.record.joinedAt)
	setTime(x, "l", f.record.leftAt)
	setStr(x, "r", f.record.role)
	if len(x) > 0 {
		m["x"] = x
	}
	return m
}

// merge adds one event's facts to the stored ones, by each fact's rule.
func (f peerFact) merge(ev peerEvent, waitingRole string) peerFact {
	n := ev.fact
	f.fromEvent = true
	f.userID = firstOf(f.userID, n.userID)
	f.sessionID = firstOf(f.sessionID, n.sessionID)
	f.joinedAt = earlier(f.joinedAt, n.joinedAt)
	f.leftAt = later(f.leftAt, n.leftAt)
	if n.hasRole && (!f.hasRole || n.roleKey.after(f.roleKey)) {
		f.role, f.roleKey, f.hasRole = n.role, n.roleKey, true
	}
	if ev.isJoin && n.role != "" {
		f.joinedRole = n.role // one join per peer id
	}
	if waitingRole != "" && ev.prevRole == waitingRole && n.role != "" && n.role != waitingRole {
		f.admittedAt = earlier(f.admittedAt, n.roleKey.at)
	}
	if n.duration != nil && (f.duration == nil || *n.duration > *f.duration) {
		f.duration = n.duration
	}
	return f
}

// joined, left and currentRole are the peer's as the app reads them: what
// the events said, else what 100ms's record says.
func (f peerFact) joined() time.Time { return firstTime(f.joinedAt, f.record.joinedAt) }
func (f peerFact) left() time.Time   { return firstTime(f.leftAt, f.record.leftAt) }

func (f peerFact) currentRole() string {
	if f.hasRole {
		return f.role
	}
	return f.record.role
}

// sessionPeer is the session's peers.{peerId} derived from the facts: the
// fields that have a merge rule, written whole on every commit that
// changes the peer. (userId, userName and leaveReason are written by each
// event as it says them: every event of a peer says the same; for a peer
// no event named, reconciliation writes the record's userId and userName.)
func (f peerFact) sessionPeer() map[string]any {
	m := map[string]any{}
	joined, left := f.joined(), f.left()
	setTime(m, "joinedAt", joined)
	setTime(m, "leftAt", left)
	setStr(m, "role", f.currentRole())
	switch {
	case f.duration != nil:
		m["durationSec"] = *f.duration
	case !joined.IsZero() && !left.IsZero():
		m["durationSec"] = durationSec(joined, left)
	}
	setStr(m, "joinedRole", f.joinedRole)
	setTime(m, "admittedAt", f.admittedAt)
	return m
}

// peerEvent is one peer event: the facts it adds, and the words it says
// of its peer, written to the session as they come.
type peerEvent struct {
	pid  string
	fact peerFact
	// prevRole is a role change's previous_role: a change from the
	// waiting role to another admits the peer at roleKey.at.
	prevRole string
	isJoin   bool
	eventID  string // a join's, named in its enforcement's audit entry
	roomID   string
	// at is the event's time: a notification is claimed only by an
	// event of the last few minutes (notify.go).
	at time.Time
	// userName and leaveReason have no merge rule: every event of a peer
	// carries the same name, and only its one leave a reason.
	userName, leaveReason string
}

func joinEvent(ev *hms.Event, d *hms.PeerJoin) peerEvent {
	return peerEvent{pid: d.PeerID, isJoin: true, eventID: ev.ID, roomID: d.RoomID, at: norm(ev.Timestamp), userName: d.UserName, fact: peerFact{
		userID: clip(d.UserID, maxTextBytes), sessionID: ev.SessionID,
		joinedAt: joinTime(ev, d),
		role:     clip(d.Role, maxTextBytes), roleKey: joinRoleKey(ev), hasRole: d.Role != "",
	}}
}

func leaveEvent(ev *hms.Event, d *hms.PeerLeave) peerEvent {
	return peerEvent{pid: d.PeerID, roomID: d.RoomID, at: norm(ev.Timestamp), userName: d.UserName, leaveReason: d.Reason, fact: peerFact{
		userID: clip(d.UserID, maxTextBytes), sessionID: ev.SessionID,
		joinedAt: tm(d.JoinedAt), leftAt: firstTime(tm(d.LeftAt), norm(ev.Timestamp)),
		duration: seconds(d.Duration),
	}}
}

func roleChangeEvent(ev *hms.Event, d *hms.RoleChange) peerEvent {
	return peerEvent{pid: d.PeerID, roomID: d.RoomID, at: norm(ev.Timestamp), userName: d.UserName, prevRole: d.PreviousRole, fact: peerFact{
		userID: clip(d.UserID, maxTextBytes), sessionID: ev.SessionID, joinedAt: tm(d.JoinedAt),
		role:    clip(d.Role, maxTextBytes),
		roleKey: roleChangeKey(ev, d), hasRole: d.Role != "",
	}}
}

// said is the session's peer as this event alone says it: its words, and,
// for a peer past the facts' bound, its facts as they come.
func (pe peerEvent) said(withFacts bool) map[string]any {
	m := map[string]any{}
	setText(m, "userId", pe.fact.userID)
	setText(m, "userName", pe.userName)
	setText(m, "leaveReason", pe.leaveReason)
	if withFacts {
		setTime(m, "joinedAt", pe.fact.joinedAt)
		setTime(m, "leftAt", pe.fact.leftAt)
		if pe.fact.hasRole {
			m["role"] = pe.fact.role
		}
		setInt(m, "durationSec", pe.fact.duration)
	}
	return m
}

// peerPlan applies a join, a leave or a role change: it reads the call's
// facts, merges the event's, and writes the facts, the session's peer
// derived from them, and the call's inCall and visit, on condition that
// the facts did not change meanwhile.
func (s *Store) peerPlan(appt string, pe peerEvent) plan {
	switch {
	case pe.fact.sessionID == "" || pe.pid == "":
		return plan{} // names no peer: nothing to apply
	case !safeID(pe.pid):
		return refuse("peer id")
	}
	claims, notify := new([]RemovedPeer), new([]Notification)
	// The enforcement's entry has one id however often the step runs, so
	// that the commit that lands writes one.
	entryID := NewAuditID()
	return plan{read: s.callBookRef(appt), claims: claims, notify: notify, step: func(stored map[string]any) (map[string]any, []write) {
		*claims, *notify = nil, nil // the step may run again on a newer book
		pr := presenceOf(stored)
		fields := pr.apply(pe, s.waitingRole)
		if fields == nil { // past the bound: no fact to claim on
			return nil, []write{s.sessionPeerWrite(appt, pe, pe.said(true))}
		}
		// A removed user's join (a token minted before the removal is
		// still valid at 100ms) is claimed here, in the join's own commit
		// and from the book it read anyway: no extra read. The system's
		// remove.enforce entry is in the same commit, so it exists exactly
		// when the claim does.
		var entry []write
		if f := pr.peers[pe.pid]; pe.isJoin && !f.enforced && removedOf(stored)[f.userID] != nil {
			f.enforced = true
			pr.peers[pe.pid] = f
			fields = map[string]any{"peers": map[string]any{pe.pid: f.fields()}}
			*claims = []RemovedPeer{{PeerID: pe.pid, UserID: f.userID}}
			entry = append(entry, *s.auditWrite(&Audit{ID: entryID, Action: ActionRemoveEnforce, Outcome: AuditGranted,
				UID: SystemUID, Role: SystemUID, AppointmentID: appt, RoomID: pe.roomID, RequestID: entryID,
				Details: map[string]any{"uid": f.userID, "peerId": pe.pid, "eventId": pe.eventID}}))
		}
		call := pr.derived(s.waitingRole)
		// Notifications this event makes due are claimed in its commit
		// too (notify.go).
		book, claimed, due := s.notifications(appt, pr, stored, pe)
		deepMerge(fields, book)
		deepMerge(call, claimed)
		*notify = due
		peer := pe.said(false)
		deepMerge(peer, pr.peers[pe.pid].sessionPeer())
		return fields, append(entry,
			s.sessionPeerWrite(appt, pe, peer),
			write{s.callRef(appt), call},
		)
	}}
}

// sessionPeerWrite is the merge of peer fields into the event's session.
func (s *Store) sessionPeerWrite(appt string, pe peerEvent, peer map[string]any) write {
	d := map[string]any{"peers": map[string]any{pe.pid: peer}}
	setStr(d, "roomId", pe.roomID)
	return write{s.sessionRef(appt, pe.fact.sessionID), d}
}
