package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// Appointment is the part of appointments/{id} these functions read. A zero
// StartAt or EndAt means the bound is absent.
type Appointment struct {
	ID, DoctorID, ClientID, Status string
	StartAt, EndAt                 time.Time

	// Room is the room calls/{id} names, read in the same round trip;
	// zero when none is recorded. RecordedRoom checks it before use.
	Room Room
	// RoomLocked is true while the room hmsEndCall locked has not been
	// re-enabled (calls/{id}.endedBy.lock).
	RoomLocked bool
	// GuestIDs are the further participants the doctor expects
	// (guestIds: an interpreter, a caregiver).
	GuestIDs []string

	// Call is the state of calls/{id} the callables decide on.
	Call CallState
}

// CallState is what calls/{id} says of the call now: whether it is live,
// who is in it, who was admitted and who consented to recording, and the
// recording hmsRecording controls.
type CallState struct {
	// DoctorID and ClientID are the participants the call document names
	// (RecordParticipants keeps them equal to the appointment's).
	DoctorID, ClientID string
	Live               bool
	InCall             map[string]string // uid → current 100ms role
	Admitted           map[string]bool
	Removed            map[string]bool // uid → removed by the doctor (hmsRemove)
	Consent            map[string]bool // uid → consented to recording
	Recording          RecordingControl
}

// RecordingControl is calls/{id}.recordingControl.
type RecordingControl struct {
	State, HMSRecordingID, StartedBy string
}

// Recording states, in the order a recording goes through them.
const (
	RecordingStarting = "starting"
	RecordingRunning  = "running"
	RecordingStopped  = "stopped"
)

// RecordingOn reports whether a recording hmsRecording started is starting
// or running.
func (c CallState) RecordingOn() bool {
	return c.Recording.State == RecordingStarting || c.Recording.State == RecordingRunning
}

// AppointmentAndCall reads appointments/{id}, and calls/{id} in the same
// round trip (the room and its lock, presence, admissions, consents and the
// recording control: what the callables decide on). It fails with ErrNotFound when the
// document does not exist and with ErrMalformedAppointment when doctorId or
// clientId is missing, empty or not a string, or an optional field has the
// wrong type.
func (s *Store) AppointmentAndCall(ctx context.Context, id string) (Appointment, error) {
	if !validID(id) {
		return Appointment{}, wrapf(ErrNotFound, "read appointment %q", id)
	}
	snaps, err := s.fs.GetAll(ctx, []*firestore.DocumentRef{s.fs.Collection(colAppointments).Doc(id), s.callRef(id)})
	if err != nil {
		return Appointment{}, wrapf(err, "read appointment %s", id)
	}
	snap := snaps[0]
	if !snap.Exists() {
		return Appointment{}, wrapf(ErrNotFound, "read appointment %s", id)
	}
	a, problems := appointmentOf(id, snap.Data())
	a.Room, _ = roomOf(snaps[1])
	if snaps[1].Exists() {
		call := snaps[1].Data()
		a.RoomLocked, _ = mapAt(call, "endedBy")["lock"].(bool)
		a.Call = callStateOf(call)
	}
	if len(problems) > 0 {
		// The fields that could be read come back too, so that a caller can
		// tell a participant of a broken record from a stranger.
		return a, wrapf(fmt.Errorf("%w: %v", ErrMalformedAppointment, problems), "read appointment %s", id)
	}
	return a, nil
}

// appointmentOf reads an appointment document's fields, and says what is
// wrong with any of them.
func appointmentOf(id string, data map[string]any) (Appointment, []string) {
	f := fieldReader{data: data}
	a := Appointment{
		ID:       id,
		DoctorID: f.str("doctorId", true),
		ClientID: f.str("clientId", true),
		Status:   f.str("status", false),
		StartAt:  f.time("startAt"),
		EndAt:    f.time("endAt"),
		GuestIDs: f.uids("guestIds"),
	}
	return a, f.problems
}

// fieldReader reads fields of a document written by the app, noting each
// that is missing where required, or of the wrong type.
type fieldReader struct {
	data     map[string]any
	problems []string
}

func (f *fieldReader) str(field string, required bool) string {
	v, ok := f.data[field]
	if !ok || v == nil {
		if required {
			f.problems = append(f.problems, field+" is missing")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		f.problems = append(f.problems, fmt.Sprintf("%s is a %T, not a string", field, v))
		return ""
	}
	if required && s == "" {
		f.problems = append(f.problems, field+" is empty")
	}
	return s
}

func (f *fieldReader) time(field string) time.Time {
	v, ok := f.data[field]
	if !ok || v == nil {
		return time.Time{}
	}
	t, ok := v.(time.Time)
	if !ok {
		f.problems = append(f.problems, fmt.Sprintf("%s is a %T, not a timestamp", field, v))
	}
	return t
}

// uids reads an optional array of uids.
func (f *fieldReader) uids(field string) []string {
	v, ok := f.data[field]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		f.problems = append(f.problems, fmt.Sprintf("%s is a %T, not an array", field, v))
		return nil
	}
	var out []string
	for _, g := range list {
		uid, ok := g.(string)
		if !ok || uid == "" {
			f.problems = append(f.problems, field+" holds something other than a uid")
			break
		}
		out = append(out, uid)
	}
	return out
}

func callStateOf(call map[string]any) CallState {
	c := CallState{DoctorID: strAt(call, "doctorId"), ClientID: strAt(call, "clientId"),
		Live: strAt(call, "status") == statusLive, InCall: map[string]string{},
		Admitted: map[string]bool{}, Removed: map[string]bool{}, Consent: map[string]bool{}}
	for uid := range removedOf(call) {
		c.Removed[uid] = true
	}
	for uid, v := range mapAt(call, "inCall") {
		if m, ok := v.(map[string]any); ok {
			c.InCall[uid] = strAt(m, "role")
		}
	}
	for uid, v := range mapAt(call, "admitted") {
		if _, ok := v.(map[string]any); ok {
			c.Admitted[uid] = true
		}
	}
	for uid, v := range mapAt(call, "consent") {
		if m, ok := v.(map[string]any); ok {
			c.Consent[uid], _ = m["recording"].(bool)
		}
	}
	rc := mapAt(call, "recordingControl")
	c.Recording = RecordingControl{State: strAt(rc, "state"), HMSRecordingID: strAt(rc, "hmsRecordingId"), StartedBy: strAt(rc, "startedBy")}
	return c
}
