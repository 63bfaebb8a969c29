package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/internal/emulatortest"
)

func TestAppointment(t *testing.T) {
	s := newStore(t, "demo-appointment")
	ctx := ctxT(t)
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	docs := map[string]map[string]any{
		"ok":         {"doctorId": "d", "clientId": "c", "status": "Cancelled", "startAt": start, "endAt": start.Add(time.Hour)},
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
	a, err := s.Appointment(ctx, "ok")
	want := Appointment{ID: "ok", DoctorID: "d", ClientID: "c", Status: "Cancelled", StartAt: start, EndAt: start.Add(time.Hour)}
	if err != nil || a != want {
		t.Errorf("Appointment(ok) = %+v, %v; want %+v", a, err, want)
	}
	for _, id := range []string{"missing", "a/b", ""} {
		if _, err := s.Appointment(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Appointment(%q) error = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"no-doctor", "no-client", "num-doctor", "nil-client", "bad-start"} {
		if _, err := s.Appointment(ctx, id); !errors.Is(err, ErrMalformedAppointment) {
			t.Errorf("Appointment(%q) error = %v, want ErrMalformedAppointment", id, err)
		}
	}
}

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

func TestApplyExactlyOnce(t *testing.T) {
	rng := newRand()
	evs := history(rng, "x", "room-x", 1, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	// One event of each type, so one of each path: blind, blind with a
	// create (join, stream statuses, recording failures), and transaction
	// (open, close, role change, leave without duration).
	byType := map[string][]byte{}
	for _, e := range evs {
		ev, _ := hms.ParseEvent(e.raw)
		if _, ok := byType[string(ev.Type)]; !ok {
			byType[string(ev.Type)] = e.raw
		}
	}
	once := newStore(t, "demo-once-ref")
	seed(t, once, "appt-x", "room-x")
	s := newStore(t, "demo-once")
	seed(t, s, "appt-x", "room-x")
	for typ, raw := range byType {
		apply(t, once, raw)
		var dups atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if apply(t, s, raw).Duplicate {
					dups.Add(1)
				}
			})
		}
		wg.Wait()
		if dups.Load() != 9 {
			t.Errorf("%s: %d of 10 applications were duplicates, want 9", typ, dups.Load())
		}
	}
	if got, want := countDocs(t, s, colEvents), len(byType); got != want {
		t.Errorf("%d hmsEvents documents, want %d", got, want)
	}
	var d []string
	diff(dump(t, once, "appt-x"), dump(t, s, "appt-x"), "", &d)
	if len(d) > 0 {
		t.Errorf("state after 10 concurrent applications differs from one:\n%v", d)
	}
}

func TestApplyUnknownRoom(t *testing.T) {
	s := newStore(t, "demo-unknown")
	seed(t, s, "appt-k", "room-known")
	raw := []byte(`{"version":"2.0","id":"ev-u1","timestamp":"2026-11-23T09:00:00Z","type":"peer.join.success","data":{"room_id":"room-other","session_id":"sx","peer_id":"p","role":"host","joined_at":"2026-11-23T09:00:00Z"}}`)
	res := apply(t, s, raw)
	if res.AppointmentID != "" || res.Duplicate {
		t.Errorf("result = %+v", res)
	}
	snap, err := s.fs.Collection(colEvents).Doc("ev-u1").Get(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	d := snap.Data()
	if d["raw"] != string(raw) || d["roomId"] != "room-other" || d["sessionId"] != "sx" || d["appointmentId"] != nil || d["type"] != "peer.join.success" {
		t.Errorf("hmsEvents doc = %v", d)
	}
	if n := countDocs(t, s, colCalls); n != 1 {
		t.Errorf("%d calls, want only the seeded one", n)
	}
	if docs, _ := s.callRef("appt-k").Collection(colSessions).Documents(ctxT(t)).GetAll(); len(docs) != 0 {
		t.Errorf("sessions written for an unknown room")
	}
	// An unknown type for a known room is stored raw too.
	raw2 := []byte(`{"version":"2.0","id":"ev-u2","timestamp":"2026-11-23T09:00:00Z","type":"transcription.started.success","data":{"room_id":"room-known","session_id":"s1"}}`)
	if res := apply(t, s, raw2); res.AppointmentID != "appt-k" {
		t.Errorf("unknown type result = %+v", res)
	}
}

// TestApplyOutage pauses the emulator: ApplyEvent must give up at the
// caller's deadline with a status the caller can map to 503.
func TestApplyOutage(t *testing.T) {
	s := newStore(t, "demo-outage")
	seed(t, s, "appt-o", "room-o")
	emu := emulatortest.FirestoreProcess()
	if emu == nil {
		t.Skip("emulator not started by this test binary; cannot pause it")
	}
	if err := emu.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = emu.Resume() }()
	for i, raw := range []string{
		`{"version":"2.0","id":"ev-o1","timestamp":"2026-11-23T09:00:00Z","type":"peer.leave.success","data":{"room_id":"room-o","session_id":"s","peer_id":"p","duration":3,"left_at":"2026-11-23T09:00:00Z"}}`,
		`{"version":"2.0","id":"ev-o2","timestamp":"2026-11-23T09:00:00Z","type":"session.open.success","data":{"room_id":"room-o","session_id":"s"}}`,
	} {
		ev, err := hms.ParseEvent([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		begin := time.Now()
		_, err = s.ApplyEvent(ctx, ev, []byte(raw))
		cancel()
		if took := time.Since(begin); took > 3*time.Second {
			t.Errorf("event %d: returned after %v, want about the deadline", i, took)
		}
		if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Unavailable {
			t.Errorf("event %d: error %v has code %v, want DeadlineExceeded or Unavailable", i, err, c)
		}
	}
	if _, err := func() (Appointment, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		return s.Appointment(ctx, "appt-o")
	}(); status.Code(err) != codes.DeadlineExceeded && status.Code(err) != codes.Unavailable {
		t.Errorf("Appointment during outage: %v (code %v)", err, status.Code(err))
	}
}

func TestReconcileSession(t *testing.T) {
	s := newStore(t, "demo-reconcile")
	seed(t, s, "appt-r", "room-r")
	join := []byte(`{"version":"2.0","id":"ev-r1","timestamp":"2026-11-23T09:00:05Z","type":"peer.join.success","data":{"room_id":"room-r","session_id":"s1","peer_id":"p1","user_id":"u1","user_name":"Ann","role":"host","joined_at":"2026-11-23T09:00:05.5Z"}}`)
	apply(t, s, join)
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	err := s.ReconcileSession(ctxT(t), "appt-r", "s1", []PeerRecord{
		// Event-written fields differ here and must stand.
		{PeerID: "p1", UserID: "other", UserName: "Other", Role: "guest", JoinedAt: t0, LeftAt: t0.Add(10 * time.Minute)},
		{PeerID: "p2", UserID: "u2", UserName: "Bob", Role: "guest", JoinedAt: t0.Add(time.Minute), LeftAt: t0.Add(9 * time.Minute)},
	})
	if err != nil {
		t.Fatal(err)
	}
	peers := dump(t, s, "appt-r")[colSessions].(map[string]any)["s1"].(map[string]any)["peers"].(map[string]any)
	p1 := peers["p1"].(map[string]any)
	if p1["userId"] != "u1" || p1["userName"] != "Ann" || p1["role"] != "host" ||
		!p1["joinedAt"].(time.Time).Equal(t0.Add(5500*time.Millisecond)) {
		t.Errorf("event-written fields overwritten: %v", p1)
	}
	if !p1["leftAt"].(time.Time).Equal(t0.Add(10*time.Minute)) || p1["durationSec"] != int64(595) {
		t.Errorf("missing leftAt/duration not filled: %v", p1)
	}
	p2 := peers["p2"].(map[string]any)
	if p2["userId"] != "u2" || p2["durationSec"] != int64(480) {
		t.Errorf("unrecorded peer not added: %v", p2)
	}
	// A leave arriving afterwards still wins over what reconciliation filled.
	leave := []byte(`{"version":"2.0","id":"ev-r2","timestamp":"2026-11-23T09:09:00Z","type":"peer.leave.success","data":{"room_id":"room-r","session_id":"s1","peer_id":"p1","user_id":"u1","user_name":"Ann","duration":535,"reason":"client request","left_at":"2026-11-23T09:09:00Z"}}`)
	apply(t, s, leave)
	peers = dump(t, s, "appt-r")[colSessions].(map[string]any)["s1"].(map[string]any)["peers"].(map[string]any)
	if p := peers["p1"].(map[string]any); p["durationSec"] != int64(535) || p["leaveReason"] != "client request" {
		t.Errorf("leave after reconcile: %v", p)
	}
}
