package store

import (
	"sort"
	"time"

	"cloud.google.com/go/firestore"
)

// Presence and the visit summary (docs/data-model.md, "inCall" and
// "visit"): who is in the room now, and how long doctor and client were
// there, apart and together.
//
// Both are derived, by pure functions, from the call's peer facts
// (peer.go) and its sessions (session.go), which the call's bookkeeping
// document hmsCalls/{appointmentId} holds. Every commit that changes a
// fact or a session (a join, leave or role change, an open or close,
// hmsSweep's close, a reconciliation) reads that document and commits on
// condition that it did not change, writing calls/{id}.inCall and
// calls/{id}.visit whole: the last commit is derived from every fact.
//
// The document is bounded: a call keeps the facts of its first
// maxPresencePeers peer ids; later ones change nothing derived (a
// consultation has a handful; thousands mean a misbehaving client, whose
// events are still stored and written to the sessions as they come).
const maxPresencePeers = 500

// presence is the stored facts of a call, as read.
type presence struct {
	peers              map[string]peerFact
	sessions           map[string]sessionState
	doctorID, clientID string
	// guestIDs and admitted are the book's copies of the appointment's
	// guests and of the doctor's admissions (hmsAdmit): who is told the
	// doctor is ready, and who no longer waits (notify.go).
	guestIDs []string
	admitted map[string]bool
}

func presenceOf(stored map[string]any) presence {
	p := presence{peers: map[string]peerFact{}, sessions: map[string]sessionState{},
		doctorID: strAt(stored, "doctorId"), clientID: strAt(stored, "clientId"), admitted: map[string]bool{}}
	for id, v := range mapAt(stored, "peers") {
		if m, ok := v.(map[string]any); ok {
			p.peers[id] = peerFactOf(m)
		}
	}
	p.sessions = sessionsOf(stored)
	if list, ok := stored["guestIds"].([]any); ok {
		for _, g := range list {
			if uid, ok := g.(string); ok && uid != "" {
				p.guestIDs = append(p.guestIDs, uid)
			}
		}
	}
	for uid, v := range mapAt(stored, "admitted") {
		if _, ok := v.(map[string]any); ok {
			p.admitted[uid] = true
		}
	}
	return p
}

// apply merges ev into p and returns the book fields to write (nil when
// the peer is beyond the bound).
func (p presence) apply(ev peerEvent, waitingRole string) map[string]any {
	cur, known := p.peers[ev.pid]
	if !known && len(p.peers) >= maxPresencePeers {
		return nil
	}
	cur = cur.merge(ev, waitingRole)
	p.peers[ev.pid] = cur
	return map[string]any{"peers": map[string]any{ev.pid: cur.fields()}}
}

// derived is calls/{id}'s inCall, waitingSince and visit from p, each
// written whole (a field not known is deleted, so that none outlives its
// meaning).
func (p presence) derived(waitingRole string) map[string]any {
	in := p.present(activeSession(p.sessions))
	return map[string]any{
		"inCall":       p.inCall(in),
		"waitingSince": p.waitingSince(in, waitingRole),
		"visit":        p.visit(waitingRole),
		"updatedAt":    firestore.ServerTimestamp,
	}
}

// presentPeer is the peer that stands for a user in a session.
type presentPeer struct {
	pid string
	f   peerFact
}

// present is every user with a peer joined and not left in session sid
// (none when sid is ""), with that peer; of several peers (two devices),
// the one that joined last.
func (p presence) present(sid string) map[string]presentPeer {
	best := map[string]presentPeer{}
	if sid == "" {
		return best
	}
	for pid, f := range p.peers {
		if f.userID == "" || !safeID(f.userID) ||
			f.sessionID != sid || f.joined().IsZero() || !f.left().IsZero() {
			continue
		}
		b, ok := best[f.userID]
		if !ok || f.joined().After(b.f.joined()) || (f.joined().Equal(b.f.joined()) && pid > b.pid) {
			best[f.userID] = presentPeer{pid, f}
		}
	}
	return best
}

// inCall: every user present in the open session (in), with that peer's
// current role. Users with no peer there are deleted, and so is the whole
// field when nobody is in, so that it reads the same however it got there.
func (p presence) inCall(in map[string]presentPeer) any {
	if len(in) == 0 {
		return firestore.Delete // nobody: the field goes, whatever was in it
	}
	out := map[string]any{}
	for _, f := range p.peers {
		if f.userID != "" && safeID(f.userID) {
			out[f.userID] = firestore.Delete
		}
	}
	for uid, b := range in {
		entry := map[string]any{"peerId": b.pid, "since": b.f.joined()}
		setStr(entry, "role", b.f.currentRole())
		out[uid] = entry
	}
	return out
}

// waitingSince (SPEC §19, the doctor's queue): the earliest since of a
// user in the open session (in) in the waiting role and not admitted by
// the doctor; deleted when nobody waits, so that the queue's query
// (ordered by it) lists exactly the calls with someone waiting.
func (p presence) waitingSince(in map[string]presentPeer, waitingRole string) any {
	var since time.Time
	for uid := range p.waiting(in, waitingRole) {
		since = earlier(since, in[uid].f.joined())
	}
	if since.IsZero() {
		return firestore.Delete
	}
	return since
}

// waiting is the users of in (the doctor aside) in the waiting role whom
// the doctor has not admitted.
func (p presence) waiting(in map[string]presentPeer, waitingRole string) map[string]bool {
	out := map[string]bool{}
	if waitingRole == "" {
		return out
	}
	for uid, b := range in {
		if uid != p.doctorID && b.f.currentRole() == waitingRole && !p.admitted[uid] {
			out[uid] = true
		}
	}
	return out
}

// interval is [from, to).
type interval struct{ from, to time.Time }

// visit: the doctor's and the client's time in the room (the union of
// their peers' intervals over every session, the client's out of the
// waiting role), both at once, the client's waiting, and the first join
// and last leave. A peer that has not left counts up to its session's
// end, or not at all while the session is open.
func (p presence) visit(waitingRole string) map[string]any {
	var doctor, client, waiting []interval
	var first, last time.Time
	for _, f := range p.peers {
		joined, end := f.joined(), f.left()
		if joined.IsZero() {
			continue
		}
		if end.IsZero() {
			if st, ok := p.sessions[f.sessionID]; ok && st.status == sessionClose {
				end = st.endedAt
			}
		}
		if f.userID != p.doctorID && f.userID != p.clientID {
			continue
		}
		first = earlier(first, joined)
		if end.IsZero() || !end.After(joined) {
			continue
		}
		last = later(last, end)
		if f.userID == p.doctorID {
			doctor = append(doctor, interval{joined, end})
			continue
		}
		// 100ms's record alone tells the role a peer had at the end, not
		// when it changed: a peer only it knows waited if it ended waiting.
		waited := waitingRole != "" && (f.joinedRole == waitingRole || !f.admittedAt.IsZero() ||
			!f.fromEvent && f.record.role == waitingRole)
		switch {
		case !waited:
			client = append(client, interval{joined, end})
		case f.admittedAt.IsZero() || !f.admittedAt.Before(end):
			waiting = append(waiting, interval{joined, end})
		default:
			admitted := later(f.admittedAt, joined)
			waiting = append(waiting, interval{joined, admitted})
			client = append(client, interval{admitted, end})
		}
	}
	if p.doctorID == "" || p.clientID == "" {
		// A call recorded before the visit was kept: its participants are
		// not in the book, and no figure can be told.
		return map[string]any{"doctorSec": firestore.Delete, "clientSec": firestore.Delete, "togetherSec": firestore.Delete,
			"waitSec": firestore.Delete, "firstJoinAt": firestore.Delete, "lastLeaveAt": firestore.Delete}
	}
	doctor, client, waiting = union(doctor), union(client), union(waiting)
	v := map[string]any{
		"doctorSec":   seconds64(total(doctor)),
		"clientSec":   seconds64(total(client)),
		"togetherSec": seconds64(total(intersect(doctor, client))),
		"waitSec":     seconds64(total(minus(waiting, client))),
		"firstJoinAt": firestore.Delete,
		"lastLeaveAt": firestore.Delete,
	}
	if !first.IsZero() {
		v["firstJoinAt"] = first
	}
	if !last.IsZero() {
		v["lastLeaveAt"] = last
	}
	return v
}

func seconds64(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

// union sorts and merges overlapping or touching intervals.
func union(in []interval) []interval {
	if len(in) == 0 {
		return nil
	}
	s := append([]interval(nil), in...)
	sort.Slice(s, func(i, j int) bool { return s[i].from.Before(s[j].from) })
	out := []interval{s[0]}
	for _, iv := range s[1:] {
		lastIv := &out[len(out)-1]
		if !iv.from.After(lastIv.to) {
			lastIv.to = later(lastIv.to, iv.to)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func total(s []interval) time.Duration {
	var d time.Duration
	for _, iv := range s {
		d += iv.to.Sub(iv.from)
	}
	return d
}

// intersect of two unions.
func intersect(a, b []interval) []interval {
	var out []interval
	for i, j := 0, 0; i < len(a) && j < len(b); {
		from, to := later(a[i].from, b[j].from), earlier(a[i].to, b[j].to)
		if to.After(from) {
			out = append(out, interval{from, to})
		}
		if a[i].to.Before(b[j].to) {
			i++
		} else {
			j++
		}
	}
	return out
}

// minus is a without b, both unions.
func minus(a, b []interval) []interval {
	var out []interval
	for _, iv := range a {
		cur := []interval{iv}
		for _, cut := range b {
			var next []interval
			for _, c := range cur {
				if !cut.to.After(c.from) || !cut.from.Before(c.to) {
					next = append(next, c)
					continue
				}
				if cut.from.After(c.from) {
					next = append(next, interval{c.from, cut.from})
				}
				if cut.to.Before(c.to) {
					next = append(next, interval{cut.to, c.to})
				}
			}
			cur = next
		}
		out = append(out, cur...)
	}
	return out
}
