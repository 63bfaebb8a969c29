package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/internal/emulatortest"
)

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
	// Ten instances, so that every delivery reaches Firestore's guard.
	insts := instances(t, "demo-once", 10)
	for typ, raw := range byType {
		apply(t, once, raw)
		var dups atomic.Int32
		var wg sync.WaitGroup
		for _, inst := range insts {
			wg.Go(func() {
				if apply(t, inst, raw).Duplicate {
					dups.Add(1)
				}
			})
		}
		wg.Wait()
		if dups.Load() != 9 {
			t.Errorf("%s: %d of 10 applications were duplicates, want 9", typ, dups.Load())
		}
		if res := apply(t, insts[0], raw); !res.Duplicate || res.AppointmentID != "appt-x" {
			t.Errorf("%s: redelivery to an instance that applied it = %+v, want a duplicate of appt-x", typ, res)
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
		// Skipping would count an untested outage as passed.
		t.Fatal("this test pauses the emulator the tests start: unset FIRESTORE_EMULATOR_HOST")
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
		if took := time.Since(begin); took > 10*time.Second {
			t.Errorf("event %d: returned after %v, want about the deadline", i, took)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("event %d: error %v, want ErrUnavailable", i, err)
		}
	}
	if _, err := func() (Appointment, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		return s.AppointmentAndCall(ctx, "appt-o")
	}(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Appointment during outage: %v, want ErrUnavailable", err)
	}
}
