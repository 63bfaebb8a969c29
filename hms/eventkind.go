package hms

// The event kinds ParseEvent understands, registered once: eventKinds
// below. A new kind is one row there and its payload struct (and a
// constant here when code elsewhere names the type); EventTypes and
// ParseEvent follow from the table.

// EventType names a 100ms webhook event, as in its "type" field.
type EventType string

// The event types of the original samples (reference:
// 100ms-webhook-events.txt).
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

// The event types of 100ms's current documentation that change a call
// (reference: 100ms-current/configure-webhooks--webhook.md).
const (
	RoomEndFailure               EventType = "room.end.failure"
	RoleChangeFailure            EventType = "role.change.failure"
	TrackRecordingStartedSuccess EventType = "track.recording.started.success"
	TrackRecordingSuccess        EventType = "track.recording.success"
	TrackRecordingFailure        EventType = "track.recording.failure"
	StreamRecordingSuccess       EventType = "stream.recording.success"
	StreamRecordingFailure       EventType = "stream.recording.failure"
	TranscriptionStartedSuccess  EventType = "transcription.started.success"
	TranscriptionSuccess         EventType = "transcription.success"
	TranscriptionFailure         EventType = "transcription.failure"
	// TranscriptionFailedAlias is another name 100ms has used for
	// transcription.failure (docs/data-model.md); it decodes to the same
	// *TranscriptionFailed, and Event.Type keeps the name as received.
	TranscriptionFailedAlias EventType = "transcription.failed"
)

// eventKind is one understood event type and the constructor of its
// payload: a new, zero value, as a pointer (*SessionOpen, ...).
type eventKind struct {
	typ     EventType
	payload func() any
}

// kind is the row of type t, whose payload is a *P.
func kind[P any](t EventType) eventKind {
	return eventKind{typ: t, payload: func() any { return new(P) }}
}

// eventKinds is the one table of the event types ParseEvent decodes into a
// typed payload, in the order EventTypes lists them: the original samples'
// first, then those of the current documentation. Its test checks each
// row's payload type and that no type is there twice.
var eventKinds = []eventKind{
	kind[SessionOpen](SessionOpenSuccess),
	kind[SessionClose](SessionCloseSuccess),
	kind[PeerJoin](PeerJoinSuccess),
	kind[PeerLeave](PeerLeaveSuccess),
	kind[PeerJoinFailed](PeerJoinFailure),
	kind[PeerLeaveFailed](PeerLeaveFailure),
	kind[RoomEnd](RoomEndSuccess),
	kind[RoleChange](RoleChangeSuccess),
	kind[Recording](RecordingSuccess),
	kind[RecordingFailure](RecordingFailed),
	kind[BeamStarted](BeamStartedSuccess),
	kind[BeamStopped](BeamStoppedSuccess),
	kind[BeamRecording](BeamRecordingSuccess),
	kind[BeamFailed](BeamFailure),
	kind[HLSStarted](HLSStartedSuccess),
	kind[HLSStopped](HLSStoppedSuccess),
	kind[HLSRecording](HLSRecordingSuccess),
	kind[HLSFailed](HLSFailure),

	kind[RoomEndFailed](RoomEndFailure),
	kind[RoleChangeFailed](RoleChangeFailure),
	kind[TrackRecordingStarted](TrackRecordingStartedSuccess),
	kind[TrackRecording](TrackRecordingSuccess),
	kind[TrackRecordingFailed](TrackRecordingFailure),
	kind[StreamRecording](StreamRecordingSuccess),
	kind[StreamRecordingFailed](StreamRecordingFailure),
	kind[TranscriptionStarted](TranscriptionStartedSuccess),
	kind[Transcription](TranscriptionSuccess),
	kind[TranscriptionFailed](TranscriptionFailure),
	kind[TranscriptionFailed](TranscriptionFailedAlias),
}

// payloads is eventKinds by type, for ParseEvent's one look-up per event.
var payloads = func() map[EventType]func() any {
	m := make(map[EventType]func() any, len(eventKinds))
	for _, k := range eventKinds {
		m[k.typ] = k.payload
	}
	return m
}()

// EventTypes lists every type ParseEvent decodes into a typed payload,
// each once, always in the same order (the table's); the slice is the
// caller's. A table elsewhere keyed by event type (the store's plans) can
// check against it that it misses no kind.
func EventTypes() []EventType {
	types := make([]EventType, len(eventKinds))
	for i, k := range eventKinds {
		types[i] = k.typ
	}
	return types
}

// newPayload is a new zero payload of type t, or nil for a type this
// package does not know.
func newPayload(t EventType) any {
	if p, ok := payloads[t]; ok {
		return p()
	}
	return nil
}
