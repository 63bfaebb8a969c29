package hms

import (
	"errors"
	"testing"
)

// docRecordingStarted is the sample answer of
// recordings--start-recording-for-room.md.
const docRecordingStarted = `{"id":"<recording-id>","room_id":"<room-id>","session_id":"<session-id>","status":"starting",
	"created_at":"2023-03-30T05:14:04.007990308Z","started_at":null,"updated_at":"2023-03-30T05:14:04.007990308Z","stopped_at":null,
	"meeting_url":"<meeting-url>","destination":"<destination_name>","started_by":"","stopped_by":"",
	"asset_types":["room-composite","chat","transcript","summary"],"recording_assets":null}`

// docRecordingStopped is the sample answer of
// recordings--stop-recording-for-room.md.
const docRecordingStopped = `{"limit":1,"data":[{"id":"<recording-id>","room_id":"<room-id>","session_id":"<session-id>","status":"stopping",
	"created_at":"2023-03-30T06:53:03.67Z","started_at":"2023-03-30T06:53:06.787Z","updated_at":"2023-03-30T06:53:06.833Z","stopped_at":null,
	"meeting_url":"<meeting-url>","started_by":"","stopped_by":"","asset_types":["room-composite","chat","transcript","summary"],
	"recording_assets":null}],"last":"<recording-id>"}`

func TestStartRoomRecording(t *testing.T) {
	tests := []struct {
		name string
		p    RoomRecordingParams
		body string
	}{
		{"transcript and summary", RoomRecordingParams{Transcription: true, Summary: true},
			`{"transcription":{"enabled":true,"output_modes":["txt","srt","json"],"summary":{"enabled":true}}}`},
		{"transcript only", RoomRecordingParams{Transcription: true},
			`{"transcription":{"enabled":true,"output_modes":["txt","srt","json"],"summary":{"enabled":false}}}`},
		// The template decides; a summary needs a transcript.
		{"no transcript", RoomRecordingParams{}, `{}`},
		{"summary without transcript", RoomRecordingParams{Summary: true}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t, fakeResponse{status: 200, body: docRecordingStarted})
			c := newTestClient(t, f)
			got, err := c.StartRoomRecording(t.Context(), "room 1", tt.p)
			if err != nil {
				t.Fatal(err)
			}
			r := oneRequest(t, f, "POST", "/v2/recordings/room/room%201/start")
			eqQuery(t, r.query, "")
			eq(t, "Content-Type", r.header.Get("Content-Type"), "application/json")
			jsonEqual(t, r.body, tt.body)
			eq(t, "answer", got, RoomRecording{ID: "<recording-id>", Status: "starting"})
		})
	}
}

// TestStartRoomRecordingErrors pins the sentinels hmsRecording decides on:
// one running already (ErrAlreadyRecording, refused, never retried), no
// live session (ErrNotActive), 100ms down (ErrUnavailable).
func TestStartRoomRecordingErrors(t *testing.T) {
	tests := []struct {
		name              string
		script            []fakeResponse
		requests          int
		want              error
		already, inactive bool
	}{
		{"409", []fakeResponse{{status: 409, body: `{"code":409,"message":"conflict"}`}}, 1, ErrRefused, true, false},
		{"400 already running", []fakeResponse{{status: 400, body: `{"code":400,"message":"Recording Already Running"}`}}, 1, ErrRefused, true, false},
		{"400 other", []fakeResponse{{status: 400, body: `{"code":400,"message":"meeting_url is required"}`}}, 1, ErrRefused, false, false},
		{"404", []fakeResponse{{status: 404, body: `{"code":404,"message":"room is not active"}`}}, 1, ErrRefused, false, true},
		{"503", []fakeResponse{{status: 503, body: `{}`}}, 3, ErrUnavailable, false, false},
		// A start that happened though its answer was lost: the retry
		// meets it, and the caller learns one runs.
		{"503 then 409", []fakeResponse{{status: 503, body: `{}`}, {status: 409, body: `{}`}}, 2, ErrRefused, true, false},
		// HIPAA workspace without a bucket (hipaa--HIPAA-workspace.md):
		// a 500, so retried and unavailable like any other.
		{"hipaa", []fakeResponse{{status: 500, body: `{"code":500,"message":"hipaa enabled: recording config is not provided"}`}}, 3, ErrUnavailable, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t, tt.script...)
			c := newTestClient(t, f)
			_, err := c.StartRoomRecording(t.Context(), "r", RoomRecordingParams{Transcription: true})
			eq(t, "requests", len(f.seen()), tt.requests)
			if !errors.Is(err, tt.want) || errors.Is(err, ErrAlreadyRecording) != tt.already || errors.Is(err, ErrNotActive) != tt.inactive {
				t.Errorf("err = %v, want %v, already %t, not active %t", err, tt.want, tt.already, tt.inactive)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Errorf("err = %v, not an *APIError", err)
			}
		})
	}
	f := newFakeHMS(t, fakeResponse{status: 200, body: `{"status":"starting"}`})
	c := newTestClient(t, f)
	if _, err := c.StartRoomRecording(t.Context(), "r", RoomRecordingParams{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("answer without id: %v, want ErrUnavailable", err)
	}
}

func TestStopRoomRecording(t *testing.T) {
	f := newFakeHMS(t, fakeResponse{status: 200, body: docRecordingStopped})
	c := newTestClient(t, f)
	if err := c.StopRoomRecording(t.Context(), "room/1"); err != nil {
		t.Fatal(err)
	}
	r := oneRequest(t, f, "POST", "/v2/recordings/room/room%2F1/stop")
	eqQuery(t, r.query, "")
	eq(t, "body", string(r.body), "")

	tests := []struct {
		name           string
		resp           fakeResponse
		requests       int
		want           error // nil: no error
		inactive       bool
		wantsAPIStatus bool
	}{
		{"nothing stopped", fakeResponse{status: 200, body: `{"limit":10,"data":[],"last":""}`}, 1, ErrNotActive, true, false},
		{"no data key", fakeResponse{status: 200, body: `{}`}, 1, nil, false, false},
		{"404", fakeResponse{status: 404, body: `{"code":404,"message":"no recording running"}`}, 1, ErrRefused, true, true},
		{"400", fakeResponse{status: 400, body: `{"code":400,"message":"bad"}`}, 1, ErrRefused, false, true},
		{"502", fakeResponse{status: 502, body: `{}`}, 3, ErrUnavailable, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeHMS(t, tt.resp)
			c := newTestClient(t, f)
			err := c.StopRoomRecording(t.Context(), "r")
			eq(t, "requests", len(f.seen()), tt.requests)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || errors.Is(err, ErrNotActive) != tt.inactive {
				t.Errorf("err = %v, want %v, not active %t", err, tt.want, tt.inactive)
			}
			var apiErr *APIError
			if errors.As(err, &apiErr) != tt.wantsAPIStatus {
				t.Errorf("err = %v: *APIError %t, want %t", err, !tt.wantsAPIStatus, tt.wantsAPIStatus)
			}
		})
	}
}

func TestRoomRecordingRefusesBadIDsBeforeSending(t *testing.T) {
	f := newFakeHMS(t)
	c := newTestClient(t, f)
	for _, id := range []string{"", ".", ".."} {
		if _, err := c.StartRoomRecording(t.Context(), id, RoomRecordingParams{}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("start %q: %v", id, err)
		}
		if err := c.StopRoomRecording(t.Context(), id); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("stop %q: %v", id, err)
		}
	}
	eq(t, "requests", len(f.seen()), 0)
}
