package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// The recording hmsRecording controls (docs/visit.md, "Recording only with
// consent"): calls/{id}.recordingControl {state, hmsRecordingId, startedBy,
// startedAt, stoppedBy, stoppedAt}, kept with its merge state on the call's
// bookkeeping document hmsCalls/{appointmentId}.recordingControl, which
// hmsRecording, hmsConsent and the recording's own webhooks read and
// commit on condition (commitRead).
//
// Merge rules. Each start by hmsRecording opens a new generation (gen);
// within one, the state only moves forward, starting → running → stopped,
// whoever writes it and in whatever order the callables' writes and 100ms's
// webhooks arrive: a later state never goes back. stoppedAt is the
// earliest stop written, stoppedBy the callable's (a uid, or "consent").
// A webhook applies to the generation that is starting or running, and not
// when it is older than that generation's start (a late stop of the one
// before): 100ms names the recording in beam.* events by beam id, not by
// the id its start API returned, so time and room are what match them.

// RecordingStart is one hmsRecording start, as ClaimRecording decides it.
type RecordingStart struct {
	// Claimed: this request opened a new generation and must ask 100ms to
	// start; false: one is starting or running already (State, ID say).
	Claimed bool
	Gen     int64
	State   string
	ID      string
}

var recordingRank = map[string]int{RecordingStarting: 1, RecordingRunning: 2, RecordingStopped: 3}

type recordingControl struct {
	gen                  int64
	state, id, startedBy string
	stoppedBy            string
	startedAt, stoppedAt time.Time
}

func recordingControlOf(book map[string]any) recordingControl {
	m := mapAt(book, "recordingControl")
	gen, _ := m["gen"].(int64)
	return recordingControl{gen: gen, state: strAt(m, "state"), id: strAt(m, "hmsRecordingId"),
		startedBy: strAt(m, "startedBy"), stoppedBy: strAt(m, "stoppedBy"),
		startedAt: timeAt(m, "startedAt"), stoppedAt: timeAt(m, "stoppedAt")}
}

func (rc recordingControl) on() bool {
	return rc.state == RecordingStarting || rc.state == RecordingRunning
}

// advance moves the state forward only.
func (rc *recordingControl) advance(state string) {
	if recordingRank[state] > recordingRank[rc.state] {
		rc.state = state
	}
}

func (rc *recordingControl) stop(by string, at time.Time) {
	rc.advance(RecordingStopped)
	rc.stoppedAt = earlier(rc.stoppedAt, at)
	if rc.stoppedBy == "" {
		rc.stoppedBy = by
	}
}

// book is the bookkeeping form; doc the call's (without gen).
func (rc recordingControl) book() map[string]any {
	m := rc.doc()
	m["gen"] = rc.gen
	return map[string]any{"recordingControl": m}
}

// doc is the call's copy; a field not known is deleted, so that none of
// an earlier generation outlives it.
func (rc recordingControl) doc() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]string{"state": rc.state, "hmsRecordingId": rc.id, "startedBy": rc.startedBy, "stoppedBy": rc.stoppedBy} {
		m[k] = firestore.Delete
		setStr(m, k, v)
	}
	for k, v := range map[string]time.Time{"startedAt": rc.startedAt, "stoppedAt": rc.stoppedAt} {
		m[k] = firestore.Delete
		setTime(m, k, v)
	}
	return m
}

// controlPlan reads the call's book, changes its recording control with
// change (which returns false to write nothing), and writes both copies.
func (s *Store) controlPlan(appointmentID string, change func(rc *recordingControl) bool) plan {
	return plan{read: s.callBookRef(appointmentID), step: func(stored map[string]any) (map[string]any, []write) {
		rc := recordingControlOf(stored)
		if !change(&rc) {
			return nil, nil
		}
		// The call's copy is written whole, so that a field of an earlier
		// generation never outlives it.
		call := map[string]any{"recordingControl": rc.doc(), "updatedAt": firestore.ServerTimestamp}
		return rc.book(), []write{{s.callRef(appointmentID), call}}
	}}
}

// ClaimRecording opens a new generation in state starting, unless one is
// starting or running: then it claims nothing and says which. audit is
// created in the same commit.
func (s *Store) ClaimRecording(ctx context.Context, appointmentID, by string, at time.Time, audit *Audit) (RecordingStart, error) {
	var out RecordingStart
	p := s.controlPlan(appointmentID, func(rc *recordingControl) bool {
		if rc.on() {
			out = RecordingStart{Gen: rc.gen, State: rc.state, ID: rc.id}
			return false
		}
		*rc = recordingControl{gen: rc.gen + 1, state: RecordingStarting, startedBy: by, startedAt: norm(at)}
		out = RecordingStart{Claimed: true, Gen: rc.gen, State: rc.state}
		return true
	})
	err := s.commitCallPlan(ctx, appointmentID, p, audit, "claim recording")
	return out, err
}

// RecordingStarted records what 100ms answered to generation gen's start:
// its recording id, and running when 100ms said one runs already.
func (s *Store) RecordingStarted(ctx context.Context, appointmentID string, gen int64, id string, running bool) error {
	p := s.controlPlan(appointmentID, func(rc *recordingControl) bool {
		if rc.gen != gen {
			return false
		}
		if rc.id == "" {
			rc.id = id
		}
		if running {
			rc.advance(RecordingRunning)
		}
		return true
	})
	return s.commitCallPlan(ctx, appointmentID, p, nil, "record recording start")
}

// StopRecording marks the current generation stopped by by (a uid, or
// "consent") at at, with audit in the same commit. It reports whether one
// was starting or running.
func (s *Store) StopRecording(ctx context.Context, appointmentID, by string, at time.Time, audit *Audit) (bool, error) {
	var was bool
	p := s.controlPlan(appointmentID, func(rc *recordingControl) bool {
		was = rc.on()
		// A generation its webhooks stopped first still learns who
		// stopped it, so that the result is the same in either order.
		if !was && (rc.gen == 0 || rc.stoppedBy != "") {
			return false
		}
		rc.stop(by, norm(at))
		return true
	})
	err := s.commitCallPlan(ctx, appointmentID, p, audit, "stop recording")
	return was, err
}

// recordingEventState is the state a beam webhook moves the control to.
func recordingEventState(ev *hms.Event) (string, bool) {
	switch ev.Data.(type) {
	case *hms.BeamStarted:
		return RecordingRunning, true
	case *hms.BeamStopped, *hms.BeamRecording, *hms.BeamFailed:
		return RecordingStopped, true
	}
	return "", false
}

// advanceRecording applies a beam webhook to the recording control before
// the event's own commit. It is idempotent (the state only moves forward),
// so a redelivery after a failed commit applies it again harmlessly.
func (s *Store) advanceRecording(ctx context.Context, appointmentID string, ev *hms.Event) error {
	state, ok := recordingEventState(ev)
	if !ok || appointmentID == "" {
		return nil
	}
	at := norm(ev.Timestamp)
	p := s.controlPlan(appointmentID, func(rc *recordingControl) bool {
		// Only the latest generation, and not an event older than its
		// start (second resolution: 100ms stamps envelopes to the second).
		if rc.gen == 0 || at.Before(rc.startedAt.Truncate(time.Second)) {
			return false
		}
		before := *rc
		if state == RecordingStopped {
			rc.stop("", at)
		} else {
			rc.advance(state)
		}
		return *rc != before
	})
	err := s.commitRead(ctx, nil, p)
	if err != nil {
		return wrapf(err, "advance recording control of %s", appointmentID)
	}
	return nil
}
