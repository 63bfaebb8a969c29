package store

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Appointment is the part of appointments/{id} these functions read. A zero
// StartAt or EndAt means the bound is absent.
type Appointment struct {
	ID, DoctorID, ClientID, Status string
	StartAt, EndAt                 time.Time
}

// Appointment reads appointments/{id}. It fails with ErrNotFound when the
// document does not exist and with ErrMalformedAppointment when doctorId or
// clientId is missing, empty or not a string, or an optional field has the
// wrong type.
func (s *Store) Appointment(ctx context.Context, id string) (Appointment, error) {
	if !validID(id) {
		return Appointment{}, wrapf(ErrNotFound, "read appointment %q", id)
	}
	snap, err := s.readAppointment(ctx, id)
	if err != nil {
		return Appointment{}, wrapf(err, "read appointment %s", id)
	}
	if !snap.Exists() {
		return Appointment{}, wrapf(ErrNotFound, "read appointment %s", id)
	}
	data := snap.Data()
	a := Appointment{ID: id}
	var problems []string
	str := func(field string, required bool) string {
		v, ok := data[field]
		if !ok || v == nil {
			if required {
				problems = append(problems, field+" is missing")
			}
			return ""
		}
		s, ok := v.(string)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is a %T, not a string", field, v))
			return ""
		}
		if required && s == "" {
			problems = append(problems, field+" is empty")
		}
		return s
	}
	tm := func(field string) time.Time {
		v, ok := data[field]
		if !ok || v == nil {
			return time.Time{}
		}
		t, ok := v.(time.Time)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is a %T, not a timestamp", field, v))
		}
		return t
	}
	a.DoctorID = str("doctorId", true)
	a.ClientID = str("clientId", true)
	a.Status = str("status", false)
	a.StartAt = tm("startAt")
	a.EndAt = tm("endAt")
	if len(problems) > 0 {
		// The fields that could be read come back too, so that a caller can
		// tell a participant of a broken record from a stranger.
		return a, wrapf(fmt.Errorf("%w: %v", ErrMalformedAppointment, problems), "read appointment %s", id)
	}
	return a, nil
}

// readAppointment reads appointments/{id}. Until this instance knows the
// appointment's room, it reads calls/{id} in the same round trip and
// remembers the room recorded there, if any: the hmsToken call that reads
// an appointment goes on to EnsureRoom, which then needs no read of its own
// when a room is recorded (the common cold-instance case).
func (s *Store) readAppointment(ctx context.Context, id string) (*firestore.DocumentSnapshot, error) {
	ref := s.fs.Collection(colAppointments).Doc(id)
	if _, known := s.callRooms.Load(id); known {
		snap, err := ref.Get(ctx)
		if status.Code(err) == codes.NotFound {
			return snap, nil // snap.Exists() is false
		}
		return snap, err
	}
	snaps, err := s.fs.GetAll(ctx, []*firestore.DocumentRef{ref, s.callRef(id)})
	if err != nil {
		return nil, err
	}
	if r, ok := roomOf(snaps[1]); ok {
		s.callRooms.Store(id, r)
	}
	return snaps[0], nil
}
