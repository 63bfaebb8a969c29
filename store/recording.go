package store

import (
	"time"

	"github.com/telemed/videocalls/hms"
)

// Recordings, calls/{a}/recordings/{recordingId}, and transcripts,
// calls/{a}/transcripts/{transcriptionId} (docs/data-model.md). A recording's id joins
// its kind and 100ms's id for it (sfu-<sessionId>, browser-<beamId>,
// hls-<beamId>, track-<recording_id or track_id>, stream-<recording_id>), so
// that the start, success and failure of one recording meet in one
// document. All are blind writes. Merge rules:
//   - status: success beats failed beats started, by rank (rank.go).
//   - createdAt: written with the status (the success's
//     recording_created_at or created_at, else the event time of the event
//     whose status stands).
//   - kind, sessionId, ids: the same in every event of the recording.
//   - error, errorType: from the failure, kept when a success also arrives.
//   - links, sizes, durations, layers, thumbnails, times: from the event
//     that carries them (the success, in practice); each is the same in
//     every event that carries it.
// Links and paths longer than 8 KiB are not copied, free text is cut to
// 1 KiB (values.go): the raw event keeps them whole.

// Status values of recordings and transcripts.
const (
	statusStarted = "started"
	statusFailed  = "failed"
	statusSuccess = "success"
)

var recRank = map[string]int{statusStarted: 1, statusFailed: 2, statusSuccess: 3}

func (s *Store) recordingPlan(ev *hms.Event, appt string) plan {
	sid, at := ev.SessionID, norm(ev.Timestamp)
	r := map[string]any{}
	setStr(r, "sessionId", sid)
	var kind, id, status string
	created := at
	switch d := ev.Data.(type) {
	case *hms.Recording:
		kind, id, status = "sfu", sid, statusSuccess
		setLink(r, "location", d.Path())
		setLink(r, "url", d.DownloadURL())
		setInt(r, "sizeBytes", d.Size)
		setInt(r, "durationSec", seconds(d.Duration))
		setLink(r, "chatLocation", d.ChatRecordingPath)
		setLink(r, "chatUrl", d.ChatRecordingPresignedURL)
		setTime(r, "startedAt", tm(d.SessionStartedAt))
		setTime(r, "stoppedAt", tm(d.SessionStoppedAt))
	case *hms.RecordingFailure:
		kind, id, status = "sfu", sid, statusFailed
		setText(r, "error", d.Error)
		setText(r, "errorType", d.ErrorType)
		setTime(r, "startedAt", tm(d.SessionStartedAt))
		setTime(r, "stoppedAt", tm(d.SessionStoppedAt))
	case *hms.BeamRecording:
		kind, id, status = "browser", d.BeamID, statusSuccess
		created = firstTime(tm(d.CreatedAt), at)
		setLink(r, "location", d.Path())
		setLink(r, "url", d.DownloadURL())
		setInt(r, "sizeBytes", d.Size.Ptr())
		setInt(r, "durationSec", seconds(d.Duration))
		setText(r, "hmsRecordingId", d.RecordingID)
		setTime(r, "startedAt", tm(d.StartedAt))
		setTime(r, "stoppedAt", tm(d.StoppedAt))
	case *hms.HLSRecording:
		kind, id, status = "hls", d.BeamID, statusSuccess
		created = firstTime(tm(d.Created()), at)
		setInt(r, "durationSec", seconds(d.Duration))
		setTime(r, "startedAt", tm(d.StartedAt))
		setTime(r, "stoppedAt", tm(d.StoppedAt))
		hlsAssets(r, &d.HLSAssets)
	case *hms.TrackRecordingStarted:
		kind, id, status = "track", d.TrackID, statusStarted
		track(r, d.TrackRef)
	case *hms.TrackRecording:
		kind, id, status = "track", firstOf(d.RecordingID, d.TrackID), statusSuccess
		track(r, d.TrackRef)
		media(r, d.RecordedMedia)
	case *hms.TrackRecordingFailed:
		kind, id, status = "track", firstOf(d.RecordingID, d.TrackID), statusFailed
		track(r, d.TrackRef)
		media(r, d.RecordedMedia)
		setText(r, "error", d.ErrorMessage)
	case *hms.StreamRecording:
		kind, id, status = "stream", d.RecordingID, statusSuccess
		setText(r, "peerId", d.PeerID)
		setText(r, "userId", d.UserID)
		media(r, d.RecordedMedia)
	case *hms.StreamRecordingFailed:
		kind, id, status = "stream", d.RecordingID, statusFailed
		setText(r, "peerId", d.PeerID)
		setText(r, "userId", d.UserID)
		media(r, d.RecordedMedia)
		setText(r, "error", d.ErrorMessage)
	default:
		return plan{}
	}
	switch {
	case id == "":
		return plan{} // names no recording: nothing to apply
	case !safeID(id):
		return refuse(kind + " recording id")
	}
	r["kind"] = kind
	return s.recordingPlanOf(appt, kind+"-"+id, status, r, created)
}

// recordingPlanOf writes fields to recordings/{id}, and status with
// createdAt by rank.
func (s *Store) recordingPlanOf(appt, id, status string, fields map[string]any, created time.Time) plan {
	ref := s.recordingRef(appt, id)
	withStatus := map[string]any{"status": status, "createdAt": created}
	for k, v := range fields {
		withStatus[k] = v
	}
	return s.ranked([]string{appt, colRecordings, id}, recRank[status], recRank[statusSuccess], nil,
		[]write{{ref, withStatus}}, []write{{ref, fields}})
}

func track(r map[string]any, t hms.TrackRef) {
	setText(r, "peerId", t.PeerID)
	setText(r, "trackId", t.TrackID)
	setText(r, "trackType", t.TrackType)
}

func media(r map[string]any, m hms.RecordedMedia) {
	setLink(r, "location", m.RecordingPath)
	setLink(r, "url", m.RecordingPresignedURL)
	setInt(r, "sizeBytes", m.Size.Ptr())
	setInt(r, "durationSec", m.Duration.Ptr())
	setText(r, "hmsRecordingId", m.RecordingID)
}

func hlsAssets(r map[string]any, a *hms.HLSAssets) {
	setLink(r, "playlistUrl", a.PlaylistURL())
	setLink(r, "playlistLocation", a.PlaylistPath())
	setText(r, "hmsRecordingId", a.RecordingID)
	var layers []any
	for _, f := range a.SingleFiles {
		m := map[string]any{}
		setText(m, "layer", f.Layer)
		setLink(m, "location", f.Path())
		setLink(m, "url", f.DownloadURL())
		setText(m, "assetId", f.AssetID)
		setInt(m, "sizeBytes", f.Size.Ptr())
		setInt(m, "width", f.Width.Ptr())
		setInt(m, "height", f.Height.Ptr())
		layers = append(layers, m)
	}
	if layers != nil {
		r["layers"] = layers
	}
	var thumbs []any
	for _, t := range a.Thumbnails {
		m := map[string]any{"width": t.Width, "height": t.Height, "offset": t.Offset}
		setLink(m, "location", t.Location)
		setLink(m, "url", t.URL)
		thumbs = append(thumbs, m)
	}
	if thumbs != nil {
		r["thumbnails"] = thumbs
	}
}

// transcriptPlan applies transcription.* to transcripts/{transcriptionId}:
// status and createdAt by rank as recordings; sessionId, hmsRecordingId, durationSec and
// each file's {assetId, location, url} from the events that carry them;
// error from the failure.
func (s *Store) transcriptPlan(ev *hms.Event, appt string) plan {
	var ref hms.TranscriptionRef
	var files *hms.TranscriptAssets
	var status, errText string
	switch d := ev.Data.(type) {
	case *hms.TranscriptionStarted:
		ref, files, status = d.TranscriptionRef, &d.TranscriptAssets, statusStarted
	case *hms.Transcription:
		ref, files, status = d.TranscriptionRef, &d.TranscriptAssets, statusSuccess
	case *hms.TranscriptionFailed:
		ref, files, status, errText = d.TranscriptionRef, &d.TranscriptAssets, statusFailed, d.Err()
	default:
		return plan{}
	}
	switch {
	case ref.TranscriptionID == "":
		return plan{}
	case !safeID(ref.TranscriptionID):
		return refuse("transcription id")
	}
	t := map[string]any{}
	setStr(t, "sessionId", ev.SessionID)
	setText(t, "hmsRecordingId", ref.RecordingID)
	setInt(t, "durationSec", ref.Duration.Ptr())
	setText(t, "error", errText)
	for name, a := range map[string]*hms.TranscriptAsset{
		"transcriptTxt": files.TranscriptTxt(), "transcriptSrt": files.TranscriptSrt(),
		"transcriptJson": files.TranscriptJSON(), "summaryJson": files.SummaryJSON(),
	} {
		if a == nil {
			continue
		}
		m := map[string]any{}
		setText(m, "assetId", a.AssetID)
		setLink(m, "location", a.Path)
		setLink(m, "url", a.PresignedURL)
		if len(m) > 0 {
			t[name] = m
		}
	}
	docRef := s.transcriptRef(appt, ref.TranscriptionID)
	// createdAt, as a recording's: the time of the event whose status
	// stands (retention counts from it).
	withStatus := map[string]any{"status": status, "createdAt": norm(ev.Timestamp)}
	for k, v := range t {
		withStatus[k] = v
	}
	return s.ranked([]string{appt, colTranscripts, ref.TranscriptionID}, recRank[status], recRank[statusSuccess], nil,
		[]write{{docRef, withStatus}}, []write{{docRef, t}})
}
