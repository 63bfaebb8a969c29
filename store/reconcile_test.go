package store

import (
	"testing"
	"time"
)

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

// TestReconcileSessionRace has an event write the session (on another
// instance, so no in-process turn-taking) after reconciliation read it and
// before it commits: the commit must fail its precondition and the fields
// be worked out again, so that the event's name stands and the leave time
// only reconciliation knows is still filled in.
func TestReconcileSessionRace(t *testing.T) {
	s := newStore(t, "demo-reconcile-race")
	seed(t, s, "appt-r", "room-r")
	other := instances(t, "demo-reconcile-race", 1)[0]
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	// The session exists before reconciliation reads it, as after a close.
	apply(t, s, []byte(`{"version":"2.0","id":"ev-o","timestamp":"2026-11-23T09:00:00Z","type":"session.open.success","data":{"room_id":"room-r","session_id":"s1","session_started_at":"2026-11-23T09:00:00Z"}}`))
	join := []byte(`{"version":"2.0","id":"ev-j","timestamp":"2026-11-23T09:00:05Z","type":"peer.join.success","data":{"room_id":"room-r","session_id":"s1","peer_id":"p1","user_id":"u1","user_name":"Ann","role":"host","joined_at":"2026-11-23T09:00:05Z"}}`)
	p := s.reconcilePlan("appt-r", "s1", []PeerRecord{
		{PeerID: "p1", UserID: "other", UserName: "Other", Role: "guest", JoinedAt: t0, LeftAt: t0.Add(10 * time.Minute)},
	})
	steps, step := 0, p.step
	p.step = func(stored map[string]any) (map[string]any, []write) {
		if steps++; steps == 1 {
			apply(t, other, join)
		}
		return step(stored)
	}
	if err := s.commitRead(ctxT(t), nil, p); err != nil {
		t.Fatal(err)
	}
	if steps < 2 {
		t.Errorf("the step ran %d times: the commit did not notice the event's write", steps)
	}
	peers := dump(t, s, "appt-r")[colSessions].(map[string]any)["s1"].(map[string]any)["peers"].(map[string]any)
	p1 := peers["p1"].(map[string]any)
	if p1["userName"] != "Ann" || p1["role"] != "host" || !p1["joinedAt"].(time.Time).Equal(t0.Add(5*time.Second)) {
		t.Errorf("the event's fields were overwritten by reconciliation: %v", p1)
	}
	if !p1["leftAt"].(time.Time).Equal(t0.Add(10*time.Minute)) || p1["durationSec"] != int64(595) {
		t.Errorf("reconciliation's leave time is missing: %v", p1)
	}
}
