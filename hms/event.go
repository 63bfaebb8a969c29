package hms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
	// Replay is true when 100ms marked the delivery is_replay: it resent
	// it on request (POST /analytics/webhooks/replay). Such an event may
	// carry a new id; it is applied like any other.
	Replay bool
	// Type is the "type" field as received, never rewritten: an alias such
	// as TranscriptionFailedAlias stays itself, and Data tells its meaning.
	Type EventType

	// RoomID and SessionID are lifted from the payload, empty when absent.
	RoomID    string
	SessionID string

	// Data is a pointer to the typed payload of Type (*SessionOpen,
	// *PeerJoin, ...; see EventTypes), or nil for a type this package does
	// not know.
	Data any
	// RawData is the "data" object exactly as received.
	RawData json.RawMessage
	// DataProblems lists payload fields that were present but unreadable
	// (wrong JSON type, unparsable timestamp, a string that is not an
	// integer); they are left absent.
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
	// IsReplay is read leniently: a flag of the wrong type must not cost
	// the event.
	IsReplay json.RawMessage `json:"is_replay"`
}

// ParseEvent decodes a webhook body. It fails, wrapping ErrMalformedEvent,
// when the body is not a JSON object or the envelope lacks id, type or a
// parsable timestamp. Unknown types and unreadable payload fields are not
// errors: an event must be kept even when 100ms adds something new.
func ParseEvent(body []byte) (*Event, error) {
	env, err := decodeEnvelope(body)
	if err != nil {
		return nil, err
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
		Replay:     bytes.Equal(bytes.TrimSpace(env.IsReplay), []byte("true")),
		RawData:    env.Data,
	}
	ev.decodeData()
	return ev, nil
}

// decodeEnvelope reads the envelope's members by their exact names:
// encoding/json matches struct fields case-insensitively, which would take
// a "tYpe" or "Timestamp" for the real thing (found by fuzzing the webhook)
// and store an event whose envelope 100ms never sent.
func decodeEnvelope(body []byte) (envelope, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return envelope{}, fmt.Errorf("%w: %v", ErrMalformedEvent, describeJSONError(err))
	}
	if members == nil {
		return envelope{}, fmt.Errorf("%w: body is not a JSON object", ErrMalformedEvent)
	}
	var env envelope
	for name, dst := range map[string]any{
		"version": &env.Version, "id": &env.ID, "app_id": &env.AppID, "account_id": &env.AccountID,
		"template_id": &env.TemplateID, "timestamp": &env.Timestamp, "type": &env.Type,
	} {
		raw, ok := members[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return envelope{}, fmt.Errorf("%w: field %q must be a string", ErrMalformedEvent, name)
		}
	}
	env.Data, env.IsReplay = members["data"], members["is_replay"]
	return env, nil
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
	// Cut at a character boundary: half a UTF-8 character in an error
	// message is a broken string in every log that quotes it.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
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
	collectProblems(reflect.ValueOf(payload).Elem(), "", &ev.DataProblems)
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
			problems = append(problems, describeJSONError(fromKey(err, k)))
			continue
		}
		_ = json.Unmarshal(one, payload)
	}
	return problems
}

// fromKey makes the field path of a type error start at the payload key:
// encoding/json puts the Go names of embedded structs before it
// ("HLSAssets.recording_single_files").
func fromKey(err error, key string) error {
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) {
		return err
	}
	parts := strings.Split(typ.Field, ".")
	if i := slices.Index(parts, key); i > 0 {
		c := *typ
		c.Field = strings.Join(parts[i:], ".")
		return &c
	}
	return err
}

// The reflect.Types of the lenient field types, compared against field types.
var (
	timeType = reflect.TypeFor[Time]()
	intType  = reflect.TypeFor[Int]()
)

// collectProblems walks the payload (its embedded structs, and the structs
// in its slices) for timestamps and integers that were present but
// unreadable, naming each by its JSON path. It reads the invalid flag
// through reflect rather than Interface(), which would copy every field.
func collectProblems(v reflect.Value, prefix string, problems *[]string) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		f := v.Field(i)
		switch {
		case sf.Type == timeType:
			if f.FieldByName("invalid").Bool() {
				*problems = append(*problems, fmt.Sprintf("field %q is not an RFC 3339 time", prefix+sf.Tag.Get("json")))
			}
		case sf.Type == intType:
			if f.FieldByName("invalid").Bool() {
				*problems = append(*problems, fmt.Sprintf("field %q is not an integer", prefix+sf.Tag.Get("json")))
			}
		case sf.Anonymous && sf.Type.Kind() == reflect.Struct:
			collectProblems(f, prefix, problems)
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct:
			for j := range f.Len() {
				collectProblems(f.Index(j), fmt.Sprintf("%s%s[%d].", prefix, sf.Tag.Get("json"), j), problems)
			}
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

// Int is an integer payload field. 100ms documents some numbers as strings
// (size and duration of track and stream recordings) while its samples
// send them as JSON numbers, so both are read: a JSON number (rounded to
// the nearest integer when it has a fraction, as durations are elsewhere)
// or a string of a decimal integer. Null, "" and anything unreadable decode
// to the zero Int, which means absent; unreadable ones are DataProblems.
type Int struct {
	Value   int64
	Valid   bool // false: absent
	invalid bool
}

// Ptr is the value, or nil when absent.
func (n Int) Ptr() *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Value
	return &v
}

// UnmarshalJSON never fails: a bad number must not cost the whole event.
func (n *Int) UnmarshalJSON(b []byte) error {
	*n = Int{}
	switch {
	case bytes.Equal(b, jsonNull):
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			n.invalid = true
			return nil
		}
		if s == "" {
			return nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			n.invalid = true
			return nil
		}
		n.Value, n.Valid = v, true
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		n.invalid = true
		return nil
	}
	if v, err := num.Int64(); err == nil {
		n.Value, n.Valid = v, true
		return nil
	}
	f, err := num.Float64()
	// 2^63 is exact as a float64; anything at or above it overflows int64.
	if err != nil || math.IsNaN(f) || math.Abs(math.Round(f)) >= 1<<63 {
		n.invalid = true
		return nil
	}
	n.Value, n.Valid = int64(math.Round(f)), true
	return nil
}

// MarshalJSON writes an absent Int as null.
func (n Int) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return jsonNull, nil
	}
	return strconv.AppendInt(nil, n.Value, 10), nil
}
