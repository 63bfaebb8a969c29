package store

import (
	"fmt"
	"testing"
	"time"
)

// TestRecordingControlAnyOrder: after hmsRecording's claim, the callables'
// writes (the id 100ms returned, the doctor's stop) and the recording's
// webhooks (beam.started, beam.stopped) leave the same recordingControl in
// every one of their 24 orders, and a later state never goes back.
// Planted bugs caught: the last writer's state winning (running after
// stopped in some orders), stoppedAt the latest stop (orders differ).
func TestRecordingControlAnyOrder(t *testing.T) {
	s := newStore(t, "demo-reccontrol")
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	steps := []string{"started", "beam.started", "beam.stopped", "stop"}
	var perms [][]string
	var permute func(prefix, rest []string)
	permute = func(prefix, rest []string) {
		if len(rest) == 0 {
			perms = append(perms, append([]string(nil), prefix...))
			return
		}
		for i := range rest {
			next := append(append([]string(nil), rest[:i]...), rest[i+1:]...)
			permute(append(prefix, rest[i]), next)
		}
	}
	permute(nil, steps)
	var want map[string]any
	for n, order := range perms {
		appt, room := fmt.Sprintf("appt-rc-%02d", n), fmt.Sprintf("room-rc-%02d", n)
		seed(t, s, appt, room)
		claim, err := s.ClaimRecording(ctxT(t), appt, "doc-uid", t0, nil)
		if err != nil || !claim.Claimed {
			t.Fatalf("claim: %+v, %v", claim, err)
		}
		if again, err := s.ClaimRecording(ctxT(t), appt, "doc-uid", t0, nil); err != nil || again.Claimed {
			t.Fatalf("a second claim while starting: %+v, %v", again, err)
		}
		for _, step := range order {
			switch step {
			case "started":
				err = s.RecordingStarted(ctxT(t), appt, claim.Gen, "rec-1", false)
			case "stop":
				_, err = s.StopRecording(ctxT(t), appt, "doc-uid", t0.Add(5*time.Minute), nil)
			case "beam.started":
				apply(t, s, event(fmt.Sprintf("ev-%s-bs", appt), "beam.started.success", t0.Add(2*time.Second), room,
					map[string]any{"session_id": "s1", "beam_id": "beam-1", "state_name": "Started"}))
			case "beam.stopped":
				apply(t, s, event(fmt.Sprintf("ev-%s-be", appt), "beam.stopped.success", t0.Add(4*time.Minute), room,
					map[string]any{"session_id": "s1", "beam_id": "beam-1", "state_name": "Stopped"}))
			}
			if err != nil {
				t.Fatalf("%v: %s: %v", order, step, err)
			}
		}
		got, _ := dump(t, s, appt)["call"].(map[string]any)["recordingControl"].(map[string]any)
		if want == nil {
			want = got
			if got["state"] != RecordingStopped || got["hmsRecordingId"] != "rec-1" || got["stoppedBy"] != "doc-uid" ||
				!got["stoppedAt"].(time.Time).Equal(t0.Add(4*time.Minute)) {
				t.Fatalf("recordingControl in order %v: %v", order, got)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("order %v: %v; want %v", order, got, want)
		}
	}
	// A new generation after the stop: a late stop event of the first
	// one (older than the new start) does not stop it.
	appt, room := "appt-rc-00", "room-rc-00"
	claim, err := s.ClaimRecording(ctxT(t), appt, "doc-uid", t0.Add(10*time.Minute), nil)
	if err != nil || !claim.Claimed || claim.Gen != 2 {
		t.Fatalf("second generation: %+v, %v", claim, err)
	}
	apply(t, s, event("ev-late-stop", "beam.recording.success", t0.Add(6*time.Minute), room,
		map[string]any{"session_id": "s1", "beam_id": "beam-1"}))
	rc, _ := dump(t, s, appt)["call"].(map[string]any)["recordingControl"].(map[string]any)
	if rc["state"] != RecordingStarting || rc["stoppedAt"] != nil {
		t.Errorf("the new recording after a late stop of the old: %v", rc)
	}
}
