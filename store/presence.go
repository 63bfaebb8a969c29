package store

import (
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// Presence and the visit summary (docs/data-model.md, "inCall" and
// "visit"): who is in the room now, and how long doctor and client were
// there, apart and together.
//
// Both are derived, by pure functions, from facts about every peer of the
// call that the call's bookkeeping document hmsCalls/{appointmentId} holds
// beside its sessions: peers.{peerId}: {u userId, s sessionId, j joinedAt,
// l leftAt, r role with its key (ra, rr, ri), jr joinedRole, a admittedAt}.
// Each fact has a merge rule that commutes and ignores repetition (the
// earliest joinedAt, the latest leftAt, the role of the greatest role key,
// the join's role, the earliest admission), so the facts, and what is
// derived from them, are the same after any order and repetition of the
// events. Every event that changes a fact (a join, leave or role change)
// or a session (open, close, hmsSweep's close) reads the document and
// commits on condition that it did not change, writing calls/{id}.inCall
// and calls/{id}.visit whole: the last commit is derived from every fact.
//
// The document is bounded: a call keeps the facts of its first
// maxPresencePeers peer ids; later ones change nothing derived (a
// consultation has a handful; thousands mean a misbehaving client, and
// the events are still stored and applied to the sessions).
const maxPresencePeers = 500

// peerFact is what the events said about one peer.
type peerFact struct {
	userID, sessionID string
	joinedAt, leftAt  time.Time
	role, joinedRole  string
	roleKey           roleKey
	hasRole           bool
	admittedAt        time.Time
}

// presenceEvent is what one peer event adds to its peer's facts.
type presenceEvent struct {
	pid  string
	fact peerFact
	// prevRole is a role change's previous_role: a change from the
	// waiting role to another admits the peer at roleKey.at.
	prevRole string
	isJoin   bool
}

func peerFactOf(m map[string]any) peerFact {
	f := peerFact{userID: strAt(m, "u"), sessionID: strAt(m, "s"), joinedAt: timeAt(m, "j"), leftAt: timeAt(m, "l"),
		role: strAt(m, "r"), joinedRole: strAt(m, "jr"), admittedAt: timeAt(m, "a")}
	if id := strAt(m, "ri"); id != "" {
		rank, _ := m["rr"].(int64)
		f.roleKey, f.hasRole = roleKey{at: timeAt(m, "ra"), rank: rank, id: id}, true
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
	return m
}

// merge adds one event's facts to the stored ones, by each fact's rule.
func (f peerFact) merge(ev presenceEvent, waitingRole string) peerFact {
	n := ev.fact
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
	return f
}

// presence is the stored facts of a call, as read.
type presence struct {
	peers              map[string]peerFact
	sessions           map[string]sessionState
	doctorID, clientID string
}

func presenceOf(stored map[string]any) presence {
	p := presence{peers: map[string]peerFact{}, sessions: map[string]sessionState{},
		doctorID: strAt(stored, "doctorId"), clientID: strAt(stored, "clientId")}
	for id, v := range mapAt(stored, "peers") {
		if m, ok := v.(map[string]any); ok {
			p.peers[id] = peerFactOf(m)
		}
	}
	for id, v := range mapAt(stored, "sessions") {
		if m, ok := v.(map[string]any); ok {
			p.sessions[id] = sessionStateOf(m)
		}
	}
	return p
}

// apply merges ev into p and returns the book fields to write (nil when
// the peer is beyond the bound).
func (p presence) apply(ev presenceEvent, waitingRole string) map[string]any {
	cur, known := p.peers[ev.pid]
	if !known && len(p.peers) >= maxPresencePeers {
		return nil
	}
	cur = cur.merge(ev, waitingRole)
	p.peers[ev.pid] = cur
	return map[string]any{"peers": map[string]any{ev.pid: cur.fields()}}
}

// derived is calls/{id}'s inCall and visit from p, each written whole
// (a field not known is deleted, so that none outlives its meaning).
func (p presence) derived(waitingRole string) map[string]any {
	return map[string]any{
		"inCall":    p.inCall(),
		"visit":     p.visit(waitingRole),
		"updatedAt": firestore.ServerTimestamp,
	}
}

// inCall: every user with a peer joined and not left in the open session,
// with that peer's current role; of several peers (two devices), the one
// that joined last. Users with none are deleted, and so is the whole field
// when nobody is in, so that it reads the same however it got there.
func (p presence) inCall() any {
	active := activeSession(p.sessions)
	type pick struct {
		pid string
		f   peerFact
	}
	best := map[string]pick{}
	users := map[string]bool{}
	for pid, f := range p.peers {
		if f.userID == "" || !safeID(f.userID) {
			continue
		}
		users[f.userID] = true
		if active == "" || f.sessionID != active || f.joinedAt.IsZero() || !f.leftAt.IsZero() {
			continue
		}
		b, ok := best[f.userID]
		if !ok || f.joinedAt.After(b.f.joinedAt) || (f.joinedAt.Equal(b.f.joinedAt) && pid > b.pid) {
			best[f.userID] = pick{pid, f}
		}
	}
	if len(best) == 0 {
		return firestore.Delete // nobody: the field goes, whatever was in it
	}
	out := map[string]any{}
	for uid := range users {
		b, ok := best[uid]
		if !ok {
			out[uid] = firestore.Delete
			continue
		}
		entry := map[string]any{"peerId": b.pid, "since": b.f.joinedAt}
		setStr(entry, "role", b.f.role)
		out[uid] = entry
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
		if f.joinedAt.IsZero() {
			continue
		}
		end := f.leftAt
		if end.IsZero() {
			if st, ok := p.sessions[f.sessionID]; ok && st.status == sessionClose {
				end = st.endedAt
			}
		}
		if f.userID != p.doctorID && f.userID != p.clientID {
			continue
		}
		first = earlier(first, f.joinedAt)
		if end.IsZero() || !end.After(f.joinedAt) {
			continue
		}
		last = later(last, end)
		if f.userID == p.doctorID {
			doctor = append(doctor, interval{f.joinedAt, end})
			continue
		}
		waited := waitingRole != "" && (f.joinedRole == waitingRole || !f.admittedAt.IsZero())
		switch {
		case !waited:
			client = append(client, interval{f.joinedAt, end})
		case f.admittedAt.IsZero() || !f.admittedAt.Before(end):
			waiting = append(waiting, interval{f.joinedAt, end})
		default:
			admitted := later(f.admittedAt, f.joinedAt)
			waiting = append(waiting, interval{f.joinedAt, admitted})
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

// joinPresence, leavePresence and rolePresence are what each peer event
// tells the presence facts, by the same keys as the session's peer rules
// (peer.go).
func joinPresence(ev *hms.Event, d *hms.PeerJoin) presenceEvent {
	return presenceEvent{pid: d.PeerID, isJoin: true, fact: peerFact{
		userID: clip(d.UserID, maxTextBytes), sessionID: ev.SessionID,
		joinedAt: joinTime(ev, d),
		role:     clip(d.Role, maxTextBytes), roleKey: joinRoleKey(ev), hasRole: d.Role != "",
	}}
}

func leavePresence(ev *hms.Event, d *hms.PeerLeave) presenceEvent {
	return presenceEvent{pid: d.PeerID, fact: peerFact{
		userID: clip(d.UserID, maxTextBytes), sessionID: ev.SessionID,
		joinedAt: tm(d.JoinedAt), leftAt: firstTime(tm(d.LeftAt), norm(ev.Timestamp)),
	}}
}

func rolePresence(ev *hms.Event, d *hms.RoleChange) presenceEvent {
	return presenceEvent{pid: d.PeerID, prevRole: d.PreviousRole, fact: peerFact{
		userID: clip(d.UserID, maxTextBytes), sessionID: ev.SessionID, joinedAt: tm(d.JoinedAt),
		role:    clip(d.Role, maxTextBytes),
		roleKey: roleChangeKey(ev, d), hasRole: d.Role != "",
	}}
}

// withPresence makes a peer event's plan also merge its facts into the
// call's presence and write what is derived from them. The presence must
// be read, so a blind plan becomes one that reads: a join takes its read
// path (orElse), a blind leave reads the presence alone.
func (s *Store) withPresence(p plan, appt string, pe presenceEvent) plan {
	if p.refused != "" || pe.pid == "" || pe.fact.sessionID == "" {
		return p
	}
	if p.read == nil {
		switch {
		case p.orElse != nil && p.orElse.read != nil:
			p = *p.orElse
		case len(p.creates) == 0 && p.orElse == nil && len(p.merges) > 0:
			merges := p.merges
			p = plan{read: s.callBookRef(appt), step: func(stored map[string]any) (map[string]any, []write) {
				fields, more := s.presenceStep(appt, pe)(stored)
				return fields, append(slices.Clip(merges), more...)
			}}
			return p
		default:
			return p // nothing this version applies
		}
	}
	p.also = &readStep{ref: s.callBookRef(appt), step: s.presenceStep(appt, pe)}
	return p
}

// presenceStep merges pe into the stored presence and derives the call's
// inCall and visit, and the peer's joinedRole and admittedAt.
func (s *Store) presenceStep(appt string, pe presenceEvent) func(stored map[string]any) (map[string]any, []write) {
	return func(stored map[string]any) (map[string]any, []write) {
		pr := presenceOf(stored)
		fields := pr.apply(pe, s.waitingRole)
		if fields == nil {
			return nil, nil
		}
		f := pr.peers[pe.pid]
		peer := map[string]any{}
		setStr(peer, "joinedRole", f.joinedRole)
		setTime(peer, "admittedAt", f.admittedAt)
		merges := []write{{s.callRef(appt), pr.derived(s.waitingRole)}}
		if len(peer) > 0 {
			merges = append(merges, write{s.sessionRef(appt, f.sessionID), map[string]any{"peers": map[string]any{pe.pid: peer}}})
		}
		return fields, merges
	}
}
