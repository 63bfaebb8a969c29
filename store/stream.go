package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
)

// Streams, calls/{a}.streams.{beamId} (SPEC §2), from beam.* (kind "beam":
// RTMP and browser recording) and hls.* (kind "hls") events. A stream has
// few events, but its status rule needs the stored status (Firestore has no
// conditional field write), so they read the call document in a
// transaction. Merge rule of each field:
//   - kind, sessionId: the same in every event of the stream.
//   - status: failed beats stopped beats started.
//   - startedAt: earliest seen (beam.started's state time, hls started_at).
//   - stoppedAt: latest seen (beam.stopped's state time, hls stopped_at).
//   - url: hls.started's URL; hls.stopped's only while none is stored.
//   - error: from the failure.
//   - updatedAt (call): server time.

const (
	streamStarted = "started"
	streamStopped = "stopped"
	streamFailed  = "failed"
)

var streamRank = map[string]int{streamStarted: 1, streamStopped: 2, streamFailed: 3}

// streamFacts is what one beam/hls event says about its stream.
type streamFacts struct {
	kind, beamID, sid, status string
	startedAt, stoppedAt      time.Time
	url                       string
	urlFromStart              bool
	err                       string
}

// streamStep applies a stream event (f) and/or a recording failure (rf),
// which beam.failure and hls.failure carry together.
func (s *Store) streamStep(appt string, f *streamFacts, rf *recFailure) txStep {
	return func(ctx context.Context, tx *firestore.Transaction) ([]write, error) {
		var refs []*firestore.DocumentRef
		if f != nil {
			refs = append(refs, s.callRef(appt))
		}
		if rf != nil {
			refs = append(refs, s.recordingRef(appt, rf.id))
		}
		snaps, err := tx.GetAll(refs)
		if err != nil {
			return nil, err
		}
		var out []write
		if f != nil {
			stored := mapAt(dataOf(snaps[0]), "streams", f.beamID)
			out = append(out, write{refs[0], f.merge(stored)})
			snaps = snaps[1:]
		}
		if rf != nil {
			out = append(out, write{s.recordingRef(appt, rf.id), rf.merge(dataOf(snaps[0]))})
		}
		return out, nil
	}
}

func (f *streamFacts) merge(stored map[string]any) map[string]any {
	st := map[string]any{"kind": f.kind}
	setStr(st, "sessionId", f.sid)
	status := f.status
	if prev := strAt(stored, "status"); streamRank[prev] > streamRank[status] {
		status = prev
	}
	st["status"] = status
	setTime(st, "startedAt", earlier(timeAt(stored, "startedAt"), f.startedAt))
	setTime(st, "stoppedAt", later(timeAt(stored, "stoppedAt"), f.stoppedAt))
	if f.url != "" && (f.urlFromStart || strAt(stored, "url") == "") {
		st["url"] = f.url
	}
	setStr(st, "error", f.err)
	return map[string]any{
		"streams":   map[string]any{f.beamID: st},
		"updatedAt": firestore.ServerTimestamp,
	}
}
