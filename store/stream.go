package store

import (
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// Streams, calls/{a}.streams.{beamId} (SPEC §2), from beam.* (kind "beam":
// RTMP and browser recording) and hls.* (kind "hls") events. All are blind
// writes. Merge rule of each field:
//   - kind, sessionId: the same in every event of the stream.
//   - status: failed beats stopped beats started (see below).
//   - startedAt: from the started event (beam: state_timestamp; hls:
//     started_at, else state_timestamp, else the event time), the only
//     event that writes it; hls.stopped's started_at is not the start (the
//     reference sample gives its stop time).
//   - url: hls.started's live URL, the only event that writes it (once the
//     stream has stopped the live URL is of no use).
//   - stoppedAt: from the stopped event (hls: stopped_at, else
//     state_timestamp; beam: state_timestamp; else the event time).
//   - error: from the failure.
//   - updatedAt (call): server time.
//
// Status without reading: bookkeeping documents hmsStreams/{a}:{beamId}:{r}
// stand for "an event of rank r or above has been applied" (r = 1 for
// started, 2 for stopped). An event of rank r writes its status only in a
// commit that creates document r, and sets the documents below r; the top
// rank (failed) sets them all and always writes its status. So a status is
// written only when nothing of its rank or above came before, and every
// later higher-ranked event overwrites it. When document r exists, the
// event is applied again without its status (orElse).

const (
	streamStarted = "started"
	streamStopped = "stopped"
	streamFailed  = "failed"
)

// streamRank orders the statuses; the greatest is written unconditionally.
var streamRank = map[string]int{streamStarted: 1, streamStopped: 2, streamFailed: 3}

// streamFacts is what one beam/hls event says about its stream.
type streamFacts struct {
	kind, beamID, sid, status string
	startedAt, stoppedAt      time.Time
	url, err                  string
}

func (s *Store) streamPlan(ev *hms.Event, appt string) plan {
	at := norm(ev.Timestamp)
	var f streamFacts
	var rf *recFailure
	switch d := ev.Data.(type) {
	case *hms.BeamStarted:
		f = streamFacts{kind: "beam", beamID: d.BeamID, status: streamStarted,
			startedAt: firstTime(tm(d.StateTimestamp), at)}
	case *hms.BeamStopped:
		f = streamFacts{kind: "beam", beamID: d.BeamID, status: streamStopped,
			stoppedAt: firstTime(tm(d.StateTimestamp), at)}
	case *hms.BeamFailed:
		f = streamFacts{kind: "beam", beamID: d.BeamID, status: streamFailed,
			err: firstOf(d.ErrorMessage, d.StateMessage, d.ErrorType)}
		rf = &recFailure{kind: "browser", err: f.err}
	case *hms.HLSStarted:
		f = streamFacts{kind: "hls", beamID: d.BeamID, status: streamStarted,
			startedAt: firstTime(tm(d.StartedAt), tm(d.StateTimestamp), at), url: d.URL}
	case *hms.HLSStopped:
		f = streamFacts{kind: "hls", beamID: d.BeamID, status: streamStopped,
			stoppedAt: firstTime(tm(d.StoppedAt), tm(d.StateTimestamp), at)}
	case *hms.HLSFailed:
		f = streamFacts{kind: "hls", beamID: d.BeamID, status: streamFailed,
			err: firstOf(d.ErrorMessage, d.StateMessage, d.ErrorType)}
		rf = &recFailure{kind: "hls", err: f.err}
	}
	if !validID(f.beamID) {
		return plan{}
	}
	f.sid = ev.SessionID

	rank := streamRank[f.status]
	var below []write // "rank ≥ r seen", for each r below this event's
	for r := 1; r < rank; r++ {
		below = append(below, write{s.streamBookRef(appt, f.beamID, r), expiry()})
	}
	full := plan{merges: append(slices.Clip(below), write{s.callRef(appt), f.merge(true)})}
	if rank < streamRank[streamFailed] {
		// Only while nothing of this rank or above was applied.
		full.creates = []write{{s.streamBookRef(appt, f.beamID, rank), expiry()}}
		full.orElse = &plan{merges: append(slices.Clip(below), write{s.callRef(appt), f.merge(false)})}
	}
	if rf != nil {
		// beam.failure and hls.failure cannot say whether the failed job
		// was recording or streaming: a failed recording too.
		rf.id, rf.sid, rf.at = rf.kind+"-"+f.beamID, f.sid, at
		return s.withRecFailure(appt, full, rf)
	}
	return full
}

// merge is the call merge of the stream's fields, with or without status.
func (f *streamFacts) merge(withStatus bool) map[string]any {
	st := map[string]any{"kind": f.kind}
	if withStatus {
		st["status"] = f.status
	}
	setStr(st, "sessionId", f.sid)
	setTime(st, "startedAt", f.startedAt)
	setTime(st, "stoppedAt", f.stoppedAt)
	setStr(st, "url", f.url)
	setStr(st, "error", f.err)
	return map[string]any{
		"streams":   map[string]any{f.beamID: st},
		"updatedAt": firestore.ServerTimestamp,
	}
}

func (s *Store) streamBookRef(appt, beamID string, rank int) *firestore.DocumentRef {
	return s.fs.Collection(colStreams).Doc(appt + ":" + beamID + ":" + strconv.Itoa(rank))
}
