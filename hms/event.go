package hms

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"
)

// EventType names a 100ms webhook event, as in its "type" field.
type EventType string

// The event types 100ms sends (reference: 100ms-webhook-events.txt).
const (
	SessionOpenSuccess   EventType = "session.open.success"
	SessionCloseSuccess  EventType = "session.close.success"
	PeerJoinSuccess      EventType = "peer.join.success"
	PeerLeaveSuccess     EventType = "peer.leave.success"
	PeerJoinFailure      EventType = "peer.join.failure"
	PeerLeaveFailure     EventType = "peer.leave.failure"
	RoomEndSuccess       EventType = "room.end.success"
	RoleChangeSuccess    EventType = "role.change.success"
	RecordingSuccess     EventType = "recording.success"
	RecordingFailed      EventType = "recording.failed"
	BeamStartedSuccess   EventType = "beam.started.success"
	BeamStoppedSuccess   EventType = "beam.stopped.success"
	BeamRecordingSuccess EventType = "beam.recording.success"
	BeamFailure          EventType = "beam.failure"
	HLSStartedSuccess    EventType = "hls.started.success"
	HLSStoppedSuccess    EventType = "hls.stopped.success"
	HLSRecordingSuccess  EventType = "hls.recording.success"
	HLSFailure           EventType = "hls.failure"
)

// ErrMalformedEvent is wrapped by every error ParseEvent returns; the
// wrapping message says what is wrong with the envelope.
var ErrMalformedEvent = errors.New("malformed webhook event")

// Event is one webhook delivery. The envelope is strict; Data holds the typed
// payload, decoded leniently.
type Event struct {
	Version    string
	ID         string
	AppID      string
	AccountID  string
	TemplateID string
	Timestamp  time.Time
	Type       EventType

	// RoomID and SessionID are lifted from the payload, empty when absent.
	RoomID    string
	SessionID string

	// Data is a pointer to the typed payload of Type (*SessionOpen,
	// *PeerJoin, ...), or nil for a type this package does not know.
	Data any
	// RawData is the "data" object exactly as received.
	RawData json.RawMessage
	// DataProblems lists payload fields that were present but unreadable
	// (wrong JSON type, unparsable timestamp); they are left absent.
	DataProblems []string
}

type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	AppID      string          `json:"app_id"`
	AccountID  string          `json:"account_id"`
	TemplateID string          `json:"template_id"`
	Timestamp  *string         `json:"timestamp"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
}

// ParseEvent decodes a webhook body. It fails, wrapping ErrMalformedEvent,
// when the body is not a JSON object or the envelope lacks id, type or a
// parsable timestamp. Unknown types and unreadable payload fields are not
// errors: an event must be kept even when 100ms adds something new.
func ParseEvent(body []byte) (*Event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedEvent, describeJSONError(err))
	}
	switch {
	case env.ID == "":
		return nil, fmt.Errorf("%w: missing id", ErrMalformedEvent)
	case env.Type == "":
		return nil, fmt.Errorf("%w: missing type", ErrMalformedEvent)
	case env.Timestamp == nil || *env.Timestamp == "":
		return nil, fmt.Errorf("%w: missing timestamp", ErrMalformedEvent)
	}
	ts, err := time.Parse(time.RFC3339Nano, *env.Timestamp)
	if err != nil || ts.IsZero() {
		return nil, fmt.Errorf("%w: timestamp %q is not an RFC 3339 time", ErrMalformedEvent, truncate(*env.Timestamp, 40))
	}
	ev := &Event{
		Version:    env.Version,
		ID:         env.ID,
		AppID:      env.AppID,
		AccountID:  env.AccountID,
		TemplateID: env.TemplateID,
		Timestamp:  ts,
		Type:       EventType(env.Type),
		RawData:    env.Data,
	}
	ev.decodeData()
	return ev, nil
}

// describeJSONError keeps the position of a syntax error but drops the
// offending bytes, which could be anything a sender put there.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "body is not a JSON object"
		}
		return fmt.Sprintf("field %q must be a %s", typ.Field, jsonKind(typ.Type))
	default:
		return "invalid JSON"
	}
}

func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return t.String()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func newPayload(t EventType) any {
	switch t {
	case SessionOpenSuccess:
		return new(SessionOpen)
	case SessionCloseSuccess:
		return new(SessionClose)
	case PeerJoinSuccess:
		return new(PeerJoin)
	case PeerLeaveSuccess:
		return new(PeerLeave)
	case PeerJoinFailure:
		return new(PeerJoinFailed)
	case PeerLeaveFailure:
		return new(PeerLeaveFailed)
	case RoomEndSuccess:
		return new(RoomEnd)
	case RoleChangeSuccess:
		return new(RoleChange)
	case RecordingSuccess:
		return new(Recording)
	case RecordingFailed:
		return new(RecordingFailure)
	case BeamStartedSuccess:
		return new(BeamStarted)
	case BeamStoppedSuccess:
		return new(BeamStopped)
	case BeamRecordingSuccess:
		return new(BeamRecording)
	case BeamFailure:
		return new(BeamFailed)
	case HLSStartedSuccess:
		return new(HLSStarted)
	case HLSStoppedSuccess:
		return new(HLSStopped)
	case HLSRecordingSuccess:
		return new(HLSRecording)
	case HLSFailure:
		return new(HLSFailed)
	}
	return nil
}

var jsonNull = []byte("null")

func (ev *Event) decodeData() {
	data := bytes.TrimSpace(ev.RawData)
	payload := newPayload(ev.Type)
	if payload == nil {
		// Unknown type: still find the room and session, so that the raw
		// event can be filed under its call.
		var refs SessionRef
		if len(data) > 0 && data[0] == '{' {
			_ = json.Unmarshal(data, &refs)
		}
		ev.RoomID, ev.SessionID = refs.RoomID, refs.SessionID
		return
	}
	ev.Data = payload
	if len(data) == 0 || bytes.Equal(data, jsonNull) {
		return
	}
	if data[0] != '{' {
		ev.DataProblems = append(ev.DataProblems, "data is not a JSON object")
		return
	}
	if err := json.Unmarshal(data, payload); err != nil {
		// encoding/json reports only the first wrong-typed field and may
		// leave it half-set (a *float64 pointing at 0 for "duration":"x"),
		// so start over field by field: each bad field is noted and absent.
		payload = newPayload(ev.Type)
		ev.Data = payload
		ev.DataProblems = append(ev.DataProblems, decodeFieldByField(ev.Type, data, payload)...)
	}
	collectTimeProblems(reflect.ValueOf(payload).Elem(), &ev.DataProblems)
	if n, ok := payload.(interface{ normalize() }); ok {
		n.normalize()
	}
	if r, ok := payload.(interface{ refs() (string, string) }); ok {
		ev.RoomID, ev.SessionID = r.refs()
	}
}

// decodeFieldByField decodes each top-level field of data into payload on
// its own, skipping (and describing) those that do not fit their type.
func decodeFieldByField(t EventType, data []byte, payload any) []string {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return []string{describeJSONError(err)}
	}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		one, err := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		if err != nil {
			continue
		}
		if err := json.Unmarshal(one, newPayload(t)); err != nil {
			problems = append(problems, describeJSONError(err))
			continue
		}
		_ = json.Unmarshal(one, payload)
	}
	return problems
}

// timeType is the reflect.Type of Time, compared against field types.
var timeType = reflect.TypeFor[Time]()

// collectTimeProblems walks the payload (and its embedded structs) for
// timestamps that were present but unparsable. It reads the invalid flag
// through reflect rather than Interface(), which would copy every field.
func collectTimeProblems(v reflect.Value, problems *[]string) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		switch {
		case sf.Type == timeType:
			if v.Field(i).FieldByName("invalid").Bool() {
				*problems = append(*problems, fmt.Sprintf("field %q is not an RFC 3339 time", sf.Tag.Get("json")))
			}
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct:
			collectTimeProblems(v.Field(i), problems)
		}
	}
}

// Time is a payload timestamp. 100ms writes "0001-01-01T00:00:00Z" for a
// time it does not have; that, null, and an unparsable value all decode to
// the zero Time, which means absent.
type Time struct {
	time.Time
	invalid bool
}

// UnmarshalJSON never fails: a bad timestamp must not cost the whole event.
func (t *Time) UnmarshalJSON(b []byte) error {
	*t = Time{}
	if bytes.Equal(b, jsonNull) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.invalid = true
		return nil
	}
	if s == "" {
		return nil
	}
	parsed, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.invalid = true
		return nil
	}
	if !parsed.IsZero() {
		t.Time = parsed
	}
	return nil
}

// MarshalJSON writes an absent time as null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return jsonNull, nil
	}
	return t.Time.MarshalJSON()
}

// RoomRef identifies the room an event belongs to.
type RoomRef struct {
	RoomID     string `json:"room_id"`
	RoomName   string `json:"room_name"`
	TemplateID string `json:"template_id"`
}

// SessionRef identifies the session an event belongs to.
type SessionRef struct {
	RoomRef
	SessionID        string `json:"session_id"`
	SessionStartedAt Time   `json:"session_started_at"`
}

func (s SessionRef) refs() (string, string) { return s.RoomID, s.SessionID }

// PeerRef identifies a peer: one join of one user, new on every rejoin.
type PeerRef struct {
	PeerID   string `json:"peer_id"`
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
	UserData string `json:"user_data"`
	Role     string `json:"role"`
}

// SessionOpen is the data of session.open.success.
type SessionOpen struct{ SessionRef }

// SessionClose is the data of session.close.success.
type SessionClose struct{ SessionRef }

// PeerJoin is the data of peer.join.success.
type PeerJoin struct {
	SessionRef
	PeerRef
	JoinedAt Time `json:"joined_at"`
}

// PeerLeave is the data of peer.leave.success. Duration is in seconds and
// nil when 100ms did not send it.
type PeerLeave struct {
	SessionRef
	PeerRef
	LeftAt   Time     `json:"left_at"`
	Duration *float64 `json:"duration"`
	Reason   string   `json:"reason"`
}

// PeerJoinFailed is the data of peer.join.failure; it carries no session id.
type PeerJoinFailed struct {
	SessionRef
	PeerRef
	JoinedAt     Time   `json:"joined_at"`
	ErrorMessage string `json:"error_message"`
}

// PeerLeaveFailed is the data of peer.leave.failure; it carries no session id.
type PeerLeaveFailed struct {
	SessionRef
	PeerRef
	LeftAt       Time     `json:"left_at"`
	Duration     *float64 `json:"duration"`
	ErrorMessage string   `json:"error_message"`
}

// RoomEnd is the data of room.end.success.
type RoomEnd struct {
	SessionRef
	PeerRef
	JoinedAt Time   `json:"joined_at"`
	LockRoom bool   `json:"lock_room"`
	Reason   string `json:"reason"`
	Source   string `json:"source"`
}

// RoleChange is the data of role.change.success; Role is the new role.
type RoleChange struct {
	SessionRef
	PeerRef
	JoinedAt Time `json:"joined_at"`
}

// Recording is the data of recording.success (SFU recording). URL is the
// presigned download link, valid for about 24 hours.
type Recording struct {
	SessionRef
	// Session is the session id under the name the v1 documentation gives
	// it; SessionID is filled from it when absent.
	Session  string   `json:"session"`
	Location string   `json:"location"`
	URL      string   `json:"URL"`
	Duration *float64 `json:"duration"`
	Size     *int64   `json:"size"`
}

// normalize fills SessionID from the v1 name of the field.
func (r *Recording) normalize() { r.SessionID = cmp.Or(r.SessionID, r.Session) }

// RecordingFailure is the data of recording.failed.
type RecordingFailure struct {
	SessionRef
	Error string `json:"error"`
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
	StartDelay *float64 `json:"start_delay"`
}

// BeamStopped is the data of beam.stopped.success.
type BeamStopped struct {
	BeamRef
	Duration *float64 `json:"duration"`
}

// BeamRecording is the data of beam.recording.success; Location is an
// HTTPS link to the recorded file.
type BeamRecording struct {
	BeamRef
	CreatedAt Time     `json:"created_at"`
	StartedAt Time     `json:"started_at"`
	StoppedAt Time     `json:"stopped_at"`
	Duration  *float64 `json:"duration"`
	Location  string   `json:"location"`
}

// BeamFailed is the data of beam.failure.
type BeamFailed struct {
	BeamRef
	BeamError
	Duration   *float64     `json:"duration"`
	MeetingURL string       `json:"meeting_url"`
	RTMP       []RTMPTarget `json:"rtmp"`
}

// HLSStarted is the data of hls.started.success; URL is the live playlist.
type HLSStarted struct {
	BeamRef
	MeetingURL string   `json:"meeting_url"`
	StartDelay *float64 `json:"start_delay"`
	URL        string   `json:"url"`
	StartedAt  Time     `json:"started_at"`
}

// HLSStopped is the data of hls.stopped.success.
type HLSStopped struct {
	BeamRef
	MeetingURL string   `json:"meeting_url"`
	URL        string   `json:"url"`
	Duration   *float64 `json:"duration"`
	StartedAt  Time     `json:"started_at"`
	StoppedAt  Time     `json:"stopped_at"`
}

// HLSFailed is the data of hls.failure.
type HLSFailed struct {
	BeamRef
	BeamError
	MeetingURL string   `json:"meeting_url"`
	Duration   *float64 `json:"duration"`
}

// RecordingFile is one layer of an HLS recording; layer "0" is the best.
type RecordingFile struct {
	Layer        string `json:"layer"`
	Location     string `json:"location"`
	PresignedURL string `json:"presigned_url"`
}

// Thumbnail is one thumbnail of an HLS recording; Offset is in seconds.
type Thumbnail struct {
	Width    int64  `json:"width"`
	Height   int64  `json:"height"`
	Offset   int64  `json:"offset"`
	Location string `json:"location"`
	URL      string `json:"url"`
}

// HLSRecording is the data of hls.recording.success.
type HLSRecording struct {
	BeamRef
	MeetingURL          string          `json:"meeting_url"`
	Duration            *float64        `json:"duration"`
	CreatedAt           Time            `json:"created_at"`
	StartedAt           Time            `json:"started_at"`
	StoppedAt           Time            `json:"stopped_at"`
	SingleFiles         []RecordingFile `json:"recording_single_files"`
	VODPlaylistLocation string          `json:"recording_hls_vod_playlist_location"`
	Thumbnails          []Thumbnail     `json:"recording_thumbnails"`
}
