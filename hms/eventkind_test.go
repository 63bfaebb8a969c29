package hms

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// wantPayloads is each understood type's payload type, written out here
// apart from eventKinds, so that a row that names the wrong payload (a
// copied row: beam.stopped.success decoded as *BeamStarted, whose fields
// are much the same) fails here rather than in a merge rule downstream.
var wantPayloads = map[EventType]any{
	SessionOpenSuccess:           new(SessionOpen),
	SessionCloseSuccess:          new(SessionClose),
	PeerJoinSuccess:              new(PeerJoin),
	PeerLeaveSuccess:             new(PeerLeave),
	PeerJoinFailure:              new(PeerJoinFailed),
	PeerLeaveFailure:             new(PeerLeaveFailed),
	RoomEndSuccess:               new(RoomEnd),
	RoomEndFailure:               new(RoomEndFailed),
	RoleChangeSuccess:            new(RoleChange),
	RoleChangeFailure:            new(RoleChangeFailed),
	RecordingSuccess:             new(Recording),
	RecordingFailed:              new(RecordingFailure),
	BeamStartedSuccess:           new(BeamStarted),
	BeamStoppedSuccess:           new(BeamStopped),
	BeamRecordingSuccess:         new(BeamRecording),
	BeamFailure:                  new(BeamFailed),
	HLSStartedSuccess:            new(HLSStarted),
	HLSStoppedSuccess:            new(HLSStopped),
	HLSRecordingSuccess:          new(HLSRecording),
	HLSFailure:                   new(HLSFailed),
	TrackRecordingStartedSuccess: new(TrackRecordingStarted),
	TrackRecordingSuccess:        new(TrackRecording),
	TrackRecordingFailure:        new(TrackRecordingFailed),
	StreamRecordingSuccess:       new(StreamRecording),
	StreamRecordingFailure:       new(StreamRecordingFailed),
	TranscriptionStartedSuccess:  new(TranscriptionStarted),
	TranscriptionSuccess:         new(Transcription),
	TranscriptionFailure:         new(TranscriptionFailed),
	TranscriptionFailedAlias:     new(TranscriptionFailed),
}

// TestEventKindPayloads: every row's constructor yields a new, zero payload
// of its type's payload type, newPayload and ParseEvent give the same, and
// every type with a payload here has its row.
func TestEventKindPayloads(t *testing.T) {
	rows := map[EventType]bool{}
	for _, k := range eventKinds {
		rows[k.typ] = true
		want, ok := wantPayloads[k.typ]
		if !ok {
			t.Errorf("%s: no payload type in wantPayloads: add the new kind's there too", k.typ)
			continue
		}
		a, b := k.payload(), k.payload()
		if reflect.TypeOf(a) != reflect.TypeOf(want) {
			t.Errorf("%s: payload %T, want %T", k.typ, a, want)
			continue
		}
		if v := reflect.ValueOf(a); v.Kind() != reflect.Pointer || v.IsNil() || !v.Elem().IsZero() {
			t.Errorf("%s: payload %#v, want a pointer to a zero struct", k.typ, a)
		}
		if a == b {
			t.Errorf("%s: the constructor returned the same payload twice: events would share it", k.typ)
		}
		if got := newPayload(k.typ); reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("newPayload(%s) = %T, want %T", k.typ, got, want)
		}
		body := fmt.Sprintf(`{"id":"e-1","type":%q,"timestamp":"2026-12-02T10:00:00Z","data":{"room_id":"r-1"}}`, k.typ)
		ev, err := ParseEvent([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", k.typ, err)
			continue
		}
		if reflect.TypeOf(ev.Data) != reflect.TypeOf(want) || ev.Type != k.typ || len(ev.DataProblems) > 0 {
			t.Errorf("ParseEvent of %s: type %s, data %T, problems %q; want data %T", k.typ, ev.Type, ev.Data, ev.DataProblems, want)
		}
	}
	for typ := range wantPayloads {
		if !rows[typ] {
			t.Errorf("%s has no row in eventKinds", typ)
		}
	}
	for _, typ := range []EventType{"ingest.started.success", "", "Session.Open.Success"} {
		if p := newPayload(typ); p != nil {
			t.Errorf("newPayload(%q) = %T, want nil for a type this package does not know", typ, p)
		}
	}
}

// TestEventTypes: each understood type once, in the table's order (the
// original samples' 18 first), the same on every call, in a slice the
// caller may change.
func TestEventTypes(t *testing.T) {
	types := EventTypes()
	seen := map[EventType]bool{}
	for _, typ := range types {
		if seen[typ] {
			t.Errorf("%s is listed twice", typ)
		}
		seen[typ] = true
	}
	if len(types) != len(eventKinds) || len(types) != len(wantPayloads) {
		t.Errorf("%d types, %d rows, %d payload types: want as many", len(types), len(eventKinds), len(wantPayloads))
	}
	if !slices.Equal(types[:len(allEventTypes)], allEventTypes) {
		t.Errorf("EventTypes starts with %v, want the original samples' %v", types[:len(allEventTypes)], allEventTypes)
	}
	types[0] = "changed"
	if again := EventTypes(); again[0] != SessionOpenSuccess || !slices.Equal(again[1:], types[1:]) {
		t.Errorf("a second call gives %v: want the same list, not the caller's changes", again)
	}
}
