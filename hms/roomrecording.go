package hms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// RoomRecordingParams are the options of StartRoomRecording.
type RoomRecordingParams struct {
	// Transcription asks for a post-call transcript in the three output
	// modes (txt, srt, json). Without it the request carries no
	// transcription object, and the room's template decides
	// (guide--enable-transcription-and-summary.md: "If no input is given,
	// the API will pick up the transcription configuration from the
	// template policy").
	Transcription bool
	// Summary asks for the AI summary of the transcript too. With
	// Transcription it is always sent (summary.enabled false when not
	// asked), so a template's summary never comes unasked; without
	// Transcription it is not sent at all, the summary being part of the
	// transcription object.
	Summary bool
}

// RoomRecording is the recording job 100ms started: its id, which
// beam.recording.success and the transcription events carry as
// recording_id, and its status ("starting" at first, then "running",
// "stopping", ...; recordings--overview.md).
type RoomRecording struct {
	ID, Status string
}

type recordingJobJSON struct {
	ID        string `json:"id"`
	RoomID    string `json:"room_id"`
	SessionID string `json:"session_id"`
	Status    string `json:"status"`
}

// StartRoomRecording starts a composite (browser) recording of a room's
// active session (POST /recordings/room/{room_id}/start,
// recordings--start-recording-for-room.md), with a transcript and summary
// per p. It answers at once with the job "starting"; beam.started.success
// follows when it runs, and the files come by webhook after the stop.
//
// The page documents no error answer, so these are read as follows. A 409,
// or a 400 whose message says "already", is ErrAlreadyRecording: one
// recording is running already, and that is what a caller asked for. A
// retry after a 5xx whose start did happen meets that same answer, so the
// retries of Client never start two. A 404 (a room with no active session,
// or no such room) is ErrNotActive.
func (c *Client) StartRoomRecording(ctx context.Context, roomID string, p RoomRecordingParams) (RoomRecording, error) {
	seg, err := pathSegment("room id", roomID)
	if err != nil {
		return RoomRecording{}, fmt.Errorf("start recording: %w", err)
	}
	type summary struct {
		Enabled bool `json:"enabled"`
	}
	type transcription struct {
		Enabled     bool     `json:"enabled"`
		OutputModes []string `json:"output_modes"`
		Summary     summary  `json:"summary"`
	}
	in := struct {
		Transcription *transcription `json:"transcription,omitempty"`
	}{}
	if p.Transcription {
		in.Transcription = &transcription{Enabled: true, OutputModes: []string{"txt", "srt", "json"}, Summary: summary{Enabled: p.Summary}}
	}
	var out recordingJobJSON
	if err := c.do(ctx, http.MethodPost, "/recordings/room/"+seg+"/start", in, &out); err != nil {
		switch {
		case alreadyRecording(err):
			return RoomRecording{}, fmt.Errorf("start recording of room %s: %w: %w", roomID, ErrAlreadyRecording, err)
		case errors.Is(err, ErrNotFound):
			return RoomRecording{}, fmt.Errorf("start recording of room %s: %w: %w", roomID, ErrNotActive, err)
		}
		return RoomRecording{}, fmt.Errorf("start recording of room %s: %w", roomID, err)
	}
	if out.ID == "" {
		return RoomRecording{}, fmt.Errorf("start recording of room %s: %w: answer has no recording id", roomID, ErrUnavailable)
	}
	return RoomRecording{ID: out.ID, Status: out.Status}, nil
}

// alreadyRecording says whether 100ms refused a start because a recording
// runs. 409 is the status for a state conflict; the message check covers a
// 400 that says so in words, since the page names neither.
func alreadyRecording(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.Status == http.StatusConflict ||
		(apiErr.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(apiErr.Message), "already"))
}

// StopRoomRecording stops every recording running in a room (POST
// /recordings/room/{room_id}/stop, recordings--stop-recording-for-room.md).
// 100ms answers with the jobs "stopping"; the files follow by webhook
// (beam.stopped.success, then beam.recording.success, then the
// transcription events).
//
// Nothing running is ErrNotActive, which a caller may take as done: the
// page documents no error answer, so both a 404 (no running recording, no
// active session, or no such room) and a 200 that lists no stopped
// recording are read as that.
func (c *Client) StopRoomRecording(ctx context.Context, roomID string) error {
	seg, err := pathSegment("room id", roomID)
	if err != nil {
		return fmt.Errorf("stop recording: %w", err)
	}
	var out struct {
		Data []recordingJobJSON `json:"data"`
	}
	// The page's request has no body.
	if err := c.do(ctx, http.MethodPost, "/recordings/room/"+seg+"/stop", nil, &out); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("stop recording of room %s: %w: %w", roomID, ErrNotActive, err)
		}
		return fmt.Errorf("stop recording of room %s: %w", roomID, err)
	}
	// "data": [] says nothing was stopped; an answer without "data" says
	// nothing either way and is taken as a stop.
	if out.Data != nil && len(out.Data) == 0 {
		return fmt.Errorf("stop recording of room %s: %w: 100ms stopped no recording", roomID, ErrNotActive)
	}
	return nil
}
