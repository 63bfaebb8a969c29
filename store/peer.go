package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
)

// Per-peer attendance, calls/{a}/sessions/{s}.peers.{peerId} (SPEC §2).
//
// Merge rule of each field:
//   - userId, userName: every event of the peer carries the same values;
//     any writer may set them.
//   - joinedAt: earliest joined_at seen (peer.join.success, else
//     role.change.success, which carries the original join time).
//   - leftAt: left_at of peer.leave.success (else the event time). 100ms
//     sends one leave per peer id (a rejoin is a new peer id); a second,
//     distinct leave would be taken only by the transactional path.
//   - leaveReason: from the leave.
//   - durationSec: the leave's duration when it has one (blind: no other
//     event writes it); else leftAt − joinedAt, computed by whichever of
//     the leave and the join commits second (both then take the read path).
//   - role: from the latest (event timestamp, then role.change over join,
//     then event id) of the join and the role changes.
//
// Joins and leaves are the frequent events: they arrive together at the
// start and end of every session, so they must not read the session
// document. The role rule needs the winner's key, which no SPEC field
// holds, and Firestore has no conditional field write; so each peer has a
// small bookkeeping document, hmsPeers/{sessionId}:{peerId} (the "guard"):
//   - roleAt, roleRank, roleEventId: the key of the event whose role is stored;
//   - durationDerived: durationSec is leftAt − joinedAt, to be recomputed
//     if joinedAt moves earlier;
//   - expireAt: for the same TTL policy as hmsEvents.
// A join creates the guard in its blind commit. If the guard already exists
// (a role change, or a leave without duration, came first), the commit
// fails as a whole and the join is applied in a transaction that reads the
// guard and the session. Role changes and duration-less leaves, both rare,
// always use that transaction. Whoever commits second sees the other.

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
	sid, pid, roomID string
	userID, userName string
	joinedAt         time.Time
	role             string
	roleKey          roleKey // zero when the event carries no role rule
	leftAt           time.Time
	leaveReason      string
	duration         *int64
}

func (f peerFacts) ok() bool { return f.sid != "" && f.pid != "" }

func (f peerFacts) hasRole() bool { return f.role != "" && f.roleKey.id != "" }

// identity holds the fields every event of the peer may write.
func (f peerFacts) identity() map[string]any {
	p := map[string]any{}
	setStr(p, "userId", f.userID)
	setStr(p, "userName", f.userName)
	return p
}

// blindSession is the merge a join (with no guard yet) or a leave with a
// duration makes: fields no other event contends for.
func (f peerFacts) blindSession() map[string]any {
	p := f.identity()
	setTime(p, "joinedAt", f.joinedAt)
	if f.hasRole() {
		p["role"] = f.role
	}
	setTime(p, "leftAt", f.leftAt)
	setStr(p, "leaveReason", f.leaveReason)
	setInt(p, "durationSec", f.duration)
	return f.sessionDoc(p)
}

func (f peerFacts) sessionDoc(peer map[string]any) map[string]any {
	d := map[string]any{"peers": map[string]any{f.pid: peer}}
	setStr(d, "roomId", f.roomID)
	return d
}

// newGuard is the guard a join creates: its role is the stored one.
func (f peerFacts) newGuard(now time.Time) map[string]any {
	return map[string]any{
		"roleAt":      f.roleKey.at,
		"roleRank":    f.roleKey.rank,
		"roleEventId": f.roleKey.id,
		"expireAt":    now.Add(eventTTL),
	}
}

func (s *Store) peerGuardRef(sid, pid string) *firestore.DocumentRef {
	return s.fs.Collection(colPeers).Doc(sid + ":" + pid)
}

// peerStep applies a peer event after reading the peer's guard and stored
// entry; it is the path for role changes, duration-less leaves, and joins
// whose guard already existed.
func (s *Store) peerStep(appt string, f peerFacts) txStep {
	return func(ctx context.Context, tx *firestore.Transaction) ([]write, error) {
		gRef, sRef := s.peerGuardRef(f.sid, f.pid), s.sessionRef(appt, f.sid)
		snaps, err := tx.GetAll([]*firestore.DocumentRef{gRef, sRef})
		if err != nil {
			return nil, err
		}
		guard, sess := dataOf(snaps[0]), dataOf(snaps[1])
		stored := mapAt(sess, "peers", f.pid)

		p := f.identity()
		g := map[string]any{"expireAt": time.Now().Add(eventTTL)}

		joined := earlier(timeAt(stored, "joinedAt"), f.joinedAt)
		setTime(p, "joinedAt", joined)

		if f.hasRole() {
			cur, has := guardKey(guard)
			if !has || f.roleKey.after(cur) {
				p["role"] = f.role
				g["roleAt"], g["roleRank"], g["roleEventId"] = f.roleKey.at, f.roleKey.rank, f.roleKey.id
			}
		}

		left := timeAt(stored, "leftAt")
		derived, _ := guard["durationDerived"].(bool)
		if !f.leftAt.IsZero() {
			left = later(left, f.leftAt)
			p["leftAt"] = left
			setStr(p, "leaveReason", f.leaveReason)
			if f.duration != nil {
				p["durationSec"] = *f.duration
				derived = false
			} else {
				derived = true
			}
			g["durationDerived"] = derived
		}
		if derived && !joined.IsZero() && !left.IsZero() {
			p["durationSec"] = durationSec(joined, left)
		}
		return []write{{sRef, f.sessionDoc(p)}, {gRef, g}}, nil
	}
}

func guardKey(g map[string]any) (roleKey, bool) {
	id, _ := g["roleEventId"].(string)
	if id == "" {
		return roleKey{}, false
	}
	rank, _ := g["roleRank"].(int64)
	return roleKey{at: timeAt(g, "roleAt"), rank: rank, id: id}, true
}

func dataOf(snap *firestore.DocumentSnapshot) map[string]any {
	if snap == nil || !snap.Exists() {
		return map[string]any{}
	}
	return snap.Data()
}

// mapAt walks nested maps; a missing or non-map step gives an empty map.
func mapAt(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			return map[string]any{}
		}
		m = next
	}
	return m
}

func timeAt(m map[string]any, k string) time.Time {
	t, _ := m[k].(time.Time)
	return norm(t)
}

func strAt(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
