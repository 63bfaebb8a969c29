package store

import (
	"context"
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
	var wg sync.WaitGroup
	for i := range rooms {
		wg.Go(func() {
			<-start
			rooms[i], errs[i] = s.EnsureRoom(ctx, appt, func(context.Context) (Room, error) {
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
