package store

import (
	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// plan decides, for each event type, which documents it changes and how.
// Every event is one blind commit (creates and merge-sets, no reads),
// except these, which read one bookkeeping document that few events share
// and commit on condition that it did not change (commitRead): session open
// and close (hmsCalls, session.go), role changes and leaves without a
// duration (hmsPeers, peer.go), and a join whose hmsPeers document already
// exists. Nothing reads a document that every event of a call writes
// (calls/{a} and its sessions). The merge rule of every field is written
// next to its plan.
func (s *Store) plan(ev *hms.Event, appt string) plan {
	if appt == "" || (ev.SessionID != "" && !validID(ev.SessionID)) {
		return plan{} // unknown room, or an unusable session id: raw only
	}
	switch d := ev.Data.(type) {
	case *hms.SessionOpen:
		return s.sessionPlan(ev, appt, d.SessionRef, false)
	case *hms.SessionClose:
		return s.sessionPlan(ev, appt, d.SessionRef, true)
	case *hms.PeerJoin:
		return s.peerJoinPlan(ev, appt, d)
	case *hms.PeerLeave:
		return s.peerLeavePlan(ev, appt, d)
	case *hms.RoleChange:
		return s.roleChangePlan(ev, appt, d)
	case *hms.PeerJoinFailed, *hms.PeerLeaveFailed:
		return s.peerFailurePlan(ev, appt)
	case *hms.RoomEnd:
		return s.roomEndPlan(ev, appt, d)
	case *hms.Recording, *hms.RecordingFailure, *hms.BeamRecording, *hms.HLSRecording:
		return s.recordingPlan(ev, appt)
	case *hms.BeamStarted, *hms.BeamStopped, *hms.BeamFailed, *hms.HLSStarted, *hms.HLSStopped, *hms.HLSFailed:
		return s.streamPlan(ev, appt)
	}
	return plan{} // a type this version does not know: raw only
}

func (s *Store) callRef(appt string) *firestore.DocumentRef {
	return s.fs.Collection(colCalls).Doc(appt)
}

func (s *Store) sessionRef(appt, sid string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colSessions).Doc(sid)
}

func (s *Store) recordingRef(appt, id string) *firestore.DocumentRef {
	return s.callRef(appt).Collection(colRecordings).Doc(id)
}
