package store

import (
	"fmt"
	"strings"
	"testing"

	"github.com/telemed/videocalls/hms"
)

// TestRedeliveryAnsweredFromMemory closes the instance's Firestore client
// after it stored an event: the redelivery must still be a duplicate of the
// right appointment, so it was answered without Firestore, while an event
// the instance never saw must fail (it needs Firestore), and another
// instance must learn from Firestore that the event is stored.
func TestRedeliveryAnsweredFromMemory(t *testing.T) {
	s := newStore(t, "demo-seen")
	seed(t, s, "appt-m", "room-m")
	inst := instances(t, "demo-seen", 2)
	raw := []byte(`{"version":"2.0","id":"ev-m1","timestamp":"2026-11-23T09:00:00Z","type":"peer.join.success","data":{"room_id":"room-m","session_id":"sm","peer_id":"p","role":"host","joined_at":"2026-11-23T09:00:00Z"}}`)
	if res := apply(t, inst[0], raw); res.Duplicate || res.AppointmentID != "appt-m" {
		t.Fatalf("first delivery = %+v", res)
	}
	if err := inst[0].fs.Close(); err != nil {
		t.Fatal(err)
	}
	if res := apply(t, inst[0], raw); !res.Duplicate || res.AppointmentID != "appt-m" {
		t.Errorf("redelivery to the same instance = %+v, want a duplicate of appt-m", res)
	}
	other := []byte(`{"version":"2.0","id":"ev-m2","timestamp":"2026-11-23T09:00:01Z","type":"peer.leave.success","data":{"room_id":"room-m","session_id":"sm","peer_id":"p","duration":1,"left_at":"2026-11-23T09:00:01Z"}}`)
	ev, err := hms.ParseEvent(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst[0].ApplyEvent(ctxT(t), ev, other); err == nil {
		t.Error("an unseen event applied through a closed client: the test cannot tell memory from Firestore")
	}
	if res := apply(t, inst[1], raw); !res.Duplicate || res.AppointmentID != "appt-m" {
		t.Errorf("redelivery to another instance = %+v, want a duplicate of appt-m", res)
	}
	if n := countDocs(t, s, colEvents); n != 1 {
		t.Errorf("%d hmsEvents documents, want 1", n)
	}
}

// TestSeenEventsForgetsOldestGeneration checks the memory bound: after two
// more generations' worth of ids, the first ids are forgotten and the
// latest remembered.
func TestSeenEventsForgetsOldestGeneration(t *testing.T) {
	var s seenEvents
	id := func(i int) string { return fmt.Sprintf("ev-%d", i) }
	perGen := seenEventsBytesPerGeneration / (len(id(0)) + len("appt") + seenEntryOverhead)
	for i := range 3 * perGen {
		s.add(id(i), "appt")
	}
	if _, ok := s.appointment(id(0)); ok {
		t.Error("the oldest id is still remembered")
	}
	if appt, ok := s.appointment(id(3*perGen - 1)); !ok || appt != "appt" {
		t.Errorf("latest id: (%q, %v), want remembered", appt, ok)
	}
	if _, ok := s.appointment("never-added"); ok {
		t.Error("an id never added is remembered")
	}
}

// TestSeenEventsBoundedInBytes stores ids of the longest kind (256 bytes,
// with a 1,500-byte appointment id): what is remembered stays within two
// generations of bytes, however long the ids (issue 11: 32,768 ids of
// 1,500 bytes took 50 MiB when the bound was a count).
func TestSeenEventsBoundedInBytes(t *testing.T) {
	var s seenEvents
	appt := strings.Repeat("a", 1500)
	for i := range 50000 {
		s.add(fmt.Sprintf("%0256d", i), appt)
	}
	total := 0
	for _, m := range []map[string]string{s.cur, s.prev} {
		for k, v := range m {
			total += len(k) + len(v) + seenEntryOverhead
		}
	}
	if total > 2*seenEventsBytesPerGeneration {
		t.Errorf("%d bytes remembered, bound is %d", total, 2*seenEventsBytesPerGeneration)
	}
	if _, ok := s.appointment(fmt.Sprintf("%0256d", 49999)); !ok {
		t.Error("the latest id is not remembered")
	}
}

// TestRedeliveryOfUnknownRoomResolvesAgain: an event whose room was not yet
// recorded is stored raw; once the room is recorded, its redelivery to the
// same instance must name the appointment (a redelivered close is then
// reconciled), so such events are not answered from memory.
func TestRedeliveryOfUnknownRoomResolvesAgain(t *testing.T) {
	s := newStore(t, "demo-seen-late")
	raw := []byte(`{"version":"2.0","id":"ev-l1","timestamp":"2026-11-23T09:00:00Z","type":"session.close.success","data":{"room_id":"room-late","session_id":"sl","session_started_at":"2026-11-23T08:00:00Z","session_stopped_at":"2026-11-23T09:00:00Z"}}`)
	if res := apply(t, s, raw); res.AppointmentID != "" || res.Duplicate {
		t.Fatalf("before the room is recorded: %+v", res)
	}
	seed(t, s, "appt-late", "room-late")
	if res := apply(t, s, raw); !res.Duplicate || res.AppointmentID != "appt-late" {
		t.Errorf("redelivery after the room is recorded = %+v, want a duplicate of appt-late", res)
	}
}
