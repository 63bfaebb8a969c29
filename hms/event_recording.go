package hms

import "cmp"

// Where 100ms's current documentation renamed a key, the payload keeps both
// the current and the deprecated field as received, and a method (Path,
// DownloadURL, PlaylistURL, Created) gives the current one, else the
// deprecated one (docs/data-model.md).

// ChatRecording is the chat log some recordings upload beside the video.
type ChatRecording struct {
	ChatRecordingPath         string `json:"chat_recording_path"`
	ChatRecordingPresignedURL string `json:"chat_recording_presigned_url"`
}

// Recording is the data of recording.success (SFU recording). The links
// are presigned and valid for about 24 hours. Location and URL are the
// deprecated names of RecordingPath and RecordingPresignedURL.
type Recording struct {
	SessionRef
	ChatRecording
	// Session is the session id under the name the v1 documentation gives
	// it; SessionID is filled from it when absent.
	Session               string   `json:"session"`
	RecordingPath         string   `json:"recording_path"`
	RecordingPresignedURL string   `json:"recording_presigned_url"`
	Location              string   `json:"location"`
	URL                   string   `json:"URL"`
	Duration              *float64 `json:"duration"`
	Size                  *int64   `json:"size"`
	SessionStoppedAt      Time     `json:"session_stopped_at"`
}

// normalize fills SessionID from the v1 name of the field.
func (r *Recording) normalize() { r.SessionID = cmp.Or(r.SessionID, r.Session) }

// Path is the storage path of the recording: recording_path, else location.
func (r *Recording) Path() string { return cmp.Or(r.RecordingPath, r.Location) }

// DownloadURL is the presigned link: recording_presigned_url, else URL.
func (r *Recording) DownloadURL() string { return cmp.Or(r.RecordingPresignedURL, r.URL) }

// RecordingFailure is the data of recording.failed; ErrorType names the
// class of failure (CLOUD_ACCESS_ERROR, INPUT_ERROR, ...).
type RecordingFailure struct {
	SessionRef
	Error            string `json:"error"`
	ErrorType        string `json:"error_type"`
	SessionStoppedAt Time   `json:"session_stopped_at"`
}

// BeamRef is what every beam.* and hls.* event carries: the job and its state.
type BeamRef struct {
	SessionRef
	BeamID            string `json:"beam_id"`
	JobID             string `json:"job_id"`
	PeerID            string `json:"peer_id"`
	MetadataID        string `json:"metadata_id"`
	MetadataTimestamp Time   `json:"metadata_timestamp"`
	StateName         string `json:"state_name"`
	StateMessage      string `json:"state_message"`
	StateTimestamp    Time   `json:"state_timestamp"`
	MaxWidth          Int    `json:"max_width"`
	MaxHeight         Int    `json:"max_height"`
}

// BeamOptions says what a beam (RTMP streaming and/or browser recording)
// job was asked to do. RecordingEnabled is nil when the event does not say
// (the original samples never do).
type BeamOptions struct {
	RecordingEnabled *bool `json:"recording_enabled"`
}

// Records reports whether the job was said to record.
func (o BeamOptions) Records() bool { return o.RecordingEnabled != nil && *o.RecordingEnabled }

// HLSOptions says which recordings an HLS job was asked to make; nil when
// the event does not say.
type HLSOptions struct {
	SingleFilePerLayerEnabled *bool `json:"recording_single_file_per_layer_enabled"`
	VODPlaylistEnabled        *bool `json:"recording_vod_playlist_enabled"`
}

// Records reports whether the job was said to record in either form.
func (o HLSOptions) Records() bool {
	return (o.SingleFilePerLayerEnabled != nil && *o.SingleFilePerLayerEnabled) ||
		(o.VODPlaylistEnabled != nil && *o.VODPlaylistEnabled)
}

// BeamError is the failure detail of beam.failure and hls.failure.
type BeamError struct {
	ErrorCode    *int64 `json:"error_code"`
	ErrorMessage string `json:"error_message"`
	ErrorType    string `json:"error_type"`
}

// RTMPTarget is one RTMP destination given when streaming started.
type RTMPTarget struct {
	URL string `json:"url"`
}

// BeamStarted is the data of beam.started.success.
type BeamStarted struct {
	BeamRef
	BeamOptions
	StartDelay *float64     `json:"start_delay"`
	MeetingURL string       `json:"meeting_url"`
	RTMP       []RTMPTarget `json:"rtmp"`
}

// BeamStopped is the data of beam.stopped.success; Reason says who or what
// stopped it ("client request", "max duration reached", ...).
type BeamStopped struct {
	BeamRef
	BeamOptions
	Duration   *float64     `json:"duration"`
	MeetingURL string       `json:"meeting_url"`
	RTMP       []RTMPTarget `json:"rtmp"`
	Reason     string       `json:"reason"`
}

// BeamRecording is the data of beam.recording.success. Location is the
// deprecated name of the presigned link (an HTTPS URL, not a path).
type BeamRecording struct {
	BeamRef
	ChatRecording
	CreatedAt             Time         `json:"created_at"`
	StartedAt             Time         `json:"started_at"`
	StoppedAt             Time         `json:"stopped_at"`
	Duration              *float64     `json:"duration"`
	Size                  Int          `json:"size"`
	RecordingID           string       `json:"recording_id"`
	RecordingPath         string       `json:"recording_path"`
	RecordingPresignedURL string       `json:"recording_presigned_url"`
	Location              string       `json:"location"`
	MeetingURL            string       `json:"meeting_url"`
	RTMP                  []RTMPTarget `json:"rtmp"`
}

// Path is the storage path: recording_path, else location (docs/data-model.md).
func (r *BeamRecording) Path() string { return cmp.Or(r.RecordingPath, r.Location) }

// DownloadURL is the presigned link: recording_presigned_url, else location.
func (r *BeamRecording) DownloadURL() string { return cmp.Or(r.RecordingPresignedURL, r.Location) }

// BeamFailed is the data of beam.failure. It cannot say whether the
// streaming or the recording failed; Records says whether there was one.
type BeamFailed struct {
	BeamRef
	BeamOptions
	BeamError
	Duration   *float64     `json:"duration"`
	MeetingURL string       `json:"meeting_url"`
	RTMP       []RTMPTarget `json:"rtmp"`
}

// HLSStarted is the data of hls.started.success; URL is the live playlist.
type HLSStarted struct {
	BeamRef
	HLSOptions
	MeetingURL string   `json:"meeting_url"`
	StartDelay *float64 `json:"start_delay"`
	URL        string   `json:"url"`
	StartedAt  Time     `json:"started_at"`
}

// HLSStopped is the data of hls.stopped.success.
type HLSStopped struct {
	BeamRef
	HLSOptions
	MeetingURL               string   `json:"meeting_url"`
	URL                      string   `json:"url"`
	Duration                 *float64 `json:"duration"`
	StartedAt                Time     `json:"started_at"`
	StoppedAt                Time     `json:"stopped_at"`
	Reason                   string   `json:"reason"`
	LiveTranscriptionEnabled *bool    `json:"live_transcription_enabled"`
}

// RecordingFile is one layer of an HLS recording; layer "0" is the best.
// Location and PresignedURL are the deprecated names of RecordingPath and
// RecordingPresignedURL.
type RecordingFile struct {
	Layer                 string `json:"layer"`
	AssetID               string `json:"asset_id"`
	RecordingPath         string `json:"recording_path"`
	RecordingPresignedURL string `json:"recording_presigned_url"`
	Location              string `json:"location"`
	PresignedURL          string `json:"presigned_url"`
	Size                  Int    `json:"size"`
	Width                 Int    `json:"width"`
	Height                Int    `json:"height"`
}

// Path is the storage path: recording_path, else location.
func (f RecordingFile) Path() string { return cmp.Or(f.RecordingPath, f.Location) }

// DownloadURL is the presigned link: recording_presigned_url, else
// presigned_url.
func (f RecordingFile) DownloadURL() string { return cmp.Or(f.RecordingPresignedURL, f.PresignedURL) }

// Thumbnail is one thumbnail of an HLS recording; Offset is in seconds.
type Thumbnail struct {
	Width    int64  `json:"width"`
	Height   int64  `json:"height"`
	Offset   int64  `json:"offset"`
	Location string `json:"location"`
	URL      string `json:"url"`
}

// HLSAssets is what an HLS recording produced: one file per layer, a VOD
// playlist, thumbnails, the chat. hls.recording.success carries it;
// hls.failure may carry what was made before the failure.
// VODPlaylistLocation is the deprecated name of HLSVODRecordingPresignedURL.
type HLSAssets struct {
	ChatRecording
	RecordingID                 string          `json:"recording_id"`
	RecordingCreatedAt          Time            `json:"recording_created_at"`
	SingleFiles                 []RecordingFile `json:"recording_single_files"`
	HLSVODRecordingPath         string          `json:"hls_vod_recording_path"`
	HLSVODRecordingPresignedURL string          `json:"hls_vod_recording_presigned_url"`
	HLSVODRecordingSize         Int             `json:"hls_vod_recording_size"`
	VODPlaylistLocation         string          `json:"recording_hls_vod_playlist_location"`
	Thumbnails                  []Thumbnail     `json:"recording_thumbnails"`
}

// PlaylistURL is the VOD playlist link: hls_vod_recording_presigned_url,
// else recording_hls_vod_playlist_location.
func (a *HLSAssets) PlaylistURL() string {
	return cmp.Or(a.HLSVODRecordingPresignedURL, a.VODPlaylistLocation)
}

// PlaylistPath is the storage path of the VOD playlist.
func (a *HLSAssets) PlaylistPath() string { return a.HLSVODRecordingPath }

// HLSFailed is the data of hls.failure. Like beam.failure it cannot say
// whether streaming or recording failed; Records says whether there was a
// recording.
type HLSFailed struct {
	BeamRef
	HLSOptions
	BeamError
	HLSAssets
	MeetingURL string   `json:"meeting_url"`
	Duration   *float64 `json:"duration"`
}

// HLSRecording is the data of hls.recording.success. CreatedAt is the
// deprecated name of RecordingCreatedAt.
type HLSRecording struct {
	BeamRef
	HLSOptions
	HLSAssets
	MeetingURL string   `json:"meeting_url"`
	Duration   *float64 `json:"duration"`
	CreatedAt  Time     `json:"created_at"`
	StartedAt  Time     `json:"started_at"`
	StoppedAt  Time     `json:"stopped_at"`
}

// Created is when the recording was made: recording_created_at, else
// created_at; zero when neither (the caller falls back to the event time).
func (r *HLSRecording) Created() Time {
	if !r.RecordingCreatedAt.IsZero() {
		return r.RecordingCreatedAt
	}
	return r.CreatedAt
}

// RecordedMedia is the file of a track or stream recording. 100ms
// documents Size (bytes) and Duration (seconds) as strings and sends
// numbers in its samples; Int reads both.
type RecordedMedia struct {
	RecordingID           string `json:"recording_id"`
	RecordingPath         string `json:"recording_path"`
	RecordingPresignedURL string `json:"recording_presigned_url"`
	Size                  Int    `json:"size"`
	Duration              Int    `json:"duration"`
}

// TrackRef identifies one recorded track (audio or video) of a peer.
type TrackRef struct {
	SessionRef
	PeerID    string `json:"peer_id"`
	StreamID  string `json:"stream_id"`
	TrackID   string `json:"track_id"`
	TrackType string `json:"track_type"` // "audio" or "video"
}

// TrackRecordingStarted is the data of track.recording.started.success.
type TrackRecordingStarted struct{ TrackRef }

// TrackRecording is the data of track.recording.success.
type TrackRecording struct {
	TrackRef
	RecordedMedia
}

// TrackRecordingFailed is the data of track.recording.failure.
type TrackRecordingFailed struct {
	TrackRef
	RecordedMedia
	ErrorMessage string `json:"error_message"`
}

// StreamRef identifies one recorded stream (a peer's audio and video
// together) of a peer.
type StreamRef struct {
	SessionRef
	PeerID   string `json:"peer_id"`
	UserID   string `json:"user_id"`
	StreamID string `json:"stream_id"`
	// StreamType is "regular", "screen" or "audio": the documentation names
	// it stream_type, its samples send it as type (StreamTypeOrType reads
	// both).
	StreamType string `json:"stream_type"`
	Type       string `json:"type"`
}

// StreamTypeOrType is stream_type, else type.
func (s StreamRef) StreamTypeOrType() string { return cmp.Or(s.StreamType, s.Type) }

// StreamRecording is the data of stream.recording.success.
type StreamRecording struct {
	StreamRef
	RecordedMedia
}

// StreamRecordingFailed is the data of stream.recording.failure.
type StreamRecordingFailed struct {
	StreamRef
	RecordedMedia
	ErrorMessage string `json:"error_message"`
}
