package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestRecordRoomRace: twenty callers on four instances each record a room
// of their own for one appointment (a 100ms that made several rooms under
// a race): every caller gets the first one recorded, and exactly one is
// recorded, in calls and in hmsRooms. Overwrite instead of "take the
// winner" in RecordRoom's transaction and callers disagree.
func TestRecordRoomRace(t *testing.T) {
	s := newStore(t, "demo-room")
	ctx := ctxT(t)
	appt := Appointment{ID: "appt-race", DoctorID: "d", ClientID: "c"}
	start := make(chan struct{})
	rooms := make([]Room, 20)
	errs := make([]error, 20)
	insts := instances(t, "demo-room", 4)
	var wg sync.WaitGroup
	for i := range rooms {
		wg.Go(func() {
			<-start
			// A different id per caller makes a lost or overwritten record
			// visible; 100ms would return one id for one name.
			rooms[i], errs[i] = insts[i%4].RecordRoom(ctx, appt, Room{ID: fmt.Sprintf("room-%d", i), Name: "demo-appt-race", TemplateID: "t"}, nil)
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
	// Another instance finds it recorded, and confirmed by hmsRooms.
	r, ok, err := instances(t, "demo-room", 1)[0].RecordedRoom(ctx, Appointment{ID: "appt-race", Room: rooms[0]})
	if err != nil || !ok || r != rooms[0] {
		t.Errorf("RecordedRoom = %+v, %v, %v", r, ok, err)
	}
}

// TestRecordRoomKeepsEventState: a call document that exists without a
// room (never written so today, but nothing forbids it) gets the room
// merged in, its other fields kept.
func TestRecordRoomKeepsEventState(t *testing.T) {
	s := newStore(t, "demo-room-merge")
	ctx := ctxT(t)
	if _, err := s.callRef("appt-m").Set(ctx, map[string]any{"status": "live", "note": "kept"}); err != nil {
		t.Fatal(err)
	}
	appt := Appointment{ID: "appt-m", DoctorID: "d", ClientID: "c"}
	r, err := s.RecordRoom(ctx, appt, Room{ID: "room-m", Name: "demo-appt-m", TemplateID: "t"}, nil)
	if err != nil || r.ID != "room-m" {
		t.Fatalf("RecordRoom = %+v, %v", r, err)
	}
	call := dump(t, s, "appt-m")["call"].(map[string]any)
	if call["roomId"] != "room-m" || call["status"] != "live" || call["note"] != "kept" || call["sessionCount"] != nil {
		t.Errorf("call = %v, want the room merged and the rest kept", call)
	}
	if n := countDocs(t, s, colRooms); n != 1 {
		t.Errorf("%d hmsRooms documents, want 1", n)
	}
}

// TestAppointmentReadsRoom: the appointment read brings the room recorded
// in calls/{id} and its lock in the same round trip, and RecordedRoom then
// needs Firestore only once per room and instance (its client is closed
// for the second look).
func TestAppointmentReadsRoom(t *testing.T) {
	s := newStore(t, "demo-room-prime")
	seed(t, s, "appt-p", "room-p")
	inst := instances(t, "demo-room-prime", 1)[0]
	ctx := ctxT(t)
	appt, err := inst.AppointmentAndCall(ctx, "appt-p")
	if err != nil || appt.Room.ID != "room-p" || appt.RoomLocked {
		t.Fatalf("appointment = %+v, %v", appt, err)
	}
	if r, ok, err := inst.RecordedRoom(ctx, appt); err != nil || !ok || r.ID != "room-p" {
		t.Fatalf("RecordedRoom = %+v, %v, %v", r, ok, err)
	}
	if err := inst.fs.Close(); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := inst.RecordedRoom(ctx, appt); err != nil || !ok || r.ID != "room-p" {
		t.Errorf("RecordedRoom again = %+v, %v, %v; want room-p without Firestore", r, ok, err)
	}
	if _, err := s.AppointmentAndCall(ctx, "no-such-appt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing appointment: %v, want ErrNotFound", err)
	}
}

// TestRecordedRoomNeedsHmsRooms: a roomId in calls/{id} that hmsRooms does
// not confirm for the same appointment (written by anyone but RecordRoom:
// a client, were the rules open; another appointment's room) is never
// used. Return appt.Room unchecked and this fails.
func TestRecordedRoomNeedsHmsRooms(t *testing.T) {
	s := newStore(t, "demo-room-owner")
	seed(t, s, "appt-owner", "room-shared")
	ctx := ctxT(t)
	for _, tc := range []struct{ name, room string }{
		{"another appointment's room", "room-shared"},
		{"a room hmsRooms does not know", "room-unknown"},
	} {
		_, ok, err := s.RecordedRoom(ctx, Appointment{ID: "appt-other", Room: Room{ID: tc.room}})
		if ok || !errors.Is(err, ErrConflict) {
			t.Errorf("%s: ok %v, %v; want ErrConflict", tc.name, ok, err)
		}
	}
	if _, ok, err := s.RecordedRoom(ctx, Appointment{ID: "appt-other"}); ok || err != nil {
		t.Errorf("no room: ok %v, %v", ok, err)
	}
}

// TestRecordRoomRefusesAnotherAppointmentsRoom: if 100ms hands back a room
// that another appointment recorded, it is not taken over: the call gets
// no room and hmsRooms keeps its owner.
func TestRecordRoomRefusesAnotherAppointmentsRoom(t *testing.T) {
	s := newStore(t, "demo-room-taken")
	seed(t, s, "appt-owner", "room-shared")
	ctx := ctxT(t)
	_, err := s.RecordRoom(ctx, Appointment{ID: "appt-other", DoctorID: "d", ClientID: "c"}, Room{ID: "room-shared", Name: "demo-appt-other"}, nil)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("RecordRoom with another appointment's room: %v, want ErrConflict", err)
	}
	snap, err := s.roomRef("room-shared").Get(ctx)
	if err != nil || snap.Data()["appointmentId"] != "appt-owner" {
		t.Errorf("hmsRooms/room-shared = %v (%v), want it still owned by appt-owner", snap.Data(), err)
	}
	if snap, _ := s.callRef("appt-other").Get(ctx); snap != nil && snap.Exists() {
		t.Errorf("calls/appt-other written: %v", snap.Data())
	}
}

// TestStoreErrorsAreTheStores: callers decide on the store's own errors,
// never on gRPC codes.
func TestStoreErrorsAreTheStores(t *testing.T) {
	s := newStore(t, "demo-room-errs")
	ctx := ctxT(t)
	if _, err := s.AppointmentAndCall(ctx, "nope"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
		t.Errorf("missing appointment: %v", err)
	}
	if err := s.fs.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppointmentAndCall(ctx, "any"); errors.Is(err, ErrNotFound) || err == nil {
		t.Errorf("closed client: %v, want an error that is not ErrNotFound", err)
	}
}
