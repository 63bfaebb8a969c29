package store

import (
	"time"

	"github.com/telemed/videocalls/hms"
)

// Per-peer attendance, calls/{a}/sessions/{s}.peers.{peerId} (docs/data-model.md).
//
// Merge rule of each field:
//   - userId, userName: every event of the peer carries the same values;
//     any of them may write them.
//   - joinedAt: earliest joined_at seen (peer.join.success, and the
//     joined_at that peer.leave.success and role.change.success carry).
//   - role: from the latest (role_changed_at, else the event timestamp;
//     then role.change over join; then event id) of the join and the role
//     changes.
//   - leftAt, leaveReason: from peer.leave.success (left_at, else the event
//     time). 100ms sends one leave per peer id; a rejoin is a new peer.
//   - durationSec: the leave's duration when it has one; else
//     leftAt − joinedAt, written by whichever of the leave and the join (or
//     a role change moving joinedAt) commits second.
//
// Joins and leaves are the frequent events, sent together at the start and
// end of every session; they must not read the session document, which
// every peer of the session writes. The rules above that need a stored
// value (role, and a duration-less leave's duration) keep it in a small
// bookkeeping document per peer, hmsPeers/{sessionId}:{peerId}, that only
// this peer's events touch:
//   - roleAt, roleRank, roleEventId: the key of the event whose role is stored;
//   - joinedAt, leftAt: as stored in the session;
//   - durationDerived: durationSec is leftAt − joinedAt;
//   - expireAt: for the TTL policy of hmsEvents.
// A join creates it in its blind commit, so a join with nothing before it
// writes blind. If it exists (a role change or a duration-less leave came
// first), the join is applied by reading it (commitRead), as role changes
// and leaves that need a stored value (no duration, or a joined_at that
// may be the earliest) always are. Whoever commits second sees the other.
// Leaves with a duration and no joined_at are blind: no other event writes
// their fields.

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
// at one instant, a role change wins over a join. The session's peer and
// the call's presence facts order roles by these same keys.
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

// peerFacts is what one peer event says about its peer.
type peerFacts struct {
	appt, sid, pid, roomID string
	userID, userName       string
	joinedAt               time.Time
	role                   string
	roleKey                roleKey
	leftAt                 time.Time
	leaveReason            string
	duration               *int64
}

func (s *Store) peerJoinPlan(ev *hms.Event, appt string, d *hms.PeerJoin) plan {
	f := peerFacts{appt: appt, sid: ev.SessionID, pid: d.PeerID, roomID: d.RoomID, userID: d.UserID, userName: d.UserName,
		joinedAt: joinTime(ev, d),
		role:     clip(d.Role, maxTextBytes), roleKey: joinRoleKey(ev)}
	if p, ok := f.unusable(); ok {
		return p
	}
	book := expiry()
	book["joinedAt"] = f.joinedAt
	p := map[string]any{"joinedAt": f.joinedAt}
	if f.role != "" {
		p["role"] = f.role
		f.setRoleKey(book)
	}
	return plan{
		creates: []write{{s.peerBookRef(f.appt, f.sid, f.pid), book}},
		merges:  []write{{s.sessionRef(appt, f.sid), f.sessionDoc(p)}},
		orElse:  s.peerRead(f),
	}
}

func (s *Store) peerLeavePlan(ev *hms.Event, appt string, d *hms.PeerLeave) plan {
	f := peerFacts{appt: appt, sid: ev.SessionID, pid: d.PeerID, roomID: d.RoomID, userID: d.UserID, userName: d.UserName,
		joinedAt: tm(d.JoinedAt), leftAt: firstTime(tm(d.LeftAt), norm(ev.Timestamp)), leaveReason: d.Reason, duration: seconds(d.Duration)}
	if p, ok := f.unusable(); ok {
		return p
	}
	if f.duration == nil || !f.joinedAt.IsZero() {
		// leftAt − joinedAt needs the join, and the earliest joinedAt
		// needs the stored one: read them.
		return *s.peerRead(f)
	}
	p := map[string]any{"leftAt": f.leftAt, "durationSec": *f.duration}
	setText(p, "leaveReason", f.leaveReason)
	return plan{merges: []write{{s.sessionRef(appt, f.sid), f.sessionDoc(p)}}}
}

func (s *Store) roleChangePlan(ev *hms.Event, appt string, d *hms.RoleChange) plan {
	f := peerFacts{appt: appt, sid: ev.SessionID, pid: d.PeerID, roomID: d.RoomID, userID: d.UserID, userName: d.UserName,
		joinedAt: tm(d.JoinedAt), role: clip(d.Role, maxTextBytes),
		roleKey: roleChangeKey(ev, d)}
	if p, ok := f.unusable(); ok {
		return p
	}
	return *s.peerRead(f)
}

// unusable is the plan of a peer event that names no peer (nothing to
// apply) or one whose id cannot be a map key (raw only).
func (f peerFacts) unusable() (plan, bool) {
	switch {
	case f.sid == "" || f.pid == "":
		return plan{}, true
	case !safeID(f.pid):
		return refuse("peer id"), true
	}
	return plan{}, false
}

// sessionDoc is the session merge of peer fields p, with the identity
// every event of the peer may write.
func (f peerFacts) sessionDoc(p map[string]any) map[string]any {
	setText(p, "userId", f.userID)
	setText(p, "userName", f.userName)
	d := map[string]any{"peers": map[string]any{f.pid: p}}
	setStr(d, "roomId", f.roomID)
	return d
}

func (f peerFacts) setRoleKey(book map[string]any) {
	book["roleAt"], book["roleRank"], book["roleEventId"] = f.roleKey.at, f.roleKey.rank, f.roleKey.id
}

// peerRead applies a peer event after reading the peer's bookkeeping
// document (only): the path of role changes, duration-less leaves, and
// joins whose bookkeeping document already existed. It never reads the
// session document.
func (s *Store) peerRead(f peerFacts) *plan {
	ref := s.peerBookRef(f.appt, f.sid, f.pid)
	return &plan{read: ref, step: func(stored map[string]any) (map[string]any, []write) {
		p, book := map[string]any{}, expiry()

		joined := earlier(timeAt(stored, "joinedAt"), f.joinedAt)
		setTime(p, "joinedAt", joined)
		setTime(book, "joinedAt", joined)

		if f.role != "" {
			if cur, ok := storedRoleKey(stored); !ok || f.roleKey.after(cur) {
				p["role"] = f.role
				f.setRoleKey(book)
			}
		}

		left := timeAt(stored, "leftAt")
		derived, _ := stored["durationDerived"].(bool)
		if !f.leftAt.IsZero() { // a leave
			left = later(left, f.leftAt)
			p["leftAt"] = left
			setText(p, "leaveReason", f.leaveReason)
			book["leftAt"] = left
			derived = f.duration == nil
			book["durationDerived"] = derived
			if f.duration != nil {
				p["durationSec"] = *f.duration
			}
		}
		if derived && !joined.IsZero() && !left.IsZero() {
			p["durationSec"] = durationSec(joined, left)
		}
		return book, []write{{s.sessionRef(f.appt, f.sid), f.sessionDoc(p)}}
	}}
}

func storedRoleKey(book map[string]any) (roleKey, bool) {
	id, _ := book["roleEventId"].(string)
	if id == "" {
		return roleKey{}, false
	}
	rank, _ := book["roleRank"].(int64)
	return roleKey{at: timeAt(book, "roleAt"), rank: rank, id: id}, true
}
