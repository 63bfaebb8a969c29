package store

import (
	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// plan is what one event (or one repair: hmsSweep's close, a
// reconciliation, the recording control) does to Firestore, in one atomic
// commit that also creates the event document: either blind writes
// (creates and merge-sets, no reads), or a read of one bookkeeping
// document and a commit on condition that it did not change meanwhile,
// when a field's rule needs a stored value. docs/webhook.md, "Every path
// an event takes", lists which events take which.
type plan struct {
	// creates are documents that must not exist yet: each stands for a
	// condition under which merges are right (rank.go). When one exists,
	// orElse is applied instead.
	creates []write
	// merges are merge-sets (MergeAll) whose field writes commute with
	// every other event's writes, given creates.
	merges []write
	orElse *plan
	// read, when set, makes the plan read instead: it reads this one
	// bookkeeping document, and step turns its fields (empty when it does
	// not exist) into its new fields and the merge-sets to make, committed
	// only if it did not change meanwhile (commitRead). step may run
	// several times, so it keeps no state but what it asked once of the
	// world outside (a close's record from 100ms, reconcile.go).
	read *firestore.DocumentRef
	step func(stored map[string]any) (book map[string]any, merges []write)
	// unchanged, when set, is asked first what read holds: true means
	// there is nothing to do, and nothing is written, not even the event
	// document or audit entry that came with the plan (hmsSweep's close of
	// a session that is already closed makes no entry).
	unchanged func(stored map[string]any) bool
	// claims, when set, holds what the winning attempt's step claimed for
	// enforcement of a removal (peerPlan): reported in ApplyResult.Enforce.
	claims *[]RemovedPeer
	// notify, when set, holds the notifications the winning attempt's
	// step claimed (notify.go): reported in ApplyResult.Notify.
	notify *[]Notification
	// seen, when set, is told what the winning attempt read and merged.
	seen func(stored map[string]any, merges []write)
	// refused, when set, says why the event cannot be applied at all: it
	// is stored raw only (see refuse).
	refused string
}

// write is one merge-set, or for plan.creates one create, of a document.
type write struct {
	ref  *firestore.DocumentRef
	data map[string]any
}

// fresh reports whether w's document id was made for this write (an
// audit entry's random id), so that no earlier delivery can have written
// it: commitRead need not read it to tell a duplicate.
func (w *write) fresh() bool { return w.ref.Parent.ID == colAudit }

// plan decides, for each event type, which documents it changes and how
// (docs/webhook.md, "Every path an event takes", is this switch as a
// table). Events that change the call's state read its bookkeeping
// document hmsCalls/{appointmentId} and commit on condition (commitRead):
// session open and close (session.go), joins, leaves and role changes
// (peer.go). Failures, room ends, recordings, transcripts and streams are
// one blind commit (creates and merge-sets, no reads). Nothing reads a
// document that every event of a call writes (calls/{a} and its sessions).
// The merge rule of every field is written next to its plan.
func (s *Store) plan(ev *hms.Event, appt string) plan {
	if appt == "" {
		return plan{} // a room these functions did not create: raw only
	}
	if ev.SessionID != "" && !safeID(ev.SessionID) {
		return refuse("session id")
	}
	switch d := ev.Data.(type) {
	case *hms.SessionOpen:
		return s.sessionPlan(ev, appt, d.SessionRef, nil, false)
	case *hms.SessionClose:
		return s.sessionPlan(ev, appt, d.SessionRef, d, false)
	case *hms.PeerJoin:
		return s.peerPlan(appt, joinEvent(ev, d))
	case *hms.PeerLeave:
		return s.peerPlan(appt, leaveEvent(ev, d))
	case *hms.RoleChange:
		return s.peerPlan(appt, roleChangeEvent(ev, d))
	case *hms.PeerJoinFailed, *hms.PeerLeaveFailed, *hms.RoomEndFailed, *hms.RoleChangeFailed:
		return s.failurePlan(ev, appt)
	case *hms.RoomEnd:
		return s.roomEndPlan(ev, appt, d)
	case *hms.Recording, *hms.BeamRecording, *hms.HLSRecording, *hms.TrackRecording, *hms.StreamRecording:
		return s.flagCall(s.recordingPlan(ev, appt), appt, "recorded")
	case *hms.RecordingFailure, *hms.TrackRecordingStarted, *hms.TrackRecordingFailed, *hms.StreamRecordingFailed:
		return s.recordingPlan(ev, appt)
	case *hms.Transcription:
		return s.flagCall(s.transcriptPlan(ev, appt), appt, "transcribed")
	case *hms.TranscriptionStarted, *hms.TranscriptionFailed:
		return s.transcriptPlan(ev, appt)
	case *hms.BeamStarted, *hms.BeamStopped, *hms.BeamFailed, *hms.HLSStarted, *hms.HLSStopped, *hms.HLSFailed:
		return s.streamPlan(ev, appt)
	}
	return plan{} // a type this version does not know: raw only
}

// flagCall makes p, the plan of a recording or transcript that succeeded,
// also set calls/{appt}.recorded or .transcribed: true, which the visit
// report reads. Only true is ever written, so any order gives the same.
func (s *Store) flagCall(p plan, appt, field string) plan {
	if p.refused != "" || (len(p.merges) == 0 && len(p.creates) == 0) {
		return p
	}
	return p.and(plan{merges: []write{{s.callRef(appt), map[string]any{field: true}}}})
}

// refuse is the plan of an event one of whose ids (named by what) cannot
// name a document or a map key: no delivery of it could ever be applied,
// so it is stored raw only, with applied false.
func refuse(what string) plan {
	return plan{refused: what + " cannot name a Firestore document or field"}
}
