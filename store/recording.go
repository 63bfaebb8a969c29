package store

import (
	"slices"
	"time"

	"github.com/telemed/videocalls/hms"
)

// Recordings, calls/{a}/recordings/{recordingId} (SPEC §2): sfu-<sessionId>
// for SFU recordings, <kind>-<beamId> for browser and HLS ones, so that a
// success and a failure of one recording meet in one document. All are
// blind writes. Merge rules:
//   - status: success beats failed. A success writes it unconditionally; a
//     failure only in a commit that creates the document, so only when no
//     success (nor other failure) came before; a later success overwrites it.
//   - kind, sessionId: the same in every event of the recording.
//   - location, url, playlistUrl, durationSec, sizeBytes, layers,
//     thumbnails, startedAt, stoppedAt: from the success only.
//   - createdAt: the success's created_at (else its event time); a
//     failure's event time only with its status, as above.
//   - error: from the failure, kept when a success also arrives.

func (s *Store) recordingPlan(ev *hms.Event, appt string) plan {
	sid, at := ev.SessionID, norm(ev.Timestamp)
	r := map[string]any{"status": "success"}
	var kind, id string
	switch d := ev.Data.(type) {
	case *hms.Recording:
		kind, id = "sfu", sid
		r["createdAt"] = at
		setInt(r, "durationSec", seconds(d.Duration))
		setInt(r, "sizeBytes", d.Size)
		setStr(r, "location", d.Location)
		setStr(r, "url", d.URL)
	case *hms.RecordingFailure:
		if !validID(sid) {
			return plan{}
		}
		return s.withRecFailure(appt, plan{}, &recFailure{kind: "sfu", id: "sfu-" + sid, sid: sid, err: d.Error, at: at})
	case *hms.BeamRecording:
		kind, id = "browser", d.BeamID
		r["createdAt"] = firstTime(tm(d.CreatedAt), at)
		setInt(r, "durationSec", seconds(d.Duration))
		setStr(r, "location", d.Location)
		setStr(r, "url", d.Location)
		setTime(r, "startedAt", tm(d.StartedAt))
		setTime(r, "stoppedAt", tm(d.StoppedAt))
	case *hms.HLSRecording:
		kind, id = "hls", d.BeamID
		r["createdAt"] = firstTime(tm(d.CreatedAt), at)
		setInt(r, "durationSec", seconds(d.Duration))
		setStr(r, "playlistUrl", d.VODPlaylistLocation)
		setTime(r, "startedAt", tm(d.StartedAt))
		setTime(r, "stoppedAt", tm(d.StoppedAt))
		if l := layers(d.SingleFiles); l != nil {
			r["layers"] = l
		}
		if t := thumbnails(d.Thumbnails); t != nil {
			r["thumbnails"] = t
		}
	}
	if !validID(id) {
		return plan{}
	}
	r["kind"] = kind
	setStr(r, "sessionId", sid)
	return plan{merges: []write{{s.recordingRef(appt, kind+"-"+id), r}}}
}

// recFailure is a failure of recording id.
type recFailure struct {
	kind, id, sid, err string
	at                 time.Time
}

// withRecFailure adds the failure rf to p, whose merges are unconditional
// (p has no creates): the failed status comes with creating the recording
// document, and without it when the document exists.
func (s *Store) withRecFailure(appt string, p plan, rf *recFailure) plan {
	ref := s.recordingRef(appt, rf.id)
	rec := map[string]any{"kind": rf.kind}
	setStr(rec, "sessionId", rf.sid)
	setStr(rec, "error", rf.err)
	created := map[string]any{"status": "failed", "createdAt": rf.at}
	for k, v := range rec {
		created[k] = v
	}
	return plan{
		creates: []write{{ref, created}},
		merges:  p.merges,
		orElse:  &plan{merges: append(slices.Clip(p.merges), write{ref, rec})},
	}
}

func layers(files []hms.RecordingFile) []any {
	var out []any
	for _, f := range files {
		m := map[string]any{}
		setStr(m, "layer", f.Layer)
		setStr(m, "location", f.Location)
		setStr(m, "url", f.PresignedURL)
		out = append(out, m)
	}
	return out
}

func thumbnails(ts []hms.Thumbnail) []any {
	var out []any
	for _, t := range ts {
		m := map[string]any{"width": t.Width, "height": t.Height, "offset": t.Offset}
		setStr(m, "location", t.Location)
		setStr(m, "url", t.URL)
		out = append(out, m)
	}
	return out
}
