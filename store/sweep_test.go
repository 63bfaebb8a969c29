package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

const (
	swOpen  = `{"version":"2.0","id":"ev-sw-open","timestamp":"2026-11-23T09:00:00Z","type":"session.open.success","data":{"room_id":"room-sw","session_id":"sw1","session_started_at":"2026-11-23T09:00:00Z"}}`
	swJoin  = `{"version":"2.0","id":"ev-sw-join","timestamp":"2026-11-23T09:00:05Z","type":"peer.join.success","data":{"room_id":"room-sw","session_id":"sw1","peer_id":"p1","user_id":"u1","role":"host","joined_at":"2026-11-23T09:00:05Z"}}`
	swClose = `{"version":"2.0","id":"ev-sw-close","timestamp":"2026-11-23T09:30:00Z","type":"session.close.success","data":{"room_id":"room-sw","session_id":"sw1","session_started_at":"2026-11-23T09:00:00Z","session_stopped_at":"2026-11-23T09:30:00Z","session_duration":1800}}`
)

// TestSweepCloseCommutesWithLateClose: the sweep's close and a real
// session.close.success, in either order, leave identical documents, and
// the sweep creates no hmsEvents document. The sweep's end time is later
// than the real one on purpose, so that a rule that is not a merge (the
// last writer wins) shows. Planted bug caught: CloseSession writing
// endedAt/durationSec itself instead of through sessionPlan ("endedAt =
// sweep's"), or a commitBook that creates an event document.
func TestSweepCloseCommutesWithLateClose(t *testing.T) {
	sweepEnd := time.Date(2026, 11, 23, 9, 31, 0, 0, time.UTC)
	run := func(project string, sweepFirst, sweep2 bool) map[string]any {
		s := newStore(t, project)
		seed(t, s, "appt-sw", "room-sw")
		apply(t, s, []byte(swOpen))
		apply(t, s, []byte(swJoin))
		sweep := func() {
			res, err := s.CloseSession(ctxT(t), "appt-sw", "room-sw", "sw1", sweepEnd, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Closed != sweepFirst || res.Status != statusEnded || res.ActiveSessionID != "" {
				t.Errorf("%s: close result %+v; want Closed=%t, status ended", project, res, sweepFirst)
			}
		}
		switch {
		case !sweep2:
			apply(t, s, []byte(swClose)) // no sweep at all: the in-order result
		case sweepFirst:
			sweep()
			apply(t, s, []byte(swClose))
		default:
			apply(t, s, []byte(swClose))
			sweep()
		}
		if n := countDocs(t, s, colEvents); n != 3 {
			t.Errorf("%s: %d hmsEvents documents; want the 3 delivered", project, n)
		}
		return dump(t, s, "appt-sw")
	}
	// The sweep's end (the last peer's left_at) is later than the real
	// close's session_stopped_at: the real close's must stand all the
	// same, as if no sweep had run (keep the later of the two, and the
	// sweep-first order ends at 09:31, unlike the run without a sweep).
	a := run("demo-sweep-a", true, true)
	b := run("demo-sweep-b", false, true)
	c := run("demo-sweep-c", false, false)
	for _, other := range []struct {
		name string
		m    map[string]any
	}{{"close then sweep", b}, {"close without a sweep", c}} {
		var d []string
		diff(a, other.m, "", &d)
		if len(d) > 0 {
			t.Errorf("sweep then close != %s:\n%v", other.name, d)
		}
	}
	call := a["call"].(map[string]any)
	if call["status"] != statusEnded || !call["endedAt"].(time.Time).Equal(time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("call after both closes: %v, want the real close's endedAt", call)
	}
	sess := a[colSessions].(map[string]any)["sw1"].(map[string]any)
	if sess["status"] != sessionClose || sess["durationSec"] != int64(1800) {
		t.Errorf("session after both closes: %v", sess)
	}
}

// TestSweepCloseOnceUnderConcurrency: several sweeps closing one session
// at once (each as its own instance) report it closed exactly once.
// Planted bug caught: Closed computed from the first read rather than the
// attempt that committed (every sweep then says it closed it).
func TestSweepCloseOnceUnderConcurrency(t *testing.T) {
	const project = "demo-sweep-once"
	s := newStore(t, project)
	seed(t, s, "appt-sw", "room-sw")
	apply(t, s, []byte(swOpen))
	stores := instances(t, project, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	closed := 0
	end := time.Date(2026, 11, 23, 9, 20, 0, 0, time.UTC)
	for _, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := st.CloseSession(ctxT(t), "appt-sw", "room-sw", "sw1", end, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if res.Closed {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if closed != 1 {
		t.Errorf("%d sweeps closed the session; want 1", closed)
	}
	if c := dump(t, s, "appt-sw")["call"].(map[string]any); c["status"] != statusEnded {
		t.Errorf("call: %v", c)
	}
}

// TestIdleLiveCalls: only live calls older than the cut, oldest first.
// Planted bug caught: a query without the status filter (ended calls come
// back) or with the comparison reversed.
func TestIdleLiveCalls(t *testing.T) {
	s := newStore(t, "demo-sweep-idle")
	ctx := ctxT(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for id, f := range map[string]map[string]any{
		"old-live":   {"status": "live", "roomId": "r1", "activeSessionId": "s1", "updatedAt": now.Add(-2 * time.Hour)},
		"older-live": {"status": "live", "roomId": "r2", "activeSessionId": "s2", "updatedAt": now.Add(-3 * time.Hour)},
		"new-live":   {"status": "live", "roomId": "r3", "updatedAt": now},
		"old-ended":  {"status": "ended", "roomId": "r4", "updatedAt": now.Add(-3 * time.Hour)},
	} {
		if _, err := s.callRef(id).Set(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.IdleLiveCalls(ctx, now.Add(-time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].AppointmentID != "older-live" || got[1].AppointmentID != "old-live" ||
		got[0].RoomID != "r2" || got[0].ActiveSessionID != "s2" {
		t.Errorf("idle live calls: %+v", got)
	}
	if got, _ := s.IdleLiveCalls(ctx, now.Add(-time.Hour), 1); len(got) != 1 {
		t.Errorf("limit 1 gave %d", len(got))
	}
}

// TestClaimReplayWindowDisjoint: sweeps claiming at once get disjoint
// windows, and only one gets the stretch since the last run; a released
// window is claimed again. Planted bug caught: reading the mark outside
// the transaction (both claim the same window).
func TestClaimReplayWindowDisjoint(t *testing.T) {
	const project = "demo-sweep-claim"
	s := newStore(t, project)
	end := time.Now().UTC().Add(-time.Minute)
	oldest := end.Add(-29 * 24 * time.Hour)
	stores := instances(t, project, 4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wins []ReplayWindow
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, ok, err := st.ClaimReplayWindow(context.Background(), end.Add(time.Duration(i)*time.Millisecond), oldest, 24*time.Hour, time.Second, 14*24*time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				wins = append(wins, w)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(wins) != 1 || !wins[0].Start.Equal(wins[0].End.Add(-24*time.Hour)) {
		t.Fatalf("claimed windows %+v; want exactly one of the last 24 hours", wins)
	}
	if ok, err := s.ReleaseReplayWindow(ctxT(t), wins[0]); err != nil || !ok {
		t.Fatalf("release: %t %v", ok, err)
	}
	w, ok, err := s.ClaimReplayWindow(ctxT(t), wins[0].End.Add(time.Minute), oldest, 24*time.Hour, time.Second, 14*24*time.Hour)
	if err != nil || !ok || !w.Start.Equal(wins[0].Start) {
		t.Errorf("claim after release: %+v %t %v; want from %s", w, ok, err, wins[0].Start)
	}
}
