package store

import (
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

// Streams, calls/{a}.streams.{beamId} (docs/data-model.md), from beam.* (kind "beam":
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
// Status without reading: by rank (rank.go), started 1, stopped 2, failed 3.

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
	var recKind string // the recording a failure also fails, if any
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
		if d.Records() {
			recKind = "browser"
		}
	case *hms.HLSStarted:
		f = streamFacts{kind: "hls", beamID: d.BeamID, status: streamStarted,
			startedAt: firstTime(tm(d.StartedAt), tm(d.StateTimestamp), at), url: d.URL}
	case *hms.HLSStopped:
		f = streamFacts{kind: "hls", beamID: d.BeamID, status: streamStopped,
			stoppedAt: firstTime(tm(d.StoppedAt), tm(d.StateTimestamp), at)}
	case *hms.HLSFailed:
		f = streamFacts{kind: "hls", beamID: d.BeamID, status: streamFailed,
			err: firstOf(d.ErrorMessage, d.StateMessage, d.ErrorType)}
		if d.Records() {
			recKind = "hls"
		}
	}
	switch {
	case f.beamID == "":
		return plan{}
	case !safeID(f.beamID):
		return refuse("beam id")
	}
	f.sid = ev.SessionID
	p := s.ranked([]string{appt, "stream", f.beamID}, streamRank[f.status], streamRank[streamFailed], nil,
		[]write{{s.callRef(appt), f.merge(true)}}, []write{{s.callRef(appt), f.merge(false)}})
	if recKind != "" {
		// beam.failure and hls.failure cannot say whether the failed job
		// was recording or streaming: a failed recording too, when the
		// job was recording at all (docs/data-model.md). The stream's failure is of
		// the top rank, so p is blind merges only.
		rec := map[string]any{"kind": recKind}
		setStr(rec, "sessionId", f.sid)
		setText(rec, "error", f.err)
		return s.recordingPlanOf(appt, recKind+"-"+f.beamID, statusFailed, rec, at).and(p)
	}
	return p
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
	setLink(st, "url", f.url)
	setText(st, "error", f.err)
	return map[string]any{
		"streams":   map[string]any{f.beamID: st},
		"updatedAt": firestore.ServerTimestamp,
	}
}
