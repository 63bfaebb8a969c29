package hms

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

// TestDistinctFixtures checks what SPEC §7 asks of the variants: distinct
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
