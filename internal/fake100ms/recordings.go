package fake100ms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"
)

// RecordingStart is one start-recording request that started a room
// recording (recordings--start-recording-for-room.md).
type RecordingStart struct {
	RoomID, SessionID string
	// ID is the recording's id: the id of the answer, and the recording_id
	// of beam.recording.success and of the transcription events. BeamID and
	// JobID are the beam_id and job_id of the beam.* events, ids of their
	// own (see the package comment).
	ID, BeamID, JobID string
	// Body is the request's JSON body as sent, nil when it had none.
	Body map[string]any
	At   time.Time
}

// RecordingStop is one room recording stopped, by the stop-recording
// request or by an end-room.
type RecordingStop struct {
	RoomID, SessionID, ID string
	// Reason is beam.stopped.success's: "client request" for both, as the
	// webhook page's "Beam Stop Reason" says of a stop by the API and of
	// the internal stop an end-room makes.
	Reason string
	// Assets are the ids of the assets the recording made: the
	// room-composite file, then the transcripts and the summary asked.
	Assets []string
	At     time.Time
}

// recording is a room recording that is running.
type recording struct {
	RecordingStart
	meetingURL    string
	width, height int
	transcribe    bool
	modes         []string // transcript output modes
	summary       bool
	beamPeerID    string // the peer the recorder's browser joins as
}

// RecordingStarts lists the room recordings started, in order.
func (s *Server) RecordingStarts() []RecordingStart {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]RecordingStart(nil), s.recStarts...)
	for i := range out {
		out[i].Body = maps.Clone(out[i].Body)
	}
	return out
}

// RecordingStops lists the room recordings stopped, in order.
func (s *Server) RecordingStops() []RecordingStop {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]RecordingStop(nil), s.recStops...)
	for i := range out {
		out[i].Assets = slices.Clone(out[i].Assets)
	}
	return out
}

var outputModes = []string{"txt", "srt", "json"}

// recordingOptions reads the parameters of the start request that the fake
// acts on; the others (audio_only, destination, custom_vocabulary, the
// summary's context and sections) are kept in Body only.
func recordingOptions(roomID string, body map[string]any) (recording, error) {
	rec := recording{width: 1280, height: 720,
		// meeting_url may be left out when the template has a subdomain;
		// the fake's rooms have none, so it makes one up.
		meetingURL: "https://fake-100ms.app.100ms.live/meeting/" + roomID + "?token=beam_recording"}
	if v, ok := body["meeting_url"]; ok {
		u, ok := v.(string)
		if !ok {
			return rec, fmt.Errorf("meeting_url must be a string")
		}
		if u != "" {
			rec.meetingURL = u
		}
	}
	if v, ok := body["resolution"]; ok {
		res, ok := v.(map[string]any)
		w, okW := res["width"].(float64)
		h, okH := res["height"].(float64)
		if !ok || !okW || !okH || w <= 0 || h <= 0 {
			return rec, fmt.Errorf("resolution must have a positive width and height")
		}
		rec.width, rec.height = int(w), int(h)
	}
	v, ok := body["transcription"]
	if !ok || v == nil {
		// The template decides; the fake's templates transcribe nothing.
		return rec, nil
	}
	tr, ok := v.(map[string]any)
	if !ok {
		return rec, fmt.Errorf("transcription must be an object")
	}
	enabled, err := optionalBool(tr, "enabled")
	if err != nil {
		return rec, fmt.Errorf("transcription.%w", err)
	}
	rec.transcribe = enabled
	if modes, ok := tr["output_modes"]; ok && modes != nil {
		list, ok := modes.([]any)
		if !ok {
			return rec, fmt.Errorf("transcription.output_modes must be an array")
		}
		for _, m := range list {
			mode, ok := m.(string)
			if !ok || !slices.Contains(outputModes, mode) {
				return rec, fmt.Errorf("transcription.output_modes: valid values are txt, srt and json")
			}
			if !slices.Contains(rec.modes, mode) {
				rec.modes = append(rec.modes, mode)
			}
		}
	}
	if len(rec.modes) == 0 {
		// The dashboard's default outputModes
		// (guide--enable-transcription-and-summary.md).
		rec.modes = outputModes
	}
	if sv, ok := tr["summary"]; ok && sv != nil {
		sum, ok := sv.(map[string]any)
		if !ok {
			return rec, fmt.Errorf("transcription.summary must be an object")
		}
		if rec.summary, err = optionalBool(sum, "enabled"); err != nil {
			return rec, fmt.Errorf("transcription.summary.%w", err)
		}
	}
	rec.summary = rec.summary && rec.transcribe
	return rec, nil
}

func optionalBool(m map[string]any, key string) (bool, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s must be a boolean", key)
	}
	return b, nil
}

// assetTypes are the asset types the recording will make, as its object
// lists them (recordings--overview.md); the fake records no chat.
func (rec *recording) assetTypes() []string {
	types := []string{"room-composite"}
	if rec.transcribe {
		types = append(types, "transcript")
	}
	if rec.summary {
		types = append(types, "summary")
	}
	return types
}

// job is the recording object of the start and stop answers.
func (rec *recording) job(status string, updated time.Time) map[string]any {
	var started any // null until running, as the start answer shows
	if status != "starting" {
		started = stampNano(rec.At)
	}
	return map[string]any{"id": rec.ID, "room_id": rec.RoomID, "session_id": rec.SessionID, "status": status,
		"created_at": stampNano(rec.At), "started_at": started, "updated_at": stampNano(updated), "stopped_at": nil,
		"meeting_url": rec.meetingURL, "started_by": "", "stopped_by": "", "asset_types": rec.assetTypes(),
		"recording_assets": nil}
}

func (s *Server) startRecording(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("id")
	var body map[string]any
	if raw, _ := io.ReadAll(r.Body); len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil || body == nil {
			answerError(w, http.StatusBadRequest, "invalid body")
			return
		}
	}
	rec, err := recordingOptions(roomID, body)
	if err != nil {
		answerError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	sess := s.activeSession(roomID)
	if sess == nil {
		s.mu.Unlock()
		notActive(w)
		return
	}
	if s.recordings[roomID] != nil {
		s.mu.Unlock()
		// Undocumented by 100ms; see the package comment.
		answerError(w, http.StatusConflict, "recording already running in the room")
		return
	}
	rec.RecordingStart = RecordingStart{RoomID: roomID, SessionID: sess.ID, ID: s.newID("rec"), BeamID: s.newID("beam"),
		JobID: s.newID("job"), Body: body, At: now}
	rec.beamPeerID = newUUID()
	s.recordings[roomID] = &rec
	s.recStarts = append(s.recStarts, rec.RecordingStart)
	answerBody := rec.job("starting", now)
	hooks := []hook{s.beamStarted(&rec, sess, now)}
	s.mu.Unlock()
	answer(w, answerBody)
	s.send(hooks)
}

func (s *Server) stopRecording(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("id")
	now := time.Now().UTC()
	s.mu.Lock()
	rec := s.recordings[roomID]
	if rec == nil {
		s.mu.Unlock()
		// Undocumented by 100ms; see the package comment.
		answerError(w, http.StatusNotFound, "no recording running in the room")
		return
	}
	job := rec.job("stopping", now)
	hooks := s.stopRecordingLocked(rec, "client request", now)
	s.mu.Unlock()
	// The page's paginated answer of the recordings stopped.
	answer(w, map[string]any{"limit": 1, "data": []any{job}, "last": rec.ID})
	s.send(hooks)
}

// beamStarted is the beam.started.success of a composite recording, with
// the fields of the page's sample but rtmp, which a recording has none of.
// s.mu held.
func (s *Server) beamStarted(rec *recording, sess *Session, at time.Time) hook {
	data := s.beamData(rec, sess, at)
	data["state_name"] = "Started"
	data["start_delay"] = 0
	return s.webhook("beam.started.success", rec.RoomID, at, data)
}

// beamData are the fields every beam.* event of a recording carries.
func (s *Server) beamData(rec *recording, sess *Session, at time.Time) map[string]any {
	data := map[string]any{
		"beam_id": rec.BeamID, "job_id": rec.JobID, "metadata_id": newUUID(), "metadata_timestamp": stampNano(at),
		"peer_id": rec.beamPeerID, "recording_enabled": true, "room_id": rec.RoomID, "session_id": rec.SessionID,
		"template_id": "", "state_timestamp": stampNano(at), "max_width": rec.width, "max_height": rec.height,
		"meeting_url": rec.meetingURL, "session_started_at": stampNano(rec.At),
	}
	if sess != nil {
		data["session_started_at"] = stampNano(sessionStarted(sess))
	}
	if room := s.rooms[rec.RoomID]; room != nil {
		data["template_id"] = room.TemplateID
	}
	return data
}

// stopRecordingLocked ends a running recording as 100ms does once its
// stop is asked: beam.stopped.success, then beam.recording.success with
// the room-composite file, then, when a transcript was asked,
// transcription.started.success and transcription.success with their
// files. The assets are added at once, so that their presigned URLs work
// when the events arrive. s.mu held; the caller sends the hooks after
// answering.
func (s *Server) stopRecordingLocked(rec *recording, reason string, now time.Time) []hook {
	delete(s.recordings, rec.RoomID)
	sess := s.sessions[rec.SessionID]
	secs := max(1, int(now.Sub(rec.At).Round(time.Second)/time.Second))
	size := int64(secs) * 125_000 // about 1 Mbit/s
	dir := fmt.Sprintf("s3://fake-100ms-recordings/%s/%s/%s", rec.RoomID, rec.SessionID, rec.ID)

	stopped := s.beamData(rec, sess, now)
	stopped["state_name"] = "Stopped"
	stopped["duration"] = secs
	stopped["reason"] = reason
	hooks := []hook{s.webhook("beam.stopped.success", rec.RoomID, now, stopped)}

	video := s.addAssetLocked(Asset{JobID: rec.ID, RoomID: rec.RoomID, SessionID: rec.SessionID, Type: "room-composite",
		Path: dir + "/composite.mp4", Duration: secs, Size: size, CreatedAt: now,
		Metadata: map[string]any{"resolution": map[string]any{"width": rec.width, "height": rec.height}}})
	recorded := s.beamData(rec, sess, now)
	delete(recorded, "job_id") // not a field of beam.recording.success
	delete(recorded, "recording_enabled")
	delete(recorded, "state_timestamp")
	for k, v := range map[string]any{
		"created_at": stampNano(now), "started_at": stampNano(rec.At), "stopped_at": stampNano(now), "duration": secs,
		"size": size, "recording_id": rec.ID, "recording_path": video.Path, "recording_presigned_url": s.signedURL(video.ID),
	} {
		recorded[k] = v
	}
	hooks = append(hooks, s.webhook("beam.recording.success", rec.RoomID, now, recorded))
	stop := RecordingStop{RoomID: rec.RoomID, SessionID: rec.SessionID, ID: rec.ID, Reason: reason, Assets: []string{video.ID}, At: now}

	if rec.transcribe {
		// The transcription events carry one <kind>_<mode>_* group per file.
		type file struct {
			key   string // transcript_txt, ..., summary_json
			asset *Asset
		}
		var files []file
		for _, mode := range rec.modes {
			files = append(files, file{"transcript_" + mode, s.addAssetLocked(Asset{JobID: rec.ID, RoomID: rec.RoomID,
				SessionID: rec.SessionID, Type: "transcript", Path: dir + "/transcript." + mode, Duration: secs, Size: 100,
				CreatedAt: now, Metadata: map[string]any{"output_mode": mode}})})
		}
		if rec.summary {
			files = append(files, file{"summary_json", s.addAssetLocked(Asset{JobID: rec.ID, RoomID: rec.RoomID,
				SessionID: rec.SessionID, Type: "summary", Path: dir + "/summary.json", Duration: secs, Size: 100,
				CreatedAt: now, Metadata: map[string]any{"output_mode": "json"}})})
		}
		transcriptionID := s.newID("trx")
		base := func() map[string]any {
			m := map[string]any{"account_id": fakeAccountID, "app_id": fakeAppID, "metadata_id": newUUID(),
				"metadata_timestamp": stampNano(now), "recording_id": rec.ID, "room_id": rec.RoomID, "room_name": "",
				"transcription_id": transcriptionID, "session_id": rec.SessionID, "duration": secs}
			if room := s.rooms[rec.RoomID]; room != nil {
				m["room_name"] = room.Name
			}
			return m
		}
		started, done := base(), base()
		for _, f := range files {
			started[f.key+"_asset_id"] = f.asset.ID
			done[f.key+"_asset_id"] = f.asset.ID
			done[f.key+"_path"] = f.asset.Path
			done[f.key+"_presigned_url"] = s.signedURL(f.asset.ID)
			stop.Assets = append(stop.Assets, f.asset.ID)
		}
		hooks = append(hooks, s.webhook("transcription.started.success", rec.RoomID, now, started),
			s.webhook("transcription.success", rec.RoomID, now, done))
	}
	s.recStops = append(s.recStops, stop)
	return hooks
}

// addAssetLocked is AddAsset with s.mu held; it returns the asset stored.
func (s *Server) addAssetLocked(a Asset) *Asset {
	if a.ID == "" {
		a.ID = s.newID("asset")
	}
	if a.Status == "" {
		a.Status = "completed"
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now().UTC()
	}
	s.assets[a.ID] = &a
	return &a
}

// signedURL makes a presigned URL of an asset, fresh each time as a real
// one is (a new signature), valid for 100ms's default 3 days.
func (s *Server) signedURL(assetID string) string {
	return fmt.Sprintf("%s/signed/%s?expires=%d&sig=%s", s.URL, assetID, time.Now().Add(72*time.Hour).Unix(), randomHex(16))
}
