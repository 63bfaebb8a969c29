package store

import (
	"context"
	"errors"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// colSweep holds hmsSweep's one state document, hmsSweep/state: the end of
// the last webhook window it asked 100ms to replay (replayedThrough).
const colSweep = "hmsSweep"

// IdleCall is a call that is live by its documents but had no event
// applied for a while: its session's close may have been lost.
type IdleCall struct {
	AppointmentID, RoomID, ActiveSessionID string
	UpdatedAt                              time.Time
}

// IdleLiveCalls returns at most limit calls whose status is live and whose
// updatedAt is before before, least recently updated first (the query
// hmsSweep's composite index, status + updatedAt, serves). One read per
// call returned.
func (s *Store) IdleLiveCalls(ctx context.Context, before time.Time, limit int) ([]IdleCall, error) {
	q := s.fs.Collection(colCalls).
		Where("status", "==", statusLive).
		Where("updatedAt", "<", before).
		OrderBy("updatedAt", firestore.Asc).
		Limit(limit)
	snaps, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, wrapf(err, "query calls live before %s", before.UTC().Format(time.RFC3339))
	}
	out := make([]IdleCall, 0, len(snaps))
	for _, snap := range snaps {
		d := snap.Data()
		out = append(out, IdleCall{
			AppointmentID:   snap.Ref.ID,
			RoomID:          strAt(d, "roomId"),
			ActiveSessionID: strAt(d, "activeSessionId"),
			UpdatedAt:       timeAt(d, "updatedAt"),
		})
	}
	return out, nil
}

// CloseResult says what CloseSession did.
type CloseResult struct {
	// Closed is true when this call turned the session from open to
	// closed: of two sweeps closing one session at once, exactly one sees
	// it. False when it was closed already (by its close event, or another
	// run): then nothing was written, the audit entry neither, unless this
	// run's end is later than another run's (the later stands).
	Closed bool
	// Status and ActiveSessionID are the call's after the close: another
	// session may still be open.
	Status, ActiveSessionID string
}

// CloseSession closes a session whose session.close.success never came,
// as that event would: it runs the same plan (sessionPlan) with a
// synthetic close whose session_stopped_at is endedAt, so that the same
// merge rules apply and a real close arriving later gives the same
// documents whatever the order. Unlike an event, it creates no hmsEvents
// document: nothing was delivered. audit is the system entry of the
// close, created in the same commit, and only when this call closes the
// session.
func (s *Store) CloseSession(ctx context.Context, appointmentID, roomID, sessionID string, endedAt time.Time, audit *Audit) (CloseResult, error) {
	if !validID(appointmentID) || !safeID(sessionID) {
		return CloseResult{}, wrapf(ErrNotFound, "close session %q of %q", sessionID, appointmentID)
	}
	if endedAt.IsZero() {
		return CloseResult{}, wrapf(errors.New("no end time"), "close session %s of %s", sessionID, appointmentID)
	}
	ev := &hms.Event{
		Type:      hms.SessionCloseSuccess,
		Timestamp: endedAt,
		RoomID:    roomID,
		SessionID: sessionID,
		Data: &hms.SessionClose{
			SessionRef:       hms.SessionRef{RoomRef: hms.RoomRef{RoomID: roomID}, SessionID: sessionID},
			SessionStoppedAt: hms.Time{Time: endedAt},
		},
	}
	sc := ev.Data.(*hms.SessionClose)
	p := s.sessionPlan(ev, appointmentID, sc.SessionRef, sc, true)
	var res CloseResult
	p.unchanged = func(stored map[string]any) bool {
		seen := sessionsOf(stored)
		// Closed by its event, or by a sweep that gave it this end or a
		// later one (of two sweeps' ends, the later stands in any order).
		if st := seen[sessionID]; st.status != sessionClose || st.sweptEnd && st.endedAt.Before(norm(endedAt)) {
			return false
		}
		res = CloseResult{Status: statusEnded, ActiveSessionID: activeSession(seen)}
		if res.ActiveSessionID != "" {
			res.Status = statusLive
		}
		return true
	}
	p.seen = func(stored map[string]any, merges []write) {
		if merges == nil {
			return // unchanged: res is set
		}
		res = CloseResult{Closed: true}
		for _, w := range merges {
			if w.ref.Path == s.callRef(appointmentID).Path {
				res.Status, _ = w.data["status"].(string)
				res.ActiveSessionID, _ = w.data["activeSessionId"].(string)
			}
		}
	}
	if err := s.commitRead(ctx, s.auditWrite(audit), p); err != nil {
		return CloseResult{}, wrapf(err, "close session %s of %s", sessionID, appointmentID)
	}
	return res, nil
}

// ReplayWindow is a window of webhook history hmsSweep claimed.
type ReplayWindow struct {
	Start, End time.Time
}

// ClaimReplayWindow claims, in one transaction on hmsSweep/state, the
// window from the end of the last claimed one (or end − first when none
// was) to end, and records end as claimed, so that two sweeps at once never
// claim the same stretch. ok is false when less than minWindow is left to
// claim. The window starts no earlier than oldest and spans at most
// maxSpan (the rest is claimed by later runs).
func (s *Store) ClaimReplayWindow(ctx context.Context, end, oldest time.Time, first, minWindow, maxSpan time.Duration) (w ReplayWindow, ok bool, err error) {
	ref := s.fs.Collection(colSweep).Doc("state")
	end = norm(end)
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		ok = false
		snap, err := tx.Get(ref)
		if err != nil && !isNotFound(err) {
			return err
		}
		start := timeAt(dataOf(snap), "replayedThrough")
		if start.IsZero() {
			start = end.Add(-first)
		}
		if start.Before(oldest) {
			start = norm(oldest)
		}
		stop := end
		if stop.Sub(start) > maxSpan {
			stop = start.Add(maxSpan)
		}
		if stop.Sub(start) < minWindow {
			return nil
		}
		w, ok = ReplayWindow{Start: start, End: stop}, true
		return tx.Set(ref, map[string]any{"replayedThrough": stop, "updatedAt": firestore.ServerTimestamp}, firestore.MergeAll)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return ReplayWindow{}, false, wrapf(err, "claim replay window")
	}
	return w, ok, nil
}

// ReleaseReplayWindow gives a claimed window back when its replay could
// not be requested, so that the next run asks again: the mark goes back to
// the window's start if no later run has moved it since. false when one
// had (its window is then lost to replays and the caller logs it).
func (s *Store) ReleaseReplayWindow(ctx context.Context, w ReplayWindow) (bool, error) {
	ref := s.fs.Collection(colSweep).Doc("state")
	released := false
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		released = false
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		if !timeAt(snap.Data(), "replayedThrough").Equal(norm(w.End)) {
			return nil
		}
		released = true
		return tx.Update(ref, []firestore.Update{
			{Path: "replayedThrough", Value: norm(w.Start)},
			{Path: "updatedAt", Value: firestore.ServerTimestamp},
		})
	}, firestore.MaxAttempts(txAttempts))
	return released, wrapf(err, "release replay window")
}
