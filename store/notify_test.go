package store

import (
	"fmt"
	"testing"
	"time"
)

// notifyAt is the events' time in these tests; each store's clock reads a
// minute later, inside notifyWindow.
var notifyAt = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func clockAt(s *Store, t time.Time) { s.now = func() time.Time { return t } }

func peerJoin(id, room, sid, pid, uid, role string, at time.Time) []byte {
	return event(id, "peer.join.success", at, room, map[string]any{"session_id": sid, "peer_id": pid, "user_id": uid,
		"role": role, "joined_at": at.Format(time.RFC3339Nano)})
}

func openSession(id, room, sid string, at time.Time) []byte {
	return event(id, "session.open.success", at, room, map[string]any{"session_id": sid, "session_started_at": at.Format(time.RFC3339Nano)})
}

// TestNotificationClaimRace: nine replays of a waiting patient's join
// under new event ids, racing on three instances, claim the doctor's
// notification once (notify.go). Without the claim's check: nine.
func TestNotificationClaimRace(t *testing.T) {
	s := newStore(t, "demo-notify-race")
	seed(t, s, "appt-nr", "room-nr")
	insts := append(instances(t, "demo-notify-race", 2), s)
	for _, in := range insts {
		clockAt(in, notifyAt.Add(time.Minute))
	}
	raws := make([][]byte, 9)
	for i := range raws {
		raws[i] = peerJoin(fmt.Sprintf("ev-nr-%d", i), "room-nr", "sess-nr", "p-wait", "client-uid", testWaitingRole, notifyAt)
	}
	var claims []Notification
	for _, res := range applyRacing(t, insts, raws) {
		claims = append(claims, res.Notify...)
	}
	if len(claims) != 1 || claims[0].Kind != NotifyWaiting || claims[0].To != "doc-uid" || claims[0].ToRole != "doctor" {
		t.Errorf("claims from 9 racing replays: %+v; want one waiting to doc-uid", claims)
	}
}

// TestNotificationsAtMostOnceInAnyOrder: in every order of a visit's
// events (the patient waits, the doctor joins, admits by role change,
// leaves and comes back, a guest joins late), each (kind, recipient) is
// claimed at most once per session; waiting goes only to the doctor and
// only while the doctor is not in, ready only to the client or a guest
// not in the room. And an event older than notifyWindow claims nothing.
func TestNotificationsAtMostOnceInAnyOrder(t *testing.T) {
	s := newStore(t, "demo-notify-order")
	clockAt(s, notifyAt.Add(time.Minute))
	at := func(sec int) time.Time { return notifyAt.Add(time.Duration(sec) * time.Second) }
	events := func(room string) [][]byte {
		return [][]byte{
			openSession("open-"+room, room, "s-"+room, at(0)),
			peerJoin("cj-"+room, room, "s-"+room, "p-cli", "client-uid", testWaitingRole, at(1)),
			peerJoin("dj-"+room, room, "s-"+room, "p-doc", "doc-uid", "host", at(2)),
			event("rc-"+room, "role.change.success", at(3), room, map[string]any{"session_id": "s-" + room, "peer_id": "p-cli",
				"user_id": "client-uid", "role": "guest", "previous_role": testWaitingRole, "role_changed_at": at(3).Format(time.RFC3339Nano)}),
			event("dl-"+room, "peer.leave.success", at(4), room, map[string]any{"session_id": "s-" + room, "peer_id": "p-doc",
				"user_id": "doc-uid", "role": "host", "joined_at": at(2).Format(time.RFC3339Nano), "left_at": at(4).Format(time.RFC3339Nano)}),
			peerJoin("dj2-"+room, room, "s-"+room, "p-doc2", "doc-uid", "host", at(5)),
		}
	}
	orders := [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {1, 2, 0, 5, 3, 4}, {2, 1, 0, 3, 4, 5}, {0, 2, 4, 5, 1, 3}, {3, 1, 5, 0, 4, 2}}
	for i, order := range orders {
		appt, room := fmt.Sprintf("appt-no-%d", i), fmt.Sprintf("room-no-%d", i)
		seed(t, s, appt, room)
		evs := events(room)
		seen := map[string]int{}
		for _, k := range order {
			for _, n := range apply(t, s, evs[k]).Notify {
				seen[n.Kind+" "+n.To]++
				switch {
				case n.Kind == NotifyWaiting && n.To != "doc-uid", n.Kind == NotifyReady && n.To != "client-uid":
					t.Errorf("order %v: %s to %s", order, n.Kind, n.To)
				}
			}
			// A redelivery claims nothing.
			if n := apply(t, s, evs[k]).Notify; len(n) != 0 {
				t.Errorf("order %v: a redelivery claimed %+v", order, n)
			}
		}
		for k, n := range seen {
			if n > 1 {
				t.Errorf("order %v: %s claimed %d times", order, k, n)
			}
		}
	}
	// In delivery order, the patient waits first (the doctor is told)
	// and is in the room when the doctor joins (the patient is not).
	seed(t, s, "appt-no-x", "room-no-x")
	evs := events("room-no-x")
	apply(t, s, evs[0])
	if n := apply(t, s, evs[1]).Notify; len(n) != 1 || n[0].Kind != NotifyWaiting {
		t.Errorf("the patient's wait claimed %+v; want waiting", n)
	}
	if n := apply(t, s, evs[2]).Notify; len(n) != 0 {
		t.Errorf("the doctor's join with the patient in the room claimed %+v; want nothing", n)
	}
	// The client comes and goes before the doctor joins: in every order
	// of delivery, the client is told ready exactly once (a leave that
	// arrives after the doctor's join but happened before it claims it).
	leaveFirst := func(room string) [][]byte {
		return [][]byte{
			openSession("open-"+room, room, "s-"+room, at(0)),
			peerJoin("cj-"+room, room, "s-"+room, "p-cli", "client-uid", "guest", at(1)),
			event("cl-"+room, "peer.leave.success", at(2), room, map[string]any{"session_id": "s-" + room, "peer_id": "p-cli",
				"user_id": "client-uid", "role": "guest", "joined_at": at(1).Format(time.RFC3339Nano), "left_at": at(2).Format(time.RFC3339Nano)}),
			peerJoin("dj-"+room, room, "s-"+room, "p-doc", "doc-uid", "host", at(3)),
		}
	}
	for i, order := range [][]int{{0, 1, 2, 3}, {0, 1, 3, 2}, {3, 2, 1, 0}, {0, 3, 1, 2}, {2, 3, 0, 1}} {
		appt, room := fmt.Sprintf("appt-lf-%d", i), fmt.Sprintf("room-lf-%d", i)
		seed(t, s, appt, room)
		evs := leaveFirst(room)
		ready := 0
		for _, k := range order {
			for _, n := range apply(t, s, evs[k]).Notify {
				if n.Kind == NotifyReady && n.To == "client-uid" {
					ready++
				}
			}
		}
		if ready != 1 {
			t.Errorf("order %v: the client told ready %d times; want once", order, ready)
		}
	}
	// The client leaves after the doctor joined: nobody is told ready.
	seed(t, s, "appt-lf-after", "room-lf-after")
	for _, ev := range [][]byte{
		openSession("open-lfa", "room-lf-after", "s-lfa", at(0)),
		peerJoin("cj-lfa", "room-lf-after", "s-lfa", "p-cli", "client-uid", "guest", at(1)),
		peerJoin("dj-lfa", "room-lf-after", "s-lfa", "p-doc", "doc-uid", "host", at(2)),
		event("cl-lfa", "peer.leave.success", at(3), "room-lf-after", map[string]any{"session_id": "s-lfa", "peer_id": "p-cli",
			"user_id": "client-uid", "role": "guest", "joined_at": at(1).Format(time.RFC3339Nano), "left_at": at(3).Format(time.RFC3339Nano)}),
	} {
		if n := apply(t, s, ev).Notify; len(n) != 0 {
			t.Errorf("the client in the room when the doctor joined: claimed %+v", n)
		}
	}
	// The doctor in the room first: the patient's wait tells nobody.
	seed(t, s, "appt-no-y", "room-no-y")
	evs = events("room-no-y")
	apply(t, s, evs[0])
	apply(t, s, evs[2])
	if n := apply(t, s, evs[1]).Notify; len(n) != 0 {
		t.Errorf("the patient's wait with the doctor in the room claimed %+v; want nothing", n)
	}
	// Too old: nothing.
	seed(t, s, "appt-no-old", "room-no-old")
	clockAt(s, notifyAt.Add(notifyWindow+time.Minute))
	evs = events("room-no-old")
	apply(t, s, evs[0])
	if n := apply(t, s, evs[1]).Notify; len(n) != 0 {
		t.Errorf("an event older than the window claimed %+v", n)
	}
}

// TestWaitingSince: the earliest join of a user in the waiting role not
// admitted, kept with inCall; an admission takes it away at once (before
// 100ms's role change), sending back to the waiting room brings it back,
// a removal takes it away, the role change out of the waiting room too.
func TestWaitingSince(t *testing.T) {
	s := newStore(t, "demo-waiting-since")
	seed(t, s, "appt-ws", "room-ws")
	waitingSince := func() any { return dump(t, s, "appt-ws")["call"].(map[string]any)["waitingSince"] }
	apply(t, s, openSession("ws-open", "room-ws", "s-ws", notifyAt))
	if w := waitingSince(); w != nil {
		t.Fatalf("waitingSince with nobody in: %v", w)
	}
	apply(t, s, peerJoin("ws-j1", "room-ws", "s-ws", "p-1", "client-uid", testWaitingRole, notifyAt.Add(time.Second)))
	apply(t, s, peerJoin("ws-j2", "room-ws", "s-ws", "p-2", "guest-uid", testWaitingRole, notifyAt.Add(3*time.Second)))
	if w, _ := waitingSince().(time.Time); !w.Equal(notifyAt.Add(time.Second)) {
		t.Fatalf("waitingSince = %v, want the first join", waitingSince())
	}
	if err := s.RecordAdmission(ctxT(t), "appt-ws", "client-uid", "doc-uid", notifyAt, nil); err != nil {
		t.Fatal(err)
	}
	if w, _ := waitingSince().(time.Time); !w.Equal(notifyAt.Add(3 * time.Second)) {
		t.Fatalf("after the client's admission waitingSince = %v, want the guest's join", waitingSince())
	}
	if err := s.RecordRemoval(ctxT(t), "appt-ws", "guest-uid", "doc-uid", notifyAt, nil); err != nil {
		t.Fatal(err)
	}
	// The guest is removed but not yet gone: still in the waiting role,
	// so still waiting until 100ms disconnects them.
	if w, _ := waitingSince().(time.Time); !w.Equal(notifyAt.Add(3 * time.Second)) {
		t.Fatalf("after the guest's removal waitingSince = %v", waitingSince())
	}
	apply(t, s, event("ws-l2", "peer.leave.success", notifyAt.Add(4*time.Second), "room-ws", map[string]any{"session_id": "s-ws",
		"peer_id": "p-2", "user_id": "guest-uid", "left_at": notifyAt.Add(4 * time.Second).Format(time.RFC3339Nano)}))
	if w := waitingSince(); w != nil {
		t.Fatalf("waitingSince with the admitted client alone = %v, want none", w)
	}
	if err := s.RecordWait(ctxT(t), "appt-ws", "client-uid", nil); err != nil {
		t.Fatal(err)
	}
	if w, _ := waitingSince().(time.Time); !w.Equal(notifyAt.Add(time.Second)) {
		t.Fatalf("sent back to the waiting room: waitingSince = %v, want the client's join", waitingSince())
	}
	apply(t, s, event("ws-rc", "role.change.success", notifyAt.Add(5*time.Second), "room-ws", map[string]any{"session_id": "s-ws",
		"peer_id": "p-1", "user_id": "client-uid", "role": "guest", "previous_role": testWaitingRole,
		"role_changed_at": notifyAt.Add(5 * time.Second).Format(time.RFC3339Nano)}))
	if w := waitingSince(); w != nil {
		t.Fatalf("out of the waiting role: waitingSince = %v, want none", w)
	}
}
