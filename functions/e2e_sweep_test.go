package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/fake100ms"
)

func (h *hmsEnv) sweep(t *testing.T) sweepSummary {
	t.Helper()
	ans := postAt(t, h.url+"/hmsSweep", nil, nil)
	code, body := ans.code, ans.body
	var s sweepSummary
	if err := json.Unmarshal(body, &s); code != http.StatusOK || err != nil {
		t.Fatalf("hmsSweep: %d %s", code, body)
	}
	return s
}

// liveCall makes a call live by its documents: a room from hmsToken, then
// a session open and a join through the webhook. 100ms's own view of the
// session is the caller's to set.
func (h *hmsEnv) liveCall(t *testing.T, doctor e2eUser, appt string, at time.Time) (roomID, sessionID string) {
	t.Helper()
	roomID = h.room(t, appt, doctor)
	sessionID = "sess-" + uuid.NewString()[:12]
	h.event(t, "session.open.success", roomID, at, map[string]any{"session_id": sessionID, "session_started_at": at.Format(time.RFC3339Nano)})
	h.event(t, "peer.join.success", roomID, at.Add(time.Second), map[string]any{"session_id": sessionID, "peer_id": "p-doc-" + sessionID,
		"user_id": doctor.uid, "role": "host", "joined_at": at.Add(time.Second).Format(time.RFC3339Nano)})
	return roomID, sessionID
}

// TestE2ESweepTwiceAtOnce: two sweeps at once close the call whose close
// was lost (endedAt the latest left_at, peers reconciled), leave the
// still-live one, and ask for one replay of the failed deliveries, which
// 100ms re-posts with is_replay. Planted bugs caught: the replay window
// read outside a transaction (two replays requested), a close counted by
// every sweep (closed 2), a close entry written by the sweep that did not
// make the close (2 entries), and a sweep that closes without asking 100ms
// (the live call is closed).
func TestE2ESweepTwiceAtOnce(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	ctx := context.Background()
	if _, err := h.e.fs.Collection("hmsSweep").Doc("state").Delete(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-20 * time.Minute).UTC()
	apptA, doctorA, clientA, _ := h.consultation(t)
	roomA, sessA := h.liveCall(t, doctorA, apptA, start)
	leftAt := start.Add(15 * time.Minute)
	h.fake.AddSession(fake100ms.Session{ID: sessA, RoomID: roomA, Active: false, CreatedAt: start, UpdatedAt: leftAt.Add(time.Minute),
		Peers: []fake100ms.Peer{
			{ID: "p-doc-" + sessA, UserID: doctorA.uid, Role: "host", JoinedAt: start.Add(time.Second), LeftAt: leftAt.Add(-time.Minute)},
			{ID: "p-cli-" + sessA, UserID: clientA.uid, Role: "guest", JoinedAt: start.Add(2 * time.Second), LeftAt: leftAt},
		}})
	apptB, doctorB, _, _ := h.consultation(t)
	roomB, sessB := h.liveCall(t, doctorB, apptB, start)
	h.fake.AddSession(fake100ms.Session{ID: sessB, RoomID: roomB, Active: true, CreatedAt: start,
		Peers: []fake100ms.Peer{{ID: "p-doc-" + sessB, UserID: doctorB.uid, Role: "host", JoinedAt: start.Add(time.Second)}}})
	// A delivery 100ms gave up on two minutes ago (the client's leave).
	lostID := "ev-lost-" + uuid.NewString()
	lost, _ := json.Marshal(map[string]any{"version": "2.0", "id": lostID, "type": "peer.leave.success",
		"timestamp": leftAt.Format(time.RFC3339Nano), "data": map[string]any{"room_id": roomA, "session_id": sessA,
			"peer_id": "p-cli-" + sessA, "user_id": clientA.uid, "role": "guest", "duration": 898,
			"joined_at": start.Add(2 * time.Second).Format(time.RFC3339Nano), "left_at": leftAt.Format(time.RFC3339Nano)}})
	if err := h.fake.AddFailedDeliveryAt(lost, time.Now().Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // SWEEP_IDLE is 1s here: let the calls go idle

	var wg sync.WaitGroup
	sums := make([]sweepSummary, 2)
	for i := range sums {
		wg.Add(1)
		go func() { defer wg.Done(); sums[i] = h.sweep(t) }()
	}
	wg.Wait()
	closed, replays := sums[0].Closed+sums[1].Closed, sums[0].ReplaysRequested+sums[1].ReplaysRequested
	if closed != 1 || replays != 1 || h.fake.Calls("POST /analytics/webhooks/replay") != 1 {
		t.Errorf("two sweeps: closed %d, replays %d (100ms saw %d); want 1 and 1: %+v", closed, replays,
			h.fake.Calls("POST /analytics/webhooks/replay"), sums)
	}
	callA := h.e.doc(t, "calls/"+apptA)
	if callA["status"] != "ended" || callA["activeSessionId"] != nil || !timeOf(callA["endedAt"]).Equal(leftAt.Truncate(time.Millisecond)) {
		t.Errorf("call A after the sweep: %v; want ended at %s", callA, leftAt)
	}
	sA := h.e.doc(t, "calls/"+apptA+"/sessions/"+sessA)
	peers, _ := sA["peers"].(map[string]any)
	if sA["status"] != "closed" || peers["p-cli-"+sessA] == nil {
		t.Errorf("session A: %v; want closed with the client reconciled", sA)
	}
	// The close is in the audit trail as the system's, once: the sweep that
	// did not make it writes no entry (SPEC §17), and counts it
	// alreadyClosed when it got as far as the close.
	sys, err := h.e.fs.Collection("auditLog").Where("appointmentId", "==", apptA).Where("uid", "==", "system").Documents(ctx).GetAll()
	if err != nil || len(sys) != 1 {
		t.Fatalf("audit entries of the swept call: %d, %v; want 1", len(sys), err)
	}
	for _, s := range sys {
		d := s.Data()
		if d["uid"] != "system" || d["action"] != "sweep.close" || d["outcome"] != "granted" || d["roomId"] != roomA {
			t.Errorf("sweep's audit entry %v", d)
		}
	}
	if callB := h.e.doc(t, "calls/"+apptB); callB["status"] != "live" || callB["activeSessionId"] != sessB {
		t.Errorf("call B, live at 100ms, was changed: %v", callB)
	}
	if n := h.e.countCollection(t, "hmsEvents", "type", "session.close.success", "sessionId", sessA); n != 0 {
		t.Errorf("%d session.close.success hmsEvents for session A; the sweep's close must make none", n)
	}

	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := h.fake.WaitReplays(wctx); err != nil {
		t.Fatal(err)
	}
	ev := h.e.doc(t, "hmsEvents/"+lostID)
	if ev == nil || ev["replay"] != true {
		t.Errorf("replayed event: %v; want stored with replay true", ev)
	}
	if p, _ := mapOf(h.e.doc(t, "calls/"+apptA+"/sessions/"+sessA)["peers"])["p-cli-"+sessA].(map[string]any); p["durationSec"] != int64(898) {
		t.Errorf("the replayed leave did not win over reconciliation: %v", p)
	}
}

// TestE2ESweepBoundedWhen100msIsSlow: with 100ms answering nothing, a run
// ends within its budget plus the time to answer, and says it timed out.
// The fake holds each request 10 minutes, so a sweep without its bounds
// would take that long; the assertion allows a minute.
func TestE2ESweepBoundedWhen100msIsSlow(t *testing.T) {
	lim := defaultSweepLimits
	lim.budget, lim.hmsTimeout = 3*time.Second, time.Second
	h := newHMSEnv(t, lim)
	appt, doctor, _, _ := h.consultation(t)
	h.liveCall(t, doctor, appt, time.Now().Add(-10*time.Minute))
	time.Sleep(1500 * time.Millisecond)
	h.fake.SetSlow(10 * time.Minute)
	defer h.fake.SetSlow(0)
	began := time.Now()
	s := h.sweep(t)
	if took := time.Since(began); took > time.Minute {
		t.Errorf("sweep took %s with 100ms slow; its budget is %s", took, lim.budget)
	}
	if s.Errors == 0 && !s.TimedOut {
		t.Errorf("summary %+v: no error nor time-out though 100ms never answered", s)
	}
	if c := h.e.doc(t, "calls/"+appt); c["status"] != "live" {
		t.Errorf("call closed without 100ms's word: %v", c)
	}
}

func timeOf(v any) time.Time {
	t, _ := v.(time.Time)
	return t
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func (e *e2eEnv) countCollection(t *testing.T, col, field string, value any, field2 string, value2 any) int {
	t.Helper()
	snaps, err := e.fs.Collection(col).Where(field, "==", value).Where(field2, "==", value2).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatalf("query %s: %v", col, err)
	}
	return len(snaps)
}

// TestE2ESweepRepairsReconciliationAfterOutage (SPEC §17): with 100ms down
// when a session closes, the webhook's reconciliation fails and the
// patient whose events were all lost is missing; once 100ms is back, at
// most two sweeps put them on the session and in the visit, ended call
// and all, and later sweeps do not ask 100ms about the session again.
// Planted bugs caught: a sweep that looks at live calls only (the patient
// never comes back), and a reconciliation that does not mark its session
// done (the third sweep asks 100ms again).
func TestE2ESweepRepairsReconciliationAfterOutage(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	start := time.Now().Add(-40 * time.Minute).UTC()
	appt, doctor, client, _ := h.consultation(t)
	roomID, sid := h.liveCall(t, doctor, appt, start)
	docLeft, cliJoined, cliLeft := start.Add(20*time.Minute), start.Add(2*time.Minute), start.Add(12*time.Minute)
	h.fake.AddSession(fake100ms.Session{ID: sid, RoomID: roomID, Active: false, CreatedAt: start, UpdatedAt: docLeft,
		Peers: []fake100ms.Peer{
			{ID: "p-doc-" + sid, UserID: doctor.uid, Role: "host", JoinedAt: start.Add(time.Second), LeftAt: docLeft},
			{ID: "p-cli-" + sid, UserID: client.uid, Role: "guest", JoinedAt: cliJoined, LeftAt: cliLeft},
		}})
	h.event(t, "peer.leave.success", roomID, docLeft, map[string]any{"session_id": sid, "peer_id": "p-doc-" + sid,
		"user_id": doctor.uid, "role": "host", "joined_at": start.Add(time.Second).Format(time.RFC3339Nano),
		"left_at": docLeft.Format(time.RFC3339Nano)})

	h.fake.SetDown(true)
	h.event(t, "session.close.success", roomID, docLeft.Add(time.Second), map[string]any{"session_id": sid,
		"session_started_at": start.Format(time.RFC3339Nano), "session_stopped_at": docLeft.Add(time.Second).Format(time.RFC3339Nano)})
	h.fake.SetDown(false)

	clientOnSession := func() (map[string]any, int64) {
		peers := mapOf(h.e.doc(t, "calls/"+appt+"/sessions/"+sid)["peers"])
		p, _ := peers["p-cli-"+sid].(map[string]any)
		sec, _ := mapOf(h.e.doc(t, "calls/"+appt)["visit"])["clientSec"].(int64)
		return p, sec
	}
	if p, sec := clientOnSession(); p != nil || sec != 0 {
		t.Fatalf("after the close with 100ms down: client peer %v, clientSec %d; want neither (the outage lost them)", p, sec)
	}
	if call := h.e.doc(t, "calls/"+appt); call["status"] != "ended" {
		t.Fatalf("call after the close: %v; want ended", call)
	}

	repaired := false
	for run := 1; run <= 2 && !repaired; run++ {
		h.sweep(t)
		p, sec := clientOnSession()
		repaired = p != nil && sec == int64(cliLeft.Sub(cliJoined)/time.Second)
	}
	if p, sec := clientOnSession(); !repaired {
		t.Fatalf("after two sweeps: client peer %v, clientSec %d; want the client on the session for 600 s", p, sec)
	}
	if p, _ := clientOnSession(); p["userId"] != client.uid || p["role"] != "guest" {
		t.Errorf("the reconciled client: %v", p)
	}
	asked := h.fake.SessionGets(sid)
	h.sweep(t)
	if got := h.fake.SessionGets(sid); got != asked {
		t.Errorf("a later sweep asked 100ms about the reconciled session %d more times; want none", got-asked)
	}
}
