package hms

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const masked = "************************"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// sessionStarted is the session_started_at of every sample that has one;
// its nanoseconds must survive.
var sessionStarted = ts("2021-11-30T12:58:49.97291247Z")

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func eqTime(t *testing.T, what string, got Time, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got.Time, want)
	}
}

func eqPtr[T comparable](t *testing.T, what string, got *T, want T) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %v", what, want)
		return
	}
	eq(t, what, *got, want)
}

// TestParseEventFixtures decodes every sample of both reference documents
// and checks its typed fields.
func TestParseEventFixtures(t *testing.T) {
	tests := []struct {
		file      string
		version   string
		typ       EventType
		timestamp string
		check     func(t *testing.T, ev *Event)
	}{
		{"session.open.success.json", "2.0", SessionOpenSuccess, "2021-11-30T12:58:49Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*SessionOpen)
			eq(t, "room_name", d.RoomName, "**********")
			eqTime(t, "session_started_at", d.SessionStartedAt, sessionStarted)
			eq(t, "nanoseconds", d.SessionStartedAt.Nanosecond(), 972912470)
		}},
		{"session.close.success.json", "2.0", SessionCloseSuccess, "2021-11-30T12:58:49Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*SessionClose)
			eq(t, "session_id", d.SessionID, masked)
			eqTime(t, "session_started_at", d.SessionStartedAt, sessionStarted)
		}},
		{"peer.join.success.json", "2.0", PeerJoinSuccess, "2021-11-30T12:58:49Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerJoin)
			eq(t, "peer_id", d.PeerID, "********-****-****-****-***********")
			eq(t, "role", d.Role, "********")
			eq(t, "user_name", d.UserName, "********")
			eq(t, "user_data", d.UserData, "")
			eqTime(t, "joined_at", d.JoinedAt, sessionStarted)
			eqTime(t, "session_started_at", d.SessionStartedAt, sessionStarted)
		}},
		{"peer.join.success.doc-example.json", "2.0", PeerJoinSuccess, "2021-08-08T07:04:15Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerJoin)
			eq(t, "event id", ev.ID, "6c75de35-b778-4fb0-88ae-114c28dc285f")
			eq(t, "account_id", ev.AccountID, "60b8e13a6eb86d8101b57354")
			eq(t, "app_id", ev.AppID, "")
			eq(t, "peer_id", d.PeerID, "83b869e1-9a4b-4037-84b2-913cf76e4392")
			eq(t, "role", d.Role, "host")
			eq(t, "room_name", d.RoomName, "test room")
			eq(t, "template_id", d.TemplateID, "66112497abcd52312556c4gg")
			eq(t, "user_id", d.UserID, "user.001")
			eq(t, "user_name", d.UserName, "test user")
			eqTime(t, "joined_at", d.JoinedAt, ts("2021-08-08T07:04:15.001380432Z"))
			eq(t, "nanoseconds", d.JoinedAt.Nanosecond(), 1380432)
			eq(t, "session_started_at absent", d.SessionStartedAt.IsZero(), true)
			eq(t, "lifted room", ev.RoomID, "60b8e13a6eb86d8101b57354")
			eq(t, "lifted session", ev.SessionID, "610f81ee870dde099a249948")
		}},
		{"peer.join.success.v1-doc-example.json", "2.0", PeerJoinSuccess, "2021-08-08T07:04:15Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerJoin)
			eq(t, "user_id", d.UserID, "test-user")
			eq(t, "session_id", d.SessionID, "610f81ee870dde099a249948")
			eqTime(t, "joined_at", d.JoinedAt, ts("2021-08-08T07:04:15.001380432Z"))
			eq(t, "template absent", ev.TemplateID, "")
		}},
		{"peer.leave.success.json", "2.0", PeerLeaveSuccess, "2021-11-30T12:58:58Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerLeave)
			eqPtr(t, "duration", d.Duration, 40)
			eqTime(t, "left_at", d.LeftAt, ts("2021-11-30T12:58:58.500451704Z"))
			eq(t, "reason absent", d.Reason, "")
		}},
		{"peer.join.failure.json", "2.0", PeerJoinFailure, "2021-11-25T09:10:35Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerJoinFailed)
			eq(t, "error_message", d.ErrorMessage, "role not allowed")
			eq(t, "joined_at 0001 is absent", d.JoinedAt.IsZero(), true)
			eq(t, "no session", ev.SessionID, "")
			eq(t, "room", ev.RoomID, masked)
		}},
		{"peer.leave.failure.json", "2.0", PeerLeaveFailure, "2021-11-30T12:55:51Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerLeaveFailed)
			eq(t, "error_message", d.ErrorMessage, "Peer not joined")
			eq(t, "left_at 0001 is absent", d.LeftAt.IsZero(), true)
			eqPtr(t, "duration", d.Duration, 0)
		}},
		{"room.end.success.json", "2.0", RoomEndSuccess, "2021-11-25T09:10:35Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*RoomEnd)
			eq(t, "lock_room", d.LockRoom, false)
			eq(t, "reason", d.Reason, "****************")
			eq(t, "source", d.Source, "peer")
			eq(t, "joined_at absent", d.JoinedAt.IsZero(), true)
			eqTime(t, "session_started_at", d.SessionStartedAt, sessionStarted)
		}},
		{"role.change.success.json", "2.0", RoleChangeSuccess, "2021-11-30T12:58:49Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*RoleChange)
			eq(t, "role", d.Role, "********")
			eqTime(t, "joined_at", d.JoinedAt, sessionStarted)
			eq(t, "app_id", ev.AppID, masked)
		}},
		{"recording.success.json", "1.0", RecordingSuccess, "2021-11-30T20:12:35Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*Recording)
			eq(t, "URL", d.URL, "https://<file-access-url>?<signature>")
			eq(t, "location", d.Location, "s3://<file-bucket-address>.mp4")
			eqPtr(t, "duration", d.Duration, 351)
			eqPtr(t, "size", d.Size, 13933649)
			eq(t, "room_name", d.RoomName, "TestRoom1")
		}},
		{"recording.failed.json", "1.0", RecordingFailed, "2021-11-23T09:04:25Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*RecordingFailure)
			eq(t, "error", d.Error, "Upload Failure")
			eq(t, "room_name", d.RoomName, "TestRoom1")
		}},
		{"beam.started.success.json", "2.0", BeamStartedSuccess, "2021-11-30T12:58:46Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*BeamStarted)
			eq(t, "beam_id", d.BeamID, masked)
			eq(t, "job_id", d.JobID, masked)
			eqPtr(t, "start_delay", d.StartDelay, 12)
			eq(t, "state_name", d.StateName, "Started")
			eqTime(t, "state_timestamp", d.StateTimestamp, ts("2021-11-30T12:58:46.385555859Z"))
			eqTime(t, "metadata_timestamp", d.MetadataTimestamp, ts("2021-11-30T12:58:46.400759043Z"))
		}},
		{"beam.stopped.success.json", "2.0", BeamStoppedSuccess, "2021-11-30T12:59:57Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*BeamStopped)
			eq(t, "state_name", d.StateName, "Stopped")
			eqPtr(t, "duration", d.Duration, 56)
		}},
		{"beam.recording.success.json", "2.0", BeamRecordingSuccess, "2021-11-30T12:59:57Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*BeamRecording)
			eq(t, "location", d.Location, "https://<file access URL>")
			eqPtr(t, "duration", d.Duration, 79)
			eqTime(t, "created_at", d.CreatedAt, ts("2021-11-30T12:59:57.672493658Z"))
			eqTime(t, "started_at", d.StartedAt, ts("2021-11-30T12:58:34.051Z"))
			eqTime(t, "stopped_at", d.StoppedAt, ts("2021-11-30T12:59:56.778Z"))
		}},
		{"beam.failure.json", "2.0", BeamFailure, "2021-11-30T20:36:55Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*BeamFailed)
			eqPtr(t, "error_code", d.ErrorCode, 1)
			eq(t, "error_type", d.ErrorType, "BeamFailed")
			eq(t, "error_message prefix", strings.HasPrefix(d.ErrorMessage, "[tcp @ 0x55f6cc5f5780] Failed to resolve"), true)
			eq(t, "state_message", d.StateMessage, d.ErrorMessage)
			eq(t, "state_name", d.StateName, "Failed")
			eq(t, "meeting_url", d.MeetingURL, "https://app.100ms.live/preview/rpe-pwl-akt?token=beam_recording")
			eq(t, "rtmp", len(d.RTMP), 1)
			if len(d.RTMP) == 1 {
				eq(t, "rtmp[0].url", d.RTMP[0].URL, "http://test.com")
			}
			eqPtr(t, "duration", d.Duration, 56)
		}},
		{"hls.started.success.json", "2.0", HLSStartedSuccess, "2021-11-30T12:58:46Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*HLSStarted)
			eq(t, "url", d.URL, "https://100ms-live.m3u8")
			eq(t, "state_name", d.StateName, "HLSStarted")
			eqPtr(t, "start_delay", d.StartDelay, 12)
			eqTime(t, "started_at", d.StartedAt, ts("2021-11-30T12:58:46.400759043Z"))
			eq(t, "meeting_url", d.MeetingURL, "https://app.100ms.live/preview/rpe-pwl-akt?token=beam_recording")
		}},
		{"hls.stopped.success.json", "2.0", HLSStoppedSuccess, "2021-11-30T12:59:57Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*HLSStopped)
			eq(t, "state_name", d.StateName, "HLSStopped")
			eqPtr(t, "duration", d.Duration, 56)
			eqTime(t, "stopped_at", d.StoppedAt, ts("2021-11-30T12:59:57.797972469Z"))
			eq(t, "url absent", d.URL, "")
		}},
		{"hls.failure.json", "2.0", HLSFailure, "2021-11-30T20:36:55Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*HLSFailed)
			eqPtr(t, "error_code", d.ErrorCode, 1)
			eq(t, "error_type", d.ErrorType, "BeamFailed")
			eq(t, "state_name", d.StateName, "HLSFailed")
			eqTime(t, "state_timestamp", d.StateTimestamp, ts("2021-11-30T20:36:55.799192444Z"))
		}},
		{"hls.recording.success.json", "2.0", HLSRecordingSuccess, "2021-11-30T20:36:55Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*HLSRecording)
			eq(t, "recording_hls_vod_playlist_location", d.VODPlaylistLocation, "https://<hls-vod-access-url>?<signature>")
			eq(t, "layers", len(d.SingleFiles), 4)
			for i, f := range d.SingleFiles {
				eq(t, "layer", f.Layer, string(rune('0'+i)))
				eq(t, "layer location", strings.HasPrefix(f.Location, "s3://<file-"), true)
				eq(t, "layer presigned_url", strings.HasPrefix(f.PresignedURL, "https://<file-"), true)
			}
			want := Thumbnail{Width: 1280, Height: 720, Offset: 60, Location: "s3://<thumbnail-file-bucket-address>.png", URL: "https://<thumbnail-access-url>?<signature3>"}
			if !slices.Equal(d.Thumbnails, []Thumbnail{want}) {
				t.Errorf("recording_thumbnails = %+v, want [%+v]", d.Thumbnails, want)
			}
			eqPtr(t, "duration", d.Duration, 56)
			eqTime(t, "created_at", d.CreatedAt, ts("2021-11-30T12:59:57.672493658Z"))
		}},
		{"variants/recording.success.v1-session.json", "1.0", RecordingSuccess, "2021-11-30T20:12:35Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*Recording)
			eq(t, "session (v1 name)", d.Session, "5f9edc6bd238215aec7700df")
			eq(t, "session_id filled", d.SessionID, "5f9edc6bd238215aec7700df")
			eq(t, "lifted session", ev.SessionID, "5f9edc6bd238215aec7700df")
			eq(t, "URL", d.URL, "https://s3-location/bucket/ac.mp4")
			eqPtr(t, "size", d.Size, 10024)
		}},
		{"variants/peer.leave.success.v1.json", "1.0", PeerLeaveSuccess, "2020-11-11T17:32:17Z", func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerLeave)
			eqPtr(t, "duration", d.Duration, 36000)
			eqTime(t, "left_at", d.LeftAt, ts("2020-11-11T17:32:17Z"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := ParseEvent(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "version", ev.Version, tt.version)
			eq(t, "type", ev.Type, tt.typ)
			if !ev.Timestamp.Equal(ts(tt.timestamp)) {
				t.Errorf("timestamp = %v, want %s", ev.Timestamp, tt.timestamp)
			}
			if ev.ID == "" || ev.AccountID == "" {
				t.Errorf("id %q, account_id %q: want both", ev.ID, ev.AccountID)
			}
			if len(ev.DataProblems) != 0 {
				t.Errorf("DataProblems = %q, want none", ev.DataProblems)
			}
			if ev.Data == nil || len(ev.RawData) == 0 {
				t.Fatalf("Data = %v, RawData %d bytes: want both", ev.Data, len(ev.RawData))
			}
			if ev.RoomID == "" {
				t.Error("RoomID not lifted from data")
			}
			tt.check(t, ev)
		})
	}
}

// TestParseEventFixturesCoverEveryType makes sure no event type lacks its
// masked sample and its distinct-id variant.
func TestParseEventFixturesCoverEveryType(t *testing.T) {
	for _, typ := range allEventTypes {
		for _, name := range []string{string(typ) + ".json", "distinct/" + string(typ) + ".json"} {
			ev, err := ParseEvent(readFixture(t, name))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if ev.Type != typ || ev.Data == nil || len(ev.DataProblems) > 0 {
				t.Errorf("%s: type %s, data %T, problems %q", name, ev.Type, ev.Data, ev.DataProblems)
			}
		}
	}
}

// TestDistinctFixtures checks what docs/webhook.md, Test fixtures asks of the variants: distinct
// event ids, no masked id left, and otherwise the sample's fields.
func TestDistinctFixtures(t *testing.T) {
	seen := map[string]string{}
	for _, typ := range allEventTypes {
		name := "distinct/" + string(typ) + ".json"
		raw := readFixture(t, name)
		if strings.Contains(string(raw), "****") {
			t.Errorf("%s still has a masked value", name)
		}
		ev, err := ParseEvent(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if prev, dup := seen[ev.ID]; dup {
			t.Errorf("%s and %s share id %s", name, prev, ev.ID)
		}
		seen[ev.ID] = name
		orig, _ := ParseEvent(readFixture(t, string(typ)+".json"))
		if !ev.Timestamp.Equal(orig.Timestamp) || ev.Version != orig.Version {
			t.Errorf("%s: timestamp/version differ from the sample", name)
		}
		if ev.RoomID != "6564a0a5a2ad2e4f1e0d0001" {
			t.Errorf("%s: room %q", name, ev.RoomID)
		}
	}
}

var allEventTypes = []EventType{
	SessionOpenSuccess, SessionCloseSuccess, PeerJoinSuccess, PeerLeaveSuccess,
	PeerJoinFailure, PeerLeaveFailure, RoomEndSuccess, RoleChangeSuccess,
	RecordingSuccess, RecordingFailed, BeamStartedSuccess, BeamStoppedSuccess,
	BeamRecordingSuccess, BeamFailure, HLSStartedSuccess, HLSStoppedSuccess,
	HLSRecordingSuccess, HLSFailure,
}

func TestParseEventEnvelopeErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `{"id":`, "invalid JSON"},
		{"array", `[1,2]`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"empty", ``, "invalid JSON"},
		{"missing id", `{"type":"peer.join.success","timestamp":"2021-11-30T12:58:49Z","data":{}}`, "missing id"},
		{"empty id", `{"id":"","type":"peer.join.success","timestamp":"2021-11-30T12:58:49Z"}`, "missing id"},
		{"missing type", `{"id":"e1","timestamp":"2021-11-30T12:58:49Z","data":{}}`, "missing type"},
		{"missing timestamp", `{"id":"e1","type":"peer.join.success","data":{}}`, "missing timestamp"},
		{"null timestamp", `{"id":"e1","type":"peer.join.success","timestamp":null}`, "missing timestamp"},
		{"bad timestamp", `{"id":"e1","type":"peer.join.success","timestamp":"yesterday"}`, "timestamp \"yesterday\""},
		{"zero timestamp", `{"id":"e1","type":"peer.join.success","timestamp":"0001-01-01T00:00:00Z"}`, "not an RFC 3339 time"},
		{"numeric id", `{"id":7,"type":"peer.join.success","timestamp":"2021-11-30T12:58:49Z"}`, `field "id" must be a string`},
		{"numeric timestamp", `{"id":"e1","type":"peer.join.success","timestamp":1638277129}`, `field "timestamp" must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseEvent = %+v, want error", ev)
			}
			if !errors.Is(err, ErrMalformedEvent) {
				t.Errorf("error %v does not wrap ErrMalformedEvent", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestParseEventLenientData(t *testing.T) {
	const env = `{"version":"2.0","id":"e1","timestamp":"2021-11-30T12:58:49.5Z","type":%q,"data":%s}`
	tests := []struct {
		name     string
		typ      EventType
		data     string
		problems []string // substrings, any order
		check    func(t *testing.T, ev *Event)
	}{
		{"unknown type keeps raw data", "whiteboard.opened", `{"room_id":"r1","session_id":"s1","new":1}`, nil, func(t *testing.T, ev *Event) {
			eq(t, "Data nil", ev.Data == nil, true)
			eq(t, "room", ev.RoomID, "r1")
			eq(t, "session", ev.SessionID, "s1")
			eq(t, "raw", string(ev.RawData), `{"room_id":"r1","session_id":"s1","new":1}`)
		}},
		{"unknown type without data", "whiteboard.opened", `null`, nil, func(t *testing.T, ev *Event) {
			eq(t, "Data nil", ev.Data == nil, true)
		}},
		{"unknown fields ignored", PeerJoinSuccess, `{"peer_id":"p1","room_id":"r1","brand_new":{"x":[1]}}`, nil, func(t *testing.T, ev *Event) {
			eq(t, "peer", ev.Data.(*PeerJoin).PeerID, "p1")
		}},
		{"wrong-typed duration", PeerLeaveSuccess, `{"peer_id":"p1","room_id":"r1","session_id":"s1","duration":"forty"}`, []string{`"duration"`}, func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerLeave)
			eq(t, "duration absent", d.Duration == nil, true)
			eq(t, "peer kept", d.PeerID, "p1")
			eq(t, "session kept", ev.SessionID, "s1")
		}},
		{"wrong-typed lock_room", RoomEndSuccess, `{"room_id":"r1","lock_room":"yes","reason":"done"}`, []string{`"lock_room"`}, func(t *testing.T, ev *Event) {
			d := ev.Data.(*RoomEnd)
			eq(t, "lock false", d.LockRoom, false)
			eq(t, "reason kept", d.Reason, "done")
		}},
		{"unparsable data timestamp", PeerJoinSuccess, `{"peer_id":"p1","joined_at":"soon","session_started_at":12}`, []string{`"joined_at"`, `"session_started_at"`}, func(t *testing.T, ev *Event) {
			d := ev.Data.(*PeerJoin)
			eq(t, "joined_at absent", d.JoinedAt.IsZero(), true)
			eq(t, "peer kept", d.PeerID, "p1")
		}},
		{"wrong-typed array", HLSRecordingSuccess, `{"room_id":"r1","recording_single_files":"none","recording_hls_vod_playlist_location":"https://v"}`, []string{`"recording_single_files"`}, func(t *testing.T, ev *Event) {
			d := ev.Data.(*HLSRecording)
			eq(t, "files absent", d.SingleFiles == nil, true)
			eq(t, "vod kept", d.VODPlaylistLocation, "https://v")
		}},
		{"every wrong field reported", RecordingSuccess, `{"room_id":"r1","session_id":"s1","duration":"x","size":"y","URL":"https://u"}`, []string{`"duration"`, `"size"`}, func(t *testing.T, ev *Event) {
			d := ev.Data.(*Recording)
			eq(t, "duration absent", d.Duration == nil, true)
			eq(t, "size absent", d.Size == nil, true)
			eq(t, "URL kept", d.URL, "https://u")
		}},
		{"wrong-typed nested field", HLSRecordingSuccess, `{"room_id":"r1","recording_thumbnails":[{"width":"wide"}],"recording_single_files":[{"layer":"0"}]}`, []string{`recording_thumbnails`}, func(t *testing.T, ev *Event) {
			d := ev.Data.(*HLSRecording)
			eq(t, "thumbnails absent", d.Thumbnails == nil, true)
			eq(t, "files kept", len(d.SingleFiles), 1)
		}},
		{"data not an object", SessionOpenSuccess, `"oops"`, []string{"not a JSON object"}, nil},
		{"data absent", SessionOpenSuccess, `null`, nil, func(t *testing.T, ev *Event) {
			eq(t, "typed but empty", *ev.Data.(*SessionOpen), SessionOpen{})
		}},
		{"null timestamps are absent", PeerLeaveSuccess, `{"left_at":null,"session_started_at":""}`, nil, func(t *testing.T, ev *Event) {
			eq(t, "left_at absent", ev.Data.(*PeerLeave).LeftAt.IsZero(), true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(strings.Replace(strings.Replace(env, "%q", `"`+string(tt.typ)+`"`, 1), "%s", tt.data, 1))
			ev, err := ParseEvent(body)
			if err != nil {
				t.Fatalf("ParseEvent: %v", err)
			}
			eq(t, "envelope nanoseconds", ev.Timestamp.Nanosecond(), 500000000)
			if len(ev.DataProblems) != len(tt.problems) {
				t.Fatalf("DataProblems = %q, want %d mentioning %q", ev.DataProblems, len(tt.problems), tt.problems)
			}
			for _, p := range tt.problems {
				if !slices.ContainsFunc(ev.DataProblems, func(s string) bool { return strings.Contains(s, p) }) {
					t.Errorf("DataProblems = %q, want one naming %s", ev.DataProblems, p)
				}
			}
			if tt.check != nil {
				tt.check(t, ev)
			}
		})
	}
}

// Ids of the current document's samples (testdata/current): the masked
// ones replaced so that all of them belong to one room and one session.
const (
	curRoom     = "6564a0a5a2ad2e4f1e0d0002"
	curRoomName = "demo-videocalls-appt-0002"
	curSession  = "6564a0b1c2ad2e4f1e0d5e02"
	curTemplate = "6564a09aa2ad2e4f1e0d0e7e"
	curAccount  = "6564a09aa2ad2e4f1e0d00ac"
	curApp      = "6564a09aa2ad2e4f1e0d00a9"
	curDoctor   = "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1"
	curClient   = "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a2"
	curBeam     = "6564a0c0c2ad2e4f1e0dbea2"
	curHLS      = "6564a0c0c2ad2e4f1e0d0a16"
	curStream   = "5a09bf30-c076-469f-bfd4-000000000002"
	curTrack    = "3c1e5e95-fdd1-49ba-bb08-000000000002"
	curMeeting  = "https://app.100ms.live/preview/rpe-pwl-akt?token=beam_recording"
	uploadError = "Failed to upload recordings. Check if upload config is correct."
)

func tv(s string) Time           { return Time{Time: ts(s)} }
func iv(n int64) Int             { return Int{Value: n, Valid: true} }
func ptr[T any](v T) *T          { return &v }
func curEventID(n int) string    { return fmt.Sprintf("0c7b4d2f-8e3a-4f62-8b1d-%012d", n) }
func curMetadataID(n int) string { return fmt.Sprintf("9d2e1f00-0000-4000-8000-%012d", n) }
func curSessionRef(started string) SessionRef {
	r := SessionRef{RoomRef: RoomRef{RoomID: curRoom, RoomName: curRoomName, TemplateID: curTemplate}, SessionID: curSession}
	if started != "" {
		r.SessionStartedAt = tv(started)
	}
	return r
}

var (
	curDoctorRef = PeerRef{PeerID: curDoctor, UserID: "uid-doctor-0002", UserName: "Dr Test", Role: "host", PeerType: "regular"}
	curStarted   = "2021-11-30T12:58:49.97291247Z" // session_started_at of most samples
	curEarlier   = "2021-11-30T12:48:49.97291247Z" // that of the session and SFU samples
	rtmpTest     = []RTMPTarget{{URL: "http://test.com"}}
)

func curBeamRef(beam string, meta int, metaAt string) BeamRef {
	job := "6564a0c0c2ad2e4f1e0d0b02"
	if beam == curHLS {
		job = "6564a0c0c2ad2e4f1e0d0b03"
	}
	s := curSessionRef(curStarted)
	s.RoomName = ""
	return BeamRef{SessionRef: s, BeamID: beam, JobID: job, PeerID: curDoctor, MetadataID: curMetadataID(meta),
		MetadataTimestamp: tv(metaAt), MaxWidth: iv(1280), MaxHeight: iv(720)}
}

func curTranscriptionRef(meta int) TranscriptionRef {
	s := curSessionRef("")
	s.TemplateID = ""
	return TranscriptionRef{SessionRef: s, AccountID: curAccount, AppID: curApp, MetadataID: curMetadataID(meta),
		MetadataTimestamp: tv("2023-06-15T06:17:39.986637275Z"), TranscriptionID: "6564a0e0c2ad2e4f1e0d7a01",
		RecordingID: "6564a0d0c2ad2e4f1e0dec01", Duration: iv(23)}
}

var curAssetIDs = TranscriptAssets{
	TranscriptTxtAssetID: "64899f07651605b7aadc2576", TranscriptSrtAssetID: "64899f07651605b7aadc2577",
	TranscriptJSONAssetID: "64899f07651605b7aadc2578", SummaryJSONAssetID: "64899f07651605b7aadc2579",
}

func curAssets() TranscriptAssets {
	a := curAssetIDs
	a.SummaryJSONPath, a.SummaryJSONPresignedURL = "s3://<summary-json-address>.json", "https://<file-access-url>?<signature>"
	a.TranscriptJSONPath, a.TranscriptJSONPresignedURL = "s3://<transcript-json-address>.json", "https://<file-access-url>?<signature>"
	a.TranscriptSrtPath, a.TranscriptSrtPresignedURL = "s3://<transcript-srt-address>.json", "https://<file-access-url>?<signature>"
	a.TranscriptTxtPath, a.TranscriptTxtPresignedURL = "s3://<transcript-txt-address>.json", "https://<file-access-url>?<signature>"
	return a
}

func curLayers() []RecordingFile {
	var out []RecordingFile
	for i, l := range []struct {
		asset      string
		size, w, h int64
	}{
		{"646acb659348ac0ada47d9ef", 10024, 1920, 1080},
		{"646acb659348ac0ada47d0cb", 5012, 1280, 720},
		{"646acb659348ac0ada4748fc", 2506, 640, 480},
		{"646acb659348ac0aba470cdc", 1024, 480, 360},
	} {
		out = append(out, RecordingFile{Layer: fmt.Sprint(i), AssetID: l.asset,
			RecordingPath:         fmt.Sprintf("s3://<file-%d-bucket-address>.mp4", i),
			RecordingPresignedURL: fmt.Sprintf("https://<file-%d-access-url>?<signature-%d>", i, i),
			Size:                  iv(l.size), Width: iv(l.w), Height: iv(l.h)})
	}
	return out
}

var curThumbnails = []Thumbnail{{Width: 1280, Height: 720, Offset: 60, Location: "s3://<thumbnail-file-bucket-address>.png", URL: "https://<thumbnail-access-url>?<signature3>"}}

// curFixture is one sample of the current document and every field it
// must decode to.
type curFixture struct {
	file      string
	n         int // its event id is curEventID(n)
	typ       EventType
	version   string
	timestamp string
	appID     bool // the envelope carries app_id
	want      any  // the whole payload, nil for types that have none
}

func curFixtures() []curFixture {
	peerJoin := &PeerJoin{SessionRef: curSessionRef(curStarted), PeerRef: curDoctorRef, JoinedAt: tv(curStarted)}
	failedJoiner := PeerRef{PeerID: "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a3", UserID: "uid-client-0002", UserName: "Client Test", Role: "guest", PeerType: "regular"}
	failedLeaver := failedJoiner
	failedLeaver.PeerID = "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a4"
	noSession := func() SessionRef { s := curSessionRef(""); s.SessionID = ""; return s }
	client := PeerRef{PeerID: curClient, UserID: "uid-client-0002", UserName: "Client Test", Role: "host"}
	roomEndRef := curDoctorRef
	roomEndRef.PeerType = ""
	trackRef := func() TrackRef {
		s := curSessionRef("")
		s.RoomName, s.TemplateID = "", ""
		return TrackRef{SessionRef: s, PeerID: curDoctor, StreamID: curStream, TrackID: curTrack, TrackType: "video"}
	}
	streamRef := func() StreamRef {
		s := curSessionRef("")
		s.RoomName, s.TemplateID = "", ""
		return StreamRef{SessionRef: s, PeerID: curDoctor, UserID: "uid-doctor-0002", StreamID: curStream, Type: "regular"}
	}
	sfu := curSessionRef(curEarlier)
	sfu.RoomName = "TestRoom1"
	hlsNoRec := HLSOptions{SingleFilePerLayerEnabled: ptr(false), VODPlaylistEnabled: ptr(false)}
	return []curFixture{
		{"peer.join.success.doc-example.json", 0, PeerJoinSuccess, "2.0", "2021-08-08T07:04:15Z", false, &PeerJoin{
			SessionRef: SessionRef{RoomRef: RoomRef{RoomID: "60b8e13a6eb86d8101b57354", RoomName: "test room", TemplateID: "66112497abcd52312556c4gg"}, SessionID: "610f81ee870dde099a249948"},
			PeerRef:    PeerRef{PeerID: "83b869e1-9a4b-4037-84b2-913cf76e4392", UserID: "user.001", UserName: "test user", Role: "host"},
			JoinedAt:   tv("2021-08-08T07:04:15.001380432Z"),
		}},
		{"session.open.success.json", 2, SessionOpenSuccess, "2.0", "2021-11-30T12:58:49Z", true, &SessionOpen{curSessionRef(curStarted)}},
		{"session.close.success.json", 3, SessionCloseSuccess, "2.0", "2021-11-30T12:58:49Z", true, &SessionClose{
			SessionRef: curSessionRef(curEarlier), SessionStoppedAt: tv(curStarted), SessionDuration: iv(600),
		}},
		{"peer.join.success.json", 4, PeerJoinSuccess, "2.0", "2021-11-30T12:58:49Z", false, peerJoin},
		{"peer.leave.success.json", 5, PeerLeaveSuccess, "2.0", "2021-11-30T12:58:58Z", false, &PeerLeave{
			SessionRef: curSessionRef(curStarted), PeerRef: curDoctorRef, JoinedAt: tv(curStarted),
			LeftAt: tv("2021-11-30T12:58:58.500451704Z"), Duration: ptr(40.0), Reason: "client request", Message: "removed due to misconduct",
		}},
		{"peer.join.failure.json", 6, PeerJoinFailure, "2.0", "2021-11-25T09:10:35Z", false, &PeerJoinFailed{
			SessionRef: noSession(), PeerRef: failedJoiner, ErrorMessage: "role not allowed",
		}},
		{"peer.leave.failure.json", 7, PeerLeaveFailure, "2.0", "2021-11-30T12:55:51Z", false, &PeerLeaveFailed{
			SessionRef: noSession(), PeerRef: failedLeaver, JoinedAt: tv(curStarted), Duration: ptr(0.0), ErrorMessage: "Peer not joined",
		}},
		{"room.end.success.json", 8, RoomEndSuccess, "2.0", "2021-11-25T09:10:35Z", false, &RoomEnd{
			SessionRef: curSessionRef(curStarted), PeerRef: roomEndRef, Reason: "consultation over", Source: "peer",
		}},
		{"room.end.failure.json", 9, RoomEndFailure, "2.0", "2021-11-25T09:10:35Z", false, &RoomEndFailed{
			SessionRef: curSessionRef(curStarted), PeerRef: roomEndRef, Reason: "consultation over", Source: "peer",
			ErrorMessage: "session not found", ErrorCode: iv(404),
		}},
		{"role.change.success.json", 10, RoleChangeSuccess, "2.0", "2021-11-30T12:58:49Z", true, &RoleChange{
			SessionRef: curSessionRef(curEarlier), PeerRef: client, JoinedAt: tv(curStarted), PreviousRole: "guest",
			RoleChangedAt: tv(curStarted), RoleChangeRequestedBy: curDoctor,
		}},
		{"role.change.failure.json", 11, RoleChangeFailure, "2.0", "2021-11-30T12:58:49Z", true, &RoleChangeFailed{
			SessionRef: curSessionRef(curEarlier), PeerRef: client, JoinedAt: tv(curStarted),
			RoleChangeRequestedBy: curDoctor, ErrorMessage: "role limit reached",
		}},
		{"track.recording.started.success.json", 12, TrackRecordingStartedSuccess, "2.0", "2024-02-06T20:01:16Z", true, &TrackRecordingStarted{trackRef()}},
		{"track.recording.success.json", 13, TrackRecordingSuccess, "2.0", "2024-02-06T20:01:16Z", true, &TrackRecording{
			TrackRef: trackRef(), RecordedMedia: RecordedMedia{RecordingID: "6564a0d0c2ad2e4f1e0dec03", RecordingPath: "s3://bucket/prefix/ac.webm",
				RecordingPresignedURL: "https://bucket/prefix/ac.webm", Size: iv(22989889)},
		}},
		// The document's sample of track.recording.failure says
		// "track.recording.success"; the fixture names the type it documents.
		{"track.recording.failure.json", 14, TrackRecordingFailure, "2.0", "2024-02-06T20:01:16Z", true, &TrackRecordingFailed{
			TrackRef: trackRef(), RecordedMedia: RecordedMedia{RecordingID: "6564a0d0c2ad2e4f1e0dec03", RecordingPath: "s3://bucket/prefix/ac.webm", Size: iv(22989889)},
			ErrorMessage: "INTERNAL_ERROR",
		}},
		{"stream.recording.success.json", 15, StreamRecordingSuccess, "2.0", "2024-02-12T15:39:55Z", true, &StreamRecording{
			StreamRef: streamRef(), RecordedMedia: RecordedMedia{RecordingID: "6564a0d0c2ad2e4f1e0dec04", RecordingPath: "s3://bucket/prefix/ac.mp4",
				RecordingPresignedURL: "https://bucket/prefix/ac.mp4", Size: iv(22989889), Duration: iv(185)},
		}},
		{"stream.recording.failure.json", 16, StreamRecordingFailure, "2.0", "2024-02-12T15:39:55Z", true, &StreamRecordingFailed{
			StreamRef: streamRef(), RecordedMedia: RecordedMedia{RecordingID: "6564a0d0c2ad2e4f1e0dec05", RecordingPath: "s3://bucket/prefix/ac.mp4",
				Size: iv(2298), Duration: iv(1)},
			ErrorMessage: "INTERNAL_ERROR",
		}},
		{"recording.success.json", 17, RecordingSuccess, "1.0", "2021-11-30T20:12:35Z", true, &Recording{
			SessionRef: sfu, ChatRecording: ChatRecording{ChatRecordingPath: "s3://<chat-recording-address>.csv", ChatRecordingPresignedURL: "https://<chat-recording-access-url>?<signature>"},
			RecordingPath: "s3://<file-bucket-address>.mp4", RecordingPresignedURL: "https://<file-access-url>?<signature>",
			Duration: ptr(600.0), Size: ptr[int64](13933649), SessionStoppedAt: tv(curStarted),
		}},
		{"recording.failed.json", 18, RecordingFailed, "1.0", "2021-11-23T09:04:25Z", true, &RecordingFailure{
			SessionRef: sfu, Error: "INTERNAL_ERROR", ErrorType: "CONFIG_ERROR", SessionStoppedAt: tv(curStarted),
		}},
		{"beam.started.success.json", 19, BeamStartedSuccess, "2.0", "2021-11-30T12:58:46Z", false, &BeamStarted{
			BeamRef: curBeamRef(curBeam, 119, "2021-11-30T12:58:46.400759043Z"), BeamOptions: BeamOptions{ptr(true)},
			StartDelay: ptr(12.0), MeetingURL: curMeeting, RTMP: rtmpTest,
		}},
		{"beam.stopped.success.json", 20, BeamStoppedSuccess, "2.0", "2021-11-30T12:59:57Z", false, &BeamStopped{
			BeamRef: curBeamRef(curBeam, 120, "2021-11-30T12:59:57.797972469Z"), BeamOptions: BeamOptions{ptr(true)},
			Duration: ptr(56.0), MeetingURL: curMeeting, RTMP: rtmpTest, Reason: "client request",
		}},
		{"beam.recording.success.json", 21, BeamRecordingSuccess, "2.0", "2021-11-30T12:59:57Z", false, &BeamRecording{
			BeamRef: func() BeamRef {
				b := curBeamRef(curBeam, 121, "2021-11-30T12:59:57.679491494Z")
				b.JobID = ""
				return b
			}(),
			ChatRecording: ChatRecording{ChatRecordingPath: "s3://<chat-recording-address>.csv", ChatRecordingPresignedURL: "https://<chat-recording-access-url>?<signature>"},
			CreatedAt:     tv("2021-11-30T12:59:57.672493658Z"), StartedAt: tv("2021-11-30T12:58:34.051Z"), StoppedAt: tv("2021-11-30T12:59:56.778Z"),
			Duration: ptr(79.0), Size: iv(10024), RecordingID: "6564a0d0c2ad2e4f1e0dec01", RecordingPath: "s3://bucket/prefix/ac.mp4",
			RecordingPresignedURL: "https://<file access URL>", MeetingURL: curMeeting, RTMP: rtmpTest,
		}},
		{"beam.failure.json", 22, BeamFailure, "2.0", "2021-11-30T20:36:55Z", false, &BeamFailed{
			BeamRef: curBeamRef(curBeam, 122, "2021-11-30T20:36:55.807155801Z"), BeamOptions: BeamOptions{ptr(true)},
			BeamError: BeamError{ErrorCode: ptr[int64](1), ErrorMessage: uploadError, ErrorType: "UPLOAD_ERROR"},
			Duration:  ptr(56.0), MeetingURL: curMeeting, RTMP: rtmpTest,
		}},
		{"hls.started.success.json", 23, HLSStartedSuccess, "2.0", "2021-11-30T12:58:46Z", false, &HLSStarted{
			BeamRef: curBeamRef(curHLS, 123, "2021-11-30T12:58:46.400759043Z"), HLSOptions: hlsNoRec, MeetingURL: curMeeting,
			StartDelay: ptr(12.0), URL: "https://100ms-live.m3u8", StartedAt: tv("2021-11-30T12:58:46.400759043Z"),
		}},
		{"hls.stopped.success.json", 24, HLSStoppedSuccess, "2.0", "2021-11-30T12:59:57Z", false, &HLSStopped{
			BeamRef: curBeamRef(curHLS, 124, "2021-11-30T12:59:57.797972469Z"), HLSOptions: hlsNoRec, MeetingURL: curMeeting,
			Duration: ptr(56.0), StartedAt: tv("2021-11-30T12:59:57.797972469Z"), StoppedAt: tv("2021-11-30T12:59:57.797972469Z"), Reason: "client request",
		}},
		{"hls.failure.json", 25, HLSFailure, "2.0", "2021-11-30T20:36:55Z", false, &HLSFailed{
			BeamRef: curBeamRef(curHLS, 125, "2021-11-30T20:36:55.807155801Z"), HLSOptions: hlsNoRec,
			BeamError:  BeamError{ErrorCode: ptr[int64](1), ErrorMessage: uploadError, ErrorType: "UPLOAD_ERROR"},
			MeetingURL: curMeeting, Duration: ptr(56.0),
		}},
		{"hls.recording.success.json", 26, HLSRecordingSuccess, "2.0", "2021-11-30T20:36:55Z", false, &HLSRecording{
			BeamRef: func() BeamRef {
				b := curBeamRef(curHLS, 126, "2021-11-30T20:36:55.807155801Z")
				b.JobID, b.PeerID = "", ""
				return b
			}(),
			HLSAssets: HLSAssets{
				ChatRecording:       ChatRecording{ChatRecordingPath: "s3://<chat-recording-address>.csv", ChatRecordingPresignedURL: "https://<chat-recording-access-url>?<signature>"},
				RecordingID:         "6564a0d0c2ad2e4f1e0dec02",
				RecordingCreatedAt:  tv("2021-11-30T12:59:57.672493658Z"),
				SingleFiles:         curLayers(),
				HLSVODRecordingPath: "s3://<hls-vod-bucket-address>.m3u8", HLSVODRecordingPresignedURL: "https://<hls-vod-access-url>?<signature>",
				HLSVODRecordingSize: iv(10024), Thumbnails: curThumbnails,
			},
			MeetingURL: curMeeting, Duration: ptr(56.0),
			StartedAt: tv("2021-11-30T12:59:57.797972469Z"), StoppedAt: tv("2021-11-30T12:59:57.797972469Z"),
		}},
		{"transcription.started.success.json", 27, TranscriptionStartedSuccess, "2.0", "2023-06-15T06:17:39Z", true, &TranscriptionStarted{
			TranscriptionRef: curTranscriptionRef(127), TranscriptAssets: curAssetIDs,
		}},
		{"transcription.success.json", 28, TranscriptionSuccess, "2.0", "2023-06-15T06:17:39Z", true, &Transcription{
			TranscriptionRef: curTranscriptionRef(128), TranscriptAssets: curAssets(),
		}},
		{"transcription.failure.json", 29, TranscriptionFailure, "2.0", "2023-06-15T06:17:39Z", true, &TranscriptionFailed{
			TranscriptionRef: curTranscriptionRef(129), TranscriptAssets: curAssets(),
		}},
		{"ingest.start.success.json", 30, "ingest.start.success", "2.0", "2023-10-16T12:35:08Z", true, nil},
		{"ingest.end.success.json", 31, "ingest.end.success", "2.0", "2023-10-16T12:36:58Z", true, nil},
		{"ingest.start.failure.json", 32, "ingest.start.failure", "2.0", "2023-10-16T12:36:58Z", true, nil},
		{"ingest.failure.json", 33, "ingest.failure", "2.0", "2023-10-16T12:36:58Z", true, nil},
	}
}

func readCurrent(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "current", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseEventCurrentFixtures decodes every sample of 100ms's current
// webhook document and compares the whole typed payload, field by field.
func TestParseEventCurrentFixtures(t *testing.T) {
	for _, tt := range curFixtures() {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := ParseEvent(readCurrent(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			wantID, wantAccount, wantApp, wantRoom, wantSession := curEventID(tt.n), curAccount, "", curRoom, curSession
			if tt.appID {
				wantApp = curApp
			}
			if tt.n == 0 { // the document's unmasked example
				wantID, wantAccount, wantRoom, wantSession = "6c75de35-b778-4fb0-88ae-114c28dc285f", "60b8e13a6eb86d8101b57354", "60b8e13a6eb86d8101b57354", "610f81ee870dde099a249948"
			}
			switch tt.typ {
			case PeerJoinFailure, PeerLeaveFailure, "ingest.start.success", "ingest.end.success", "ingest.start.failure", "ingest.failure":
				wantSession = ""
			}
			eq(t, "id", ev.ID, wantID)
			eq(t, "version", ev.Version, tt.version)
			eq(t, "type", ev.Type, tt.typ)
			eq(t, "account_id", ev.AccountID, wantAccount)
			eq(t, "app_id", ev.AppID, wantApp)
			eq(t, "template_id (envelope)", ev.TemplateID, "")
			if !ev.Timestamp.Equal(ts(tt.timestamp)) {
				t.Errorf("timestamp = %v, want %s", ev.Timestamp, tt.timestamp)
			}
			eq(t, "lifted room", ev.RoomID, wantRoom)
			eq(t, "lifted session", ev.SessionID, wantSession)
			if len(ev.DataProblems) != 0 {
				t.Errorf("DataProblems = %q, want none", ev.DataProblems)
			}
			if tt.want == nil {
				if ev.Data != nil {
					t.Errorf("Data = %T, want none for an unknown type", ev.Data)
				}
				return
			}
			for _, d := range diffPayload(ev.Data, tt.want) {
				t.Error(d)
			}
		})
	}
}

// TestCurrentFixturesCoverDocument makes sure every sample of the current
// document is a fixture and that the table above checks each.
func TestCurrentFixturesCoverDocument(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "current", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	masked, _ := filepath.Glob(filepath.Join("testdata", "current", "masked", "*.json"))
	checked := map[string]bool{}
	for _, f := range curFixtures() {
		checked[f.file] = true
	}
	// 33 = the samples of configure-webhooks--webhook.md (one per event
	// type and the envelope's example).
	if len(files) != 33 || len(masked) != 33 || len(checked) != 33 {
		t.Errorf("%d fixtures, %d masked, %d checked; want 33 each", len(files), len(masked), len(checked))
	}
	for _, f := range files {
		if !checked[filepath.Base(f)] {
			t.Errorf("%s is not checked by TestParseEventCurrentFixtures", f)
		}
	}
	for _, typ := range EventTypes() {
		if typ == TranscriptionFailedAlias {
			continue // not in the document; a variant covers it
		}
		if !checked[string(typ)+".json"] {
			t.Errorf("no current fixture for %s", typ)
		}
	}
}

// TestCurrentFixturesKeepSamples checks docs/webhook.md, Test fixtures for the current samples:
// each fixture is its masked sample with only the masked values replaced,
// by distinct event ids and unmasked ids.
func TestCurrentFixturesKeepSamples(t *testing.T) {
	ids := map[string]string{}
	for _, f := range curFixtures() {
		var got, orig map[string]any
		if err := json.Unmarshal(readCurrent(t, f.file), &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(readCurrent(t, "masked/"+f.file), &orig); err != nil {
			t.Fatal(err)
		}
		if f.typ == TrackRecordingFailure {
			orig["type"] = string(TrackRecordingFailure) // the document's slip, see curFixtures
		}
		var diffs []string
		sameButMasks("", got, orig, &diffs)
		for _, d := range diffs {
			t.Errorf("%s: %s", f.file, d)
		}
		id, _ := got["id"].(string)
		if prev, dup := ids[id]; dup {
			t.Errorf("%s and %s share event id %s", f.file, prev, id)
		}
		ids[id] = f.file
	}
}

func sameButMasks(path string, got, orig any, diffs *[]string) {
	switch o := orig.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(o) {
			*diffs = append(*diffs, fmt.Sprintf("%s: keys differ", path))
			return
		}
		for k, v := range o {
			sameButMasks(path+"."+k, g[k], v, diffs)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(o) {
			*diffs = append(*diffs, fmt.Sprintf("%s: array differs", path))
			return
		}
		for i := range o {
			sameButMasks(fmt.Sprintf("%s[%d]", path, i), g[i], o[i], diffs)
		}
	case string:
		g, ok := got.(string)
		switch {
		case !ok:
			*diffs = append(*diffs, fmt.Sprintf("%s: not a string", path))
		case strings.Contains(o, "****"):
			if g == "" || strings.Contains(g, "*") {
				*diffs = append(*diffs, fmt.Sprintf("%s = %q: still masked", path, g))
			}
		case g != o:
			*diffs = append(*diffs, fmt.Sprintf("%s = %q, sample has %q", path, g, o))
		}
	default:
		if !reflect.DeepEqual(got, orig) {
			*diffs = append(*diffs, fmt.Sprintf("%s = %v, sample has %v", path, got, orig))
		}
	}
}

// TestCurrentMaskedSamplesDecode decodes the document's samples as
// published (only the trailing comma of track.recording.success removed):
// no payload problems, the payload type of their type.
func TestCurrentMaskedSamplesDecode(t *testing.T) {
	for _, f := range curFixtures() {
		ev, err := ParseEvent(readCurrent(t, "masked/"+f.file))
		if err != nil {
			t.Errorf("%s: %v", f.file, err)
			continue
		}
		if len(ev.DataProblems) > 0 || reflect.TypeOf(ev.Data) != reflect.TypeOf(newPayload(ev.Type)) {
			t.Errorf("%s: data %T, problems %q", f.file, ev.Data, ev.DataProblems)
		}
	}
}

// TestCurrentKeysAllTyped fails when a key of a current sample has no
// field in its payload type, or decodes to nothing although the sample
// gives it a value: 100ms's current keys must not be silently dropped.
func TestCurrentKeysAllTyped(t *testing.T) {
	for _, f := range curFixtures() {
		if f.want == nil {
			continue
		}
		var env struct{ Data map[string]json.RawMessage }
		if err := json.Unmarshal(readCurrent(t, f.file), &env); err != nil {
			t.Fatal(err)
		}
		ev, err := ParseEvent(readCurrent(t, f.file))
		if err != nil {
			t.Fatal(err)
		}
		fields := jsonFields(reflect.ValueOf(ev.Data).Elem())
		for k, raw := range env.Data {
			v, ok := fields[k]
			switch {
			case !ok:
				t.Errorf("%s: key %q has no field in %T", f.file, k, ev.Data)
			case v.IsZero() && !zeroJSON(raw):
				t.Errorf("%s: key %q = %s decoded to nothing", f.file, k, raw)
			}
		}
	}
}

// jsonFields maps each JSON key of a payload struct (embedded structs
// included) to its field.
func jsonFields(v reflect.Value) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			for k, f := range jsonFields(v.Field(i)) {
				if _, shadowed := out[k]; !shadowed {
					out[k] = f
				}
			}
			continue
		}
		if tag := sf.Tag.Get("json"); tag != "" && sf.IsExported() {
			out[tag] = v.Field(i)
		}
	}
	return out
}

func zeroJSON(raw json.RawMessage) bool {
	switch string(raw) {
	case `""`, `false`, `0`, `null`, `"0001-01-01T00:00:00Z"`:
		return true
	}
	return false
}

// diffPayload compares two payloads field by field and names each field
// that differs by its Go path.
func diffPayload(got, want any) []string {
	var out []string
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if g.Type() != w.Type() {
		return []string{fmt.Sprintf("payload is %T, want %T", got, want)}
	}
	diffValue(reflect.TypeOf(want).String(), g, w, &out)
	return out
}

func diffValue(path string, g, w reflect.Value, out *[]string) {
	switch {
	case g.Type() == timeType:
		gt, wt := g.Interface().(Time), w.Interface().(Time)
		if !gt.Equal(wt.Time) || gt.invalid != wt.invalid || gt.Nanosecond() != wt.Nanosecond() {
			*out = append(*out, fmt.Sprintf("%s = %v, want %v", path, gt.Time, wt.Time))
		}
	case g.Type() == intType:
		if g.Interface() != w.Interface() {
			*out = append(*out, fmt.Sprintf("%s = %+v, want %+v", path, g.Interface(), w.Interface()))
		}
	case g.Kind() == reflect.Pointer:
		switch {
		case g.IsNil() != w.IsNil():
			*out = append(*out, fmt.Sprintf("%s nil = %v, want %v", path, g.IsNil(), w.IsNil()))
		case !g.IsNil():
			diffValue(path, g.Elem(), w.Elem(), out)
		}
	case g.Kind() == reflect.Struct:
		for i := range g.NumField() {
			sf := g.Type().Field(i)
			if sf.IsExported() {
				diffValue(path+"."+sf.Name, g.Field(i), w.Field(i), out)
			}
		}
	case g.Kind() == reflect.Slice:
		if g.Len() != w.Len() || g.IsNil() != w.IsNil() {
			*out = append(*out, fmt.Sprintf("%s has %d elements, want %d", path, g.Len(), w.Len()))
			return
		}
		for i := range g.Len() {
			diffValue(fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i), out)
		}
	default:
		if g.Interface() != w.Interface() {
			*out = append(*out, fmt.Sprintf("%s = %#v, want %#v", path, g.Interface(), w.Interface()))
		}
	}
}

// TestCurrentElseDeprecated checks the accessors that give the current key
// else the deprecated one, on the current samples, on the original ones
// (deprecated keys only) and on payloads that carry both.
func TestCurrentElseDeprecated(t *testing.T) {
	parse := func(t *testing.T, body []byte) *Event {
		t.Helper()
		ev, err := ParseEvent(body)
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.DataProblems) > 0 {
			t.Fatalf("DataProblems = %q", ev.DataProblems)
		}
		return ev
	}
	t.Run("sfu current", func(t *testing.T) {
		d := parse(t, readCurrent(t, "recording.success.json")).Data.(*Recording)
		eq(t, "Path", d.Path(), "s3://<file-bucket-address>.mp4")
		eq(t, "DownloadURL", d.DownloadURL(), "https://<file-access-url>?<signature>")
	})
	t.Run("sfu original", func(t *testing.T) {
		d := parse(t, readFixture(t, "recording.success.json")).Data.(*Recording)
		eq(t, "Path", d.Path(), "s3://<file-bucket-address>.mp4")
		eq(t, "DownloadURL", d.DownloadURL(), "https://<file-access-url>?<signature>")
	})
	t.Run("sfu both: current wins", func(t *testing.T) {
		d := parse(t, []byte(`{"id":"e","type":"recording.success","timestamp":"2021-11-30T20:12:35Z","data":{"location":"s3://old","URL":"https://old","recording_path":"s3://new","recording_presigned_url":"https://new"}}`)).Data.(*Recording)
		eq(t, "Path", d.Path(), "s3://new")
		eq(t, "DownloadURL", d.DownloadURL(), "https://new")
	})
	t.Run("browser current", func(t *testing.T) {
		d := parse(t, readCurrent(t, "beam.recording.success.json")).Data.(*BeamRecording)
		eq(t, "Path", d.Path(), "s3://bucket/prefix/ac.mp4")
		eq(t, "DownloadURL", d.DownloadURL(), "https://<file access URL>")
	})
	t.Run("browser original", func(t *testing.T) {
		// The original location is the HTTPS link: docs/data-model.md copies it to both.
		d := parse(t, readFixture(t, "beam.recording.success.json")).Data.(*BeamRecording)
		eq(t, "Path", d.Path(), "https://<file access URL>")
		eq(t, "DownloadURL", d.DownloadURL(), "https://<file access URL>")
		eq(t, "Size absent", d.Size.Ptr() == nil, true)
	})
	t.Run("browser both: current wins", func(t *testing.T) {
		d := parse(t, []byte(`{"id":"e","type":"beam.recording.success","timestamp":"2021-11-30T20:12:35Z","data":{"location":"https://old","recording_path":"s3://new","recording_presigned_url":"https://new"}}`)).Data.(*BeamRecording)
		eq(t, "Path", d.Path(), "s3://new")
		eq(t, "DownloadURL", d.DownloadURL(), "https://new")
	})
	t.Run("hls current", func(t *testing.T) {
		d := parse(t, readCurrent(t, "hls.recording.success.json")).Data.(*HLSRecording)
		eq(t, "PlaylistURL", d.PlaylistURL(), "https://<hls-vod-access-url>?<signature>")
		eq(t, "PlaylistPath", d.PlaylistPath(), "s3://<hls-vod-bucket-address>.m3u8")
		eqTime(t, "Created", d.Created(), ts("2021-11-30T12:59:57.672493658Z"))
		for i, f := range d.SingleFiles {
			eq(t, "layer Path", f.Path(), fmt.Sprintf("s3://<file-%d-bucket-address>.mp4", i))
			eq(t, "layer DownloadURL", f.DownloadURL(), fmt.Sprintf("https://<file-%d-access-url>?<signature-%d>", i, i))
		}
	})
	for _, name := range []string{"hls.recording.success.json", "../current/variants/hls.recording.success.deprecated-keys.json"} {
		t.Run("hls deprecated "+filepath.Base(name), func(t *testing.T) {
			d := parse(t, readFixture(t, name)).Data.(*HLSRecording)
			eq(t, "PlaylistURL", d.PlaylistURL(), "https://<hls-vod-access-url>?<signature>")
			eqTime(t, "Created", d.Created(), ts("2021-11-30T12:59:57.672493658Z"))
			eq(t, "layers", len(d.SingleFiles), 4)
			for i, f := range d.SingleFiles {
				eq(t, "layer Path", f.Path(), fmt.Sprintf("s3://<file-%d-bucket-address>.mp4", i))
				eq(t, "layer DownloadURL", f.DownloadURL(), fmt.Sprintf("https://<file-%d-access-url>?<signature-%d>", i, i))
			}
		})
	}
	t.Run("hls both: current wins", func(t *testing.T) {
		d := parse(t, []byte(`{"id":"e","type":"hls.recording.success","timestamp":"2021-11-30T20:12:35Z","data":{
			"recording_hls_vod_playlist_location":"https://old","hls_vod_recording_presigned_url":"https://new",
			"created_at":"2021-11-30T12:00:00Z","recording_created_at":"2021-11-30T12:00:01.5Z",
			"recording_single_files":[{"location":"s3://old","presigned_url":"https://old","recording_path":"s3://new","recording_presigned_url":"https://new"}]}}`)).Data.(*HLSRecording)
		eq(t, "PlaylistURL", d.PlaylistURL(), "https://new")
		eqTime(t, "Created", d.Created(), ts("2021-11-30T12:00:01.5Z"))
		eq(t, "layer Path", d.SingleFiles[0].Path(), "s3://new")
		eq(t, "layer DownloadURL", d.SingleFiles[0].DownloadURL(), "https://new")
	})
	t.Run("hls neither", func(t *testing.T) {
		d := parse(t, []byte(`{"id":"e","type":"hls.recording.success","timestamp":"2021-11-30T20:12:35Z","data":{"created_at":"0001-01-01T00:00:00Z"}}`)).Data.(*HLSRecording)
		eq(t, "Created absent", d.Created().IsZero(), true)
		eq(t, "PlaylistURL", d.PlaylistURL(), "")
	})
}

// TestCurrentVariants decodes what the current document describes but its
// samples do not show (testdata/current/variants).
func TestCurrentVariants(t *testing.T) {
	read := func(t *testing.T, name string) *Event {
		t.Helper()
		ev, err := ParseEvent(readCurrent(t, "variants/"+name))
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.DataProblems) > 0 {
			t.Fatalf("DataProblems = %q", ev.DataProblems)
		}
		eq(t, "room", ev.RoomID, curRoom)
		eq(t, "session", ev.SessionID, curSession)
		return ev
	}
	t.Run("transcription.failed reads as transcription.failure", func(t *testing.T) {
		ev := read(t, "transcription.failed.json")
		eq(t, "Type as received", ev.Type, TranscriptionFailedAlias)
		d, ok := ev.Data.(*TranscriptionFailed)
		if !ok {
			t.Fatalf("Data = %T, want *TranscriptionFailed", ev.Data)
		}
		eq(t, "Err", d.Err(), "summary not generated")
		eq(t, "transcription_id", d.TranscriptionID, "6564a0e0c2ad2e4f1e0d7a01")
		eq(t, "summary asset id only", *d.SummaryJSON(), TranscriptAsset{AssetID: "64899f07651605b7aadc2579"})
		eq(t, "txt", *d.TranscriptTxt(), TranscriptAsset{AssetID: "64899f07651605b7aadc2576", Path: "s3://<transcript-txt-address>.json", PresignedURL: "https://<file-access-url>?<signature>"})
	})
	t.Run("track sizes as strings", func(t *testing.T) {
		d := read(t, "track.recording.success.string-numbers.json").Data.(*TrackRecording)
		eqPtr(t, "size", d.Size.Ptr(), 22989889)
		eqPtr(t, "duration", d.Duration.Ptr(), 185)
	})
	t.Run("stream_type", func(t *testing.T) {
		d := read(t, "stream.recording.failure.stream-type.json").Data.(*StreamRecordingFailed)
		eq(t, "StreamTypeOrType", d.StreamTypeOrType(), "screen")
		eqPtr(t, "size", d.Size.Ptr(), 2298)
		eqPtr(t, "duration", d.Duration.Ptr(), 1)
	})
	t.Run("beam failure without recording", func(t *testing.T) {
		d := read(t, "beam.failure.recording-disabled.json").Data.(*BeamFailed)
		eq(t, "Records", d.Records(), false)
		eq(t, "said so", d.RecordingEnabled != nil, true)
	})
	t.Run("hls failure with recording", func(t *testing.T) {
		eq(t, "Records", read(t, "hls.failure.recording-enabled.json").Data.(*HLSFailed).Records(), true)
	})
}

func TestRecordsFlags(t *testing.T) {
	cur := func(name string) any {
		ev, err := ParseEvent(readCurrent(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return ev.Data
	}
	eq(t, "current beam.failure records", cur("beam.failure.json").(*BeamFailed).Records(), true)
	eq(t, "current hls.failure records", cur("hls.failure.json").(*HLSFailed).Records(), false)
	ev, _ := ParseEvent(readFixture(t, "beam.failure.json"))
	eq(t, "original beam.failure does not say", ev.Data.(*BeamFailed).RecordingEnabled == nil, true)
	eq(t, "original beam.failure records", ev.Data.(*BeamFailed).Records(), false)
	eq(t, "vod only", HLSOptions{VODPlaylistEnabled: ptr(true)}.Records(), true)
	eq(t, "layers only", HLSOptions{SingleFilePerLayerEnabled: ptr(true), VODPlaylistEnabled: ptr(false)}.Records(), true)
}

func TestTranscriptAssets(t *testing.T) {
	var none TranscriptAssets
	if none.TranscriptTxt() != nil || none.TranscriptSrt() != nil || none.TranscriptJSON() != nil || none.SummaryJSON() != nil {
		t.Error("assets of an event that names none are not nil")
	}
	a := curAssets()
	for name, got := range map[string]*TranscriptAsset{"txt": a.TranscriptTxt(), "srt": a.TranscriptSrt(), "json": a.TranscriptJSON(), "summary": a.SummaryJSON()} {
		if got == nil || got.AssetID == "" || got.Path == "" || got.PresignedURL == "" {
			t.Errorf("%s = %+v, want all three", name, got)
		}
	}
	eq(t, "srt path", a.TranscriptSrt().Path, "s3://<transcript-srt-address>.json")
	eq(t, "json id", a.TranscriptJSON().AssetID, "64899f07651605b7aadc2578")
	eq(t, "path alone", *(&TranscriptAssets{SummaryJSONPath: "s3://s"}).SummaryJSON(), TranscriptAsset{Path: "s3://s"})
	eq(t, "url alone", *(&TranscriptAssets{TranscriptTxtPresignedURL: "https://u"}).TranscriptTxt(), TranscriptAsset{PresignedURL: "https://u"})
}

func TestIntUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    *int64
		invalid bool
	}{
		{`185`, ptr[int64](185), false},
		{`"185"`, ptr[int64](185), false},
		{`-3`, ptr[int64](-3), false},
		{`"-3"`, ptr[int64](-3), false},
		{`0`, ptr[int64](0), false},
		{`"0"`, ptr[int64](0), false},
		{`22989889`, ptr[int64](22989889), false},
		{`9223372036854775807`, ptr[int64](9223372036854775807), false},
		{`185.4`, ptr[int64](185), false},
		{`185.5`, ptr[int64](186), false},
		{`1e3`, ptr[int64](1000), false},
		{`null`, nil, false},
		{`""`, nil, false},
		{`"185.4"`, nil, true},
		{`"forty"`, nil, true},
		{`" 12"`, nil, true},
		{`"9223372036854775808"`, nil, true},
		{`9223372036854775808`, nil, true},
		{`1e300`, nil, true},
		{`true`, nil, true},
		{`{}`, nil, true},
		{`[1]`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var n Int
			if err := n.UnmarshalJSON([]byte(tt.in)); err != nil {
				t.Fatalf("UnmarshalJSON: %v (must never fail)", err)
			}
			got := n.Ptr()
			switch {
			case (got == nil) != (tt.want == nil):
				t.Errorf("Ptr() = %v, want %v", got, tt.want)
			case got != nil && *got != *tt.want:
				t.Errorf("Ptr() = %d, want %d", *got, *tt.want)
			}
			eq(t, "Valid", n.Valid, tt.want != nil)
			eq(t, "invalid", n.invalid, tt.invalid)
		})
	}
	// Decoding over an old value starts afresh.
	n := Int{Value: 7, Valid: true}
	_ = n.UnmarshalJSON([]byte(`"x"`))
	eq(t, "reset", n.Valid || n.Value != 0, false)
	b, _ := json.Marshal(struct{ A, B Int }{iv(5), Int{}})
	eq(t, "marshal", string(b), `{"A":5,"B":null}`)
}

// TestParseEventLenientCurrentKinds: the new kinds and the new keys are
// decoded with the same care as the first 18.
func TestParseEventLenientCurrentKinds(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		problems []string
		check    func(t *testing.T, ev *Event)
	}{
		{"track size not an integer", `{"id":"e","type":"track.recording.success","timestamp":"2024-02-06T20:01:16Z","data":{"room_id":"r1","session_id":"s1","track_id":"t1","size":"big","duration":"12.5","recording_path":"s3://p"}}`,
			[]string{`"size" is not an integer`, `"duration" is not an integer`}, func(t *testing.T, ev *Event) {
				d := ev.Data.(*TrackRecording)
				eq(t, "size absent", d.Size.Ptr() == nil, true)
				eq(t, "duration absent", d.Duration.Ptr() == nil, true)
				eq(t, "path kept", d.RecordingPath, "s3://p")
				eq(t, "room", ev.RoomID, "r1")
				eq(t, "session", ev.SessionID, "s1")
			}},
		{"layer size not an integer", `{"id":"e","type":"hls.recording.success","timestamp":"2024-02-06T20:01:16Z","data":{"recording_single_files":[{"layer":"0","size":1},{"layer":"1","size":"x","width":"wide"}]}}`,
			[]string{`"recording_single_files[1].size"`, `"recording_single_files[1].width"`}, func(t *testing.T, ev *Event) {
				d := ev.Data.(*HLSRecording)
				eq(t, "layers kept", len(d.SingleFiles), 2)
				eqPtr(t, "layer 0 size", d.SingleFiles[0].Size.Ptr(), 1)
				eq(t, "layer 1 size absent", d.SingleFiles[1].Size.Ptr() == nil, true)
			}},
		{"wrong-typed error_code", `{"id":"e","type":"room.end.failure","timestamp":"2021-11-25T09:10:35Z","data":{"room_id":"r1","session_id":"s1","error_code":{"x":1},"error_message":"session not found","lock_room":true}}`,
			[]string{`"error_code"`}, func(t *testing.T, ev *Event) {
				d := ev.Data.(*RoomEndFailed)
				eq(t, "code absent", d.ErrorCode.Valid, false)
				eq(t, "message kept", d.ErrorMessage, "session not found")
				eq(t, "lock kept", d.LockRoom, true)
				eq(t, "session", ev.SessionID, "s1")
			}},
		{"unparsable role_changed_at", `{"id":"e","type":"role.change.success","timestamp":"2021-11-25T09:10:35Z","data":{"peer_id":"p1","role":"host","role_changed_at":"later","joined_at":"2021-11-30T12:58:49.97291247Z"}}`,
			[]string{`"role_changed_at" is not an RFC 3339 time`}, func(t *testing.T, ev *Event) {
				d := ev.Data.(*RoleChange)
				eq(t, "role_changed_at absent", d.RoleChangedAt.IsZero(), true)
				eq(t, "joined_at nanoseconds", d.JoinedAt.Nanosecond(), 972912470)
			}},
		{"zero session_stopped_at", `{"id":"e","type":"session.close.success","timestamp":"2021-11-25T09:10:35Z","data":{"session_id":"s1","session_stopped_at":"0001-01-01T00:00:00Z","session_duration":"600"}}`,
			nil, func(t *testing.T, ev *Event) {
				d := ev.Data.(*SessionClose)
				eq(t, "stopped absent", d.SessionStoppedAt.IsZero(), true)
				eqPtr(t, "duration from a string", d.SessionDuration.Ptr(), 600)
			}},
		{"wrong-typed recording_enabled", `{"id":"e","type":"beam.failure","timestamp":"2021-11-25T09:10:35Z","data":{"beam_id":"b1","recording_enabled":"yes","error_message":"m"}}`,
			[]string{`"recording_enabled"`}, func(t *testing.T, ev *Event) {
				d := ev.Data.(*BeamFailed)
				eq(t, "not said", d.RecordingEnabled == nil, true)
				eq(t, "message kept", d.ErrorMessage, "m")
			}},
		{"wrong-typed transcript asset", `{"id":"e","type":"transcription.success","timestamp":"2023-06-15T06:17:39Z","data":{"room_id":"r1","session_id":"s1","transcript_txt_path":7,"transcript_srt_path":"s3://srt","metadata_timestamp":"x"}}`,
			[]string{`"transcript_txt_path"`, `"metadata_timestamp"`}, func(t *testing.T, ev *Event) {
				d := ev.Data.(*Transcription)
				eq(t, "txt absent", d.TranscriptTxt() == nil, true)
				eq(t, "srt kept", d.TranscriptSrt().Path, "s3://srt")
				eq(t, "session", ev.SessionID, "s1")
			}},
		{"data not an object", `{"id":"e","type":"transcription.failed","timestamp":"2023-06-15T06:17:39Z","data":[1]}`,
			[]string{"not a JSON object"}, func(t *testing.T, ev *Event) {
				eq(t, "typed anyway", reflect.TypeOf(ev.Data), reflect.TypeFor[*TranscriptionFailed]())
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.DataProblems) != len(tt.problems) {
				t.Fatalf("DataProblems = %q, want %d mentioning %q", ev.DataProblems, len(tt.problems), tt.problems)
			}
			for _, p := range tt.problems {
				if !slices.ContainsFunc(ev.DataProblems, func(s string) bool { return strings.Contains(s, p) }) {
					t.Errorf("DataProblems = %q, want one naming %s", ev.DataProblems, p)
				}
			}
			tt.check(t, ev)
		})
	}
}

// TestParseEventReplay reads 100ms's is_replay flag (analytics replay API):
// true only for a JSON true; any other value is not a replay and never
// refuses the event.
func TestParseEventReplay(t *testing.T) {
	for _, tc := range []struct {
		flag string
		want bool
	}{{`true`, true}, {`false`, false}, {`"true"`, false}, {`1`, false}, {``, false}} {
		body := `{"id":"e1","type":"session.open.success","timestamp":"2026-11-23T09:00:00Z","data":{}`
		if tc.flag != "" {
			body += `,"is_replay":` + tc.flag
		}
		body += `}`
		ev, err := ParseEvent([]byte(body))
		if err != nil {
			t.Fatalf("is_replay %s: %v", tc.flag, err)
		}
		if ev.Replay != tc.want {
			t.Errorf("is_replay %s: Replay = %v, want %v", tc.flag, ev.Replay, tc.want)
		}
	}
}

// TestParseEventKeysAreExact: encoding/json matches struct fields without
// regard to case; the envelope's members must be named exactly (a fuzzed
// "tYpe" and "timestAmp" were once taken for type and timestamp).
func TestParseEventKeysAreExact(t *testing.T) {
	for _, body := range []string{
		`{"id":"e1","tYpe":"session.open.success","timestamp":"2026-11-23T09:00:00Z"}`,
		`{"id":"e1","type":"session.open.success","Timestamp":"2026-11-23T09:00:00Z"}`,
		`{"ID":"e1","type":"session.open.success","timestamp":"2026-11-23T09:00:00Z"}`,
	} {
		if _, err := ParseEvent([]byte(body)); !errors.Is(err, ErrMalformedEvent) {
			t.Errorf("%s: %v, want ErrMalformedEvent", body, err)
		}
	}
	ev, err := ParseEvent([]byte(`{"id":"e1","type":"session.open.success","timestamp":"2026-11-23T09:00:00Z","Data":{"session_id":"x"},"data":{"session_id":"s1","room_id":"r1"}}`))
	if err != nil || ev.SessionID != "s1" {
		t.Errorf("exact data beside a look-alike: %+v, %v", ev, err)
	}
}

// TestTruncateKeepsCharactersWhole: a cut that falls inside a multi-byte
// character backs off to its start (planted bug caught: s[:n]).
func TestTruncateKeepsCharactersWhole(t *testing.T) {
	s := strings.Repeat("a", 19) + "é" + "bbb" // é is 2 bytes at 19..20
	got := truncate(s, 20)
	if !utf8.ValidString(got) || got != strings.Repeat("a", 19)+"..." {
		t.Errorf("truncate = %q", got)
	}
}
