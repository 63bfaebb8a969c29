package store

import (
	"context"
	"errors"
	"time"
)

// PeerRecord is a peer as 100ms's session API reports it (GET /sessions/{id}).
type PeerRecord struct {
	PeerID, UserID, UserName, Role string
	JoinedAt, LeftAt               time.Time
}

// ReconcileSession merges 100ms's record of a closed session's peers into
// the call's peer facts (peer.go: fact x), where it adds to what the events
// said, and marks the session reconciled, so that it is never asked about
// again (docs/webhook.md, "Reconciliation"). What an event said always
// stands: the record fills only what no event of the peer said, and an
// event arriving later overrides it. The session's peers, inCall and the
// visit are derived again from the facts in the same commit, so that a
// peer whose events were all lost is on the session and in the visit. A
// session the events recorded whole costs one write (the mark). Nil peers
// (100ms does not know the session) marks it reconciled alone.
//
// hmsSweep runs it for every session whose reconciliation has not yet
// succeeded (DueReconciliations), and after a close it makes; the webhook
// reconciles in the close's own commit (ApplyEventWith). A session already reconciled is left as it is.
// It is a plan that reads (commitRead): an event between its read and
// commit makes it work the facts out again, until ctx ends.
func (s *Store) ReconcileSession(ctx context.Context, appointmentID, sessionID string, peers []PeerRecord) error {
	if !validID(appointmentID) || !safeID(sessionID) {
		return wrapf(ErrNotFound, "reconcile session %q of %q", sessionID, appointmentID)
	}
	p := s.reconcilePlan(appointmentID, sessionID, peers)
	return wrapf(s.commitRead(ctx, nil, p), "reconcile session %s of %s", sessionID, appointmentID)
}

// reconcilePlan reads the call's facts and writes what peers adds to them.
func (s *Store) reconcilePlan(appt, sid string, peers []PeerRecord) plan {
	return plan{
		read: s.callBookRef(appt),
		unchanged: func(stored map[string]any) bool {
			return sessionsOf(stored)[sid].reconciled
		},
		step: func(stored map[string]any) (map[string]any, []write) {
			pr := presenceOf(stored)
			facts := map[string]any{}
			sessionPeers := map[string]any{}
			for _, rec := range peers {
				f, known := pr.peers[rec.PeerID]
				if !safeID(rec.PeerID) || !known && len(pr.peers) >= maxPresencePeers {
					continue // no key for it, or past the bound: 100ms keeps it
				}
				r := recordFact{joinedAt: norm(rec.JoinedAt), leftAt: norm(rec.LeftAt), role: clip(rec.Role, maxTextBytes)}
				if known && !f.joinedAt.IsZero() && !f.leftAt.IsZero() && f.hasRole || f.record == r {
					continue // the events said it all: nothing to write
				}
				f.userID = firstOf(f.userID, clip(rec.UserID, maxTextBytes))
				f.sessionID = firstOf(f.sessionID, sid)
				f.record = r
				pr.peers[rec.PeerID] = f
				facts[rec.PeerID] = f.fields()
				peer := f.sessionPeer()
				if !f.fromEvent {
					// No event named the peer: its name is the record's.
					setText(peer, "userId", rec.UserID)
					setText(peer, "userName", rec.UserName)
				}
				sessionPeers[rec.PeerID] = peer
			}
			book := map[string]any{}
			if len(facts) > 0 { // an empty map would be written as one
				book["peers"] = facts
			}
			if st, ok := pr.sessions[sid]; ok {
				st.reconciled = true
				pr.sessions[sid] = st
				book["sessions"] = map[string]any{sid: map[string]any{"reconciled": true}}
				book["reconcileDue"] = reconcileDue(pr.sessions)
			}
			if len(sessionPeers) == 0 {
				return book, nil // only the mark: nothing derived changes
			}
			return book, []write{
				{s.callRef(appt), pr.derived(s.waitingRole)},
				{s.sessionRef(appt, sid), map[string]any{"peers": sessionPeers}},
			}
		},
	}
}

// closeReconciliation is what reconciling a close in its own commit came
// to, as of the step's last run (the winning attempt's).
type closeReconciliation struct {
	done   bool
	failed string
}

// reconcilingClose is a close's step that also reconciles the session in
// the same commit (ApplyEventWith): the close's writes, then, on the book
// as the close leaves it, the reconciliation's (reconcilePlan), combined.
// record is asked once, however often the step runs.
func (s *Store) reconcilingClose(ctx context.Context, appt, sid string, closeStep func(map[string]any) (map[string]any, []write),
	record SessionRecord, out *closeReconciliation) func(map[string]any) (map[string]any, []write) {
	var asked bool
	var peers []PeerRecord
	var err error
	return func(stored map[string]any) (map[string]any, []write) {
		*out = closeReconciliation{}
		book, merges := closeStep(stored)
		if sessionsOf(stored)[sid].reconciled {
			return book, merges
		}
		if !asked {
			asked = true
			peers, err = record(ctx)
		}
		switch {
		case errors.Is(err, ErrUnknownSession):
			peers = nil
		case err != nil:
			out.failed = err.Error()
			return book, merges
		}
		after := deepCopy(stored)
		deepMerge(after, book)
		rbook, rmerges := s.reconcilePlan(appt, sid, peers).step(after)
		deepMerge(book, rbook)
		out.done = true
		return book, append(merges, rmerges...)
	}
}

// DueSession is a closed session whose reconciliation has not succeeded.
type DueSession struct {
	AppointmentID, SessionID, RoomID string
}

// DueReconciliations returns the due sessions of at most limit calls whose
// book says a closed session awaits reconciliation (reconcileDue ==
// true), and whether more calls may be due. One read per call returned
// (its sessions only).
func (s *Store) DueReconciliations(ctx context.Context, limit int) (due []DueSession, more bool, err error) {
	snaps, err := s.fs.Collection(colCallBooks).Where("reconcileDue", "==", true).Select("sessions").
		Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, false, wrapf(err, "query calls awaiting reconciliation")
	}
	for _, snap := range snaps {
		for sid, st := range sessionsOf(snap.Data()) {
			if st.due() {
				due = append(due, DueSession{AppointmentID: snap.Ref.ID, SessionID: sid, RoomID: st.room})
			}
		}
	}
	return due, len(snaps) == limit, nil
}
