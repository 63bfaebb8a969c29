package store

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestAppointment(t *testing.T) {
	s := newStore(t, "demo-appointment")
	ctx := ctxT(t)
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	docs := map[string]map[string]any{
		"ok":         {"doctorId": "d", "clientId": "c", "status": "Cancelled", "startAt": start, "endAt": start.Add(time.Hour), "guestIds": []any{"g1", "g2"}},
		"bad-guests": {"doctorId": "d", "clientId": "c", "guestIds": "g1"},
		"num-guest":  {"doctorId": "d", "clientId": "c", "guestIds": []any{"g1", 7}},
		"no-doctor":  {"clientId": "c"},
		"no-client":  {"doctorId": "d"},
		"num-doctor": {"doctorId": 42, "clientId": "c"},
		"nil-client": {"doctorId": "d", "clientId": nil},
		"bad-start":  {"doctorId": "d", "clientId": "c", "startAt": "tomorrow"},
	}
	for id, d := range docs {
		if _, err := s.fs.Collection(colAppointments).Doc(id).Set(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.AppointmentAndCall(ctx, "ok")
	want := Appointment{ID: "ok", DoctorID: "d", ClientID: "c", Status: "Cancelled", StartAt: start, EndAt: start.Add(time.Hour), GuestIDs: []string{"g1", "g2"}}
	if err != nil || !reflect.DeepEqual(a, want) {
		t.Errorf("Appointment(ok) = %+v, %v; want %+v", a, err, want)
	}
	for _, id := range []string{"missing", "a/b", ""} {
		if _, err := s.AppointmentAndCall(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Appointment(%q) error = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"no-doctor", "no-client", "num-doctor", "nil-client", "bad-start", "bad-guests", "num-guest"} {
		if _, err := s.AppointmentAndCall(ctx, id); !errors.Is(err, ErrMalformedAppointment) {
			t.Errorf("Appointment(%q) error = %v, want ErrMalformedAppointment", id, err)
		}
	}
}
