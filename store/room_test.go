package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func TestEnsureRoomRace(t *testing.T) {
	s := newStore(t, "demo-room")
	ctx := ctxT(t)
	appt := Appointment{ID: "appt-race", DoctorID: "d", ClientID: "c"}
	var calls atomic.Int32
	start := make(chan struct{})
	rooms := make([]Room, 20)
	errs := make([]error, 20)
	// Four instances: racing callers meet both in one instance and in
	// Firestore.
	insts := instances(t, "demo-room", 4)
	var wg sync.WaitGroup
	for i := range rooms {
		wg.Go(func() {
			<-start
			rooms[i], errs[i] = insts[i%4].EnsureRoom(ctx, appt, func(context.Context) (Room, error) {
				n := calls.Add(1)
				// A different id per caller makes a lost or overwritten
				// record visible; 100ms would return one id for one name.
				return Room{ID: fmt.Sprintf("room-%d", n), Name: "demo-appt-race", TemplateID: "t"}, nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i := range rooms {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if rooms[i] != rooms[0] {
			t.Errorf("caller %d got %+v, caller 0 got %+v", i, rooms[i], rooms[0])
		}
	}
	call := dump(t, s, "appt-race")["call"].(map[string]any)
	if call["roomId"] != rooms[0].ID || call["status"] != "idle" || call["doctorId"] != "d" {
		t.Errorf("call = %v, want roomId %s", call, rooms[0].ID)
	}
	if n := countDocs(t, s, colRooms); n != 1 {
		t.Errorf("%d hmsRooms documents, want 1", n)
	}
	// Later calls reuse the room without creating.
	r, err := s.EnsureRoom(ctx, appt, func(context.Context) (Room, error) { t.Error("create called again"); return Room{}, nil })
	if err != nil || r != rooms[0] {
		t.Errorf("EnsureRoom again = %+v, %v", r, err)
	}
}

// TestEnsureRoomKeepsEventState: a call document that exists without a room
// (never written so today, but nothing forbids it) gets the room merged in,
// its other fields kept.
func TestEnsureRoomKeepsEventState(t *testing.T) {
	s := newStore(t, "demo-room-merge")
	ctx := ctxT(t)
	if _, err := s.callRef("appt-m").Set(ctx, map[string]any{"status": "live", "note": "kept"}); err != nil {
		t.Fatal(err)
	}
	appt := Appointment{ID: "appt-m", DoctorID: "d", ClientID: "c"}
	r, err := s.EnsureRoom(ctx, appt, func(context.Context) (Room, error) {
		return Room{ID: "room-m", Name: "demo-appt-m", TemplateID: "t"}, nil
	})
	if err != nil || r.ID != "room-m" {
		t.Fatalf("EnsureRoom = %+v, %v", r, err)
	}
	call := dump(t, s, "appt-m")["call"].(map[string]any)
	if call["roomId"] != "room-m" || call["status"] != "live" || call["note"] != "kept" || call["sessionCount"] != nil {
		t.Errorf("call = %v, want the room merged and the rest kept", call)
	}
	if n := countDocs(t, s, colRooms); n != 1 {
		t.Errorf("%d hmsRooms documents, want 1", n)
	}
}

// TestAppointmentPrimesRoom: an instance that reads an appointment whose
// room another instance recorded knows the room from that same read, so
// that EnsureRoom needs Firestore no more (its client is closed here).
func TestAppointmentPrimesRoom(t *testing.T) {
	s := newStore(t, "demo-room-prime")
	seed(t, s, "appt-p", "room-p")
	inst := instances(t, "demo-room-prime", 1)[0]
	ctx := ctxT(t)
	appt, err := inst.Appointment(ctx, "appt-p")
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.fs.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := inst.EnsureRoom(ctx, appt, func(context.Context) (Room, error) {
		t.Error("create called for a recorded room")
		return Room{}, nil
	})
	if err != nil || r.ID != "room-p" {
		t.Errorf("EnsureRoom after the appointment read = %+v, %v; want room-p without Firestore", r, err)
	}
	if _, err := s.Appointment(ctx, "no-such-appt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing appointment: %v, want ErrNotFound", err)
	}
}

// TestEnsureRoomRefusesAnotherAppointmentsRoom: if 100ms hands back a room
// that another appointment recorded, it is not taken over: the call gets
// no room and hmsRooms keeps its owner.
func TestEnsureRoomRefusesAnotherAppointmentsRoom(t *testing.T) {
	s := newStore(t, "demo-room-taken")
	seed(t, s, "appt-owner", "room-shared")
	ctx := ctxT(t)
	_, err := s.EnsureRoom(ctx, Appointment{ID: "appt-other", DoctorID: "d", ClientID: "c"}, func(context.Context) (Room, error) {
		return Room{ID: "room-shared", Name: "demo-appt-other"}, nil
	})
	if !errors.Is(err, ErrRoomTaken) {
		t.Fatalf("EnsureRoom with another appointment's room: %v, want ErrRoomTaken", err)
	}
	snap, err := s.fs.Collection(colRooms).Doc("room-shared").Get(ctx)
	if err != nil || snap.Data()["appointmentId"] != "appt-owner" {
		t.Errorf("hmsRooms/room-shared = %v (%v), want it still owned by appt-owner", snap.Data(), err)
	}
	if snap, _ := s.callRef("appt-other").Get(ctx); snap != nil && snap.Exists() {
		t.Errorf("calls/appt-other written: %v", snap.Data())
	}
}
