package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
)

// Events of a consultation whose client's events were all lost: the
// doctor's join and leave and the session's open and close arrive; 100ms's
// record of the session (GET /sessions/{id}) knows the client too.
const (
	lostOpen   = `{"version":"2.0","id":"ev-l-open","timestamp":"2026-11-23T09:00:00Z","type":"session.open.success","data":{"room_id":"room-l","session_id":"sl1","session_started_at":"2026-11-23T09:00:00Z"}}`
	lostJoin   = `{"version":"2.0","id":"ev-l-join","timestamp":"2026-11-23T09:00:05Z","type":"peer.join.success","data":{"room_id":"room-l","session_id":"sl1","peer_id":"p-doc","user_id":"doc-uid","user_name":"Dr","role":"host","joined_at":"2026-11-23T09:00:05Z"}}`
	lostLeave  = `{"version":"2.0","id":"ev-l-leave","timestamp":"2026-11-23T09:20:05Z","type":"peer.leave.success","data":{"room_id":"room-l","session_id":"sl1","peer_id":"p-doc","user_id":"doc-uid","user_name":"Dr","joined_at":"2026-11-23T09:00:05Z","left_at":"2026-11-23T09:20:05Z","duration":1200,"reason":"client request"}}`
	lostClose  = `{"version":"2.0","id":"ev-l-close","timestamp":"2026-11-23T09:20:10Z","type":"session.close.success","data":{"room_id":"room-l","session_id":"sl1","session_started_at":"2026-11-23T09:00:00Z","session_stopped_at":"2026-11-23T09:20:10Z","session_duration":1210}}`
	clientJoin = `{"version":"2.0","id":"ev-l-cjoin","timestamp":"2026-11-23T09:02:00Z","type":"peer.join.success","data":{"room_id":"room-l","session_id":"sl1","peer_id":"p-cli","user_id":"client-uid","user_name":"Pat","role":"guest","joined_at":"2026-11-23T09:02:00Z"}}`
)

func lostClientRecord() []PeerRecord {
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	return []PeerRecord{
		{PeerID: "p-doc", UserID: "doc-uid", UserName: "Dr", Role: "host", JoinedAt: t0.Add(5 * time.Second), LeftAt: t0.Add(20*time.Minute + 5*time.Second)},
		{PeerID: "p-cli", UserID: "client-uid", UserName: "Pat", Role: "guest", JoinedAt: t0.Add(time.Minute), LeftAt: t0.Add(11 * time.Minute)},
	}
}

// TestReconcileLostPeerIsOnTheSessionAndInTheVisit: a peer that only
// 100ms's record knows is, after reconciliation, on the session and in
// the visit (SPEC §17), and the close that awaited it is due until then
// and never after. Planted bugs caught: visit() reading the events' joinedAt
// only (f.joinedAt for f.joined()): clientSec stays 0; reconcilePlan not
// marking the session: DueReconciliations still lists it.
func TestReconcileLostPeerIsOnTheSessionAndInTheVisit(t *testing.T) {
	s := newStore(t, "demo-lost")
	seed(t, s, "appt-l", "room-l")
	for _, raw := range []string{lostOpen, lostJoin, lostLeave} {
		apply(t, s, []byte(raw))
	}
	if res := apply(t, s, []byte(lostClose)); res.Reconciled || res.ReconcileError != "" {
		t.Errorf("the close's result %+v: want no reconciliation tried (ApplyEvent)", res)
	}
	due, _, err := s.DueReconciliations(ctxT(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0] != (DueSession{AppointmentID: "appt-l", SessionID: "sl1", RoomID: "room-l"}) {
		t.Fatalf("due = %+v, want the closed session sl1 of room-l", due)
	}
	visit := mapAt(dump(t, s, "appt-l")["call"].(map[string]any), "visit")
	if visit["clientSec"] != int64(0) || visit["doctorSec"] != int64(1200) {
		t.Fatalf("visit before reconciliation = %v; want the doctor's 1200 s alone", visit)
	}

	if err := s.ReconcileSession(ctxT(t), "appt-l", "sl1", lostClientRecord()); err != nil {
		t.Fatal(err)
	}
	d := dump(t, s, "appt-l")
	visit = mapAt(d["call"].(map[string]any), "visit")
	if visit["clientSec"] != int64(600) || visit["togetherSec"] != int64(600) || visit["doctorSec"] != int64(1200) {
		t.Errorf("visit after reconciliation = %v; want clientSec 600, togetherSec 600, doctorSec 1200", visit)
	}
	cli := mapAt(d[colSessions].(map[string]any), "sl1", "peers", "p-cli")
	if cli["userId"] != "client-uid" || cli["role"] != "guest" || cli["durationSec"] != int64(600) {
		t.Errorf("the lost client's peer on the session = %v", cli)
	}
	doc := mapAt(d[colSessions].(map[string]any), "sl1", "peers", "p-doc")
	if doc["durationSec"] != int64(1200) || doc["leaveReason"] != "client request" {
		t.Errorf("the doctor's peer, which events recorded, = %v", doc)
	}
	if due, _, err := s.DueReconciliations(ctxT(t), 10); err != nil || len(due) != 0 {
		t.Errorf("due after reconciliation = %+v, %v; want none", due, err)
	}

	// Once done, never again: a second reconciliation (another record)
	// writes nothing.
	before := dump(t, s, "appt-l")
	other := lostClientRecord()
	other[1].LeftAt = other[1].LeftAt.Add(time.Hour)
	if err := s.ReconcileSession(ctxT(t), "appt-l", "sl1", other); err != nil {
		t.Fatal(err)
	}
	var diffs []string
	diff(before, dump(t, s, "appt-l"), "", &diffs)
	if len(diffs) > 0 {
		t.Errorf("a second reconciliation changed %v", diffs)
	}

	// The client's join, replayed late, stands over the record.
	apply(t, s, []byte(clientJoin))
	cli = mapAt(dump(t, s, "appt-l")[colSessions].(map[string]any), "sl1", "peers", "p-cli")
	if got := cli["joinedAt"].(time.Time); !got.Equal(time.Date(2026, 11, 23, 9, 2, 0, 0, time.UTC)) || cli["userName"] != "Pat" {
		t.Errorf("after the late join: %v; want the join's time", cli)
	}
}

// TestReconcileUnknownSessionMarksItDone: 100ms not knowing the session
// (nil peers) marks it reconciled with nothing added.
func TestReconcileUnknownSessionMarksItDone(t *testing.T) {
	s := newStore(t, "demo-lost-unknown")
	seed(t, s, "appt-l", "room-l")
	for _, raw := range []string{lostOpen, lostJoin, lostClose} {
		apply(t, s, []byte(raw))
	}
	if err := s.ReconcileSession(ctxT(t), "appt-l", "sl1", nil); err != nil {
		t.Fatal(err)
	}
	if due, _, err := s.DueReconciliations(ctxT(t), 10); err != nil || len(due) != 0 {
		t.Errorf("due = %+v, %v; want none", due, err)
	}
	// A redelivered close (a replay with a new id) finds it reconciled,
	// and does not ask 100ms again.
	replayed := []byte(`{"version":"2.0","id":"ev-l-close-replay","timestamp":"2026-11-23T09:20:10Z","type":"session.close.success","data":{"room_id":"room-l","session_id":"sl1","session_started_at":"2026-11-23T09:00:00Z","session_stopped_at":"2026-11-23T09:20:10Z"}}`)
	asked := 0
	res := applyWith(t, s, replayed, func(context.Context) ([]PeerRecord, error) { asked++; return nil, nil })
	if asked != 0 || res.Reconciled || res.ReconcileError != "" {
		t.Errorf("a replayed close of a reconciled session: %+v, 100ms asked %d times; want neither", res, asked)
	}
}

func applyWith(tb testing.TB, s *Store, raw []byte, record SessionRecord) ApplyResult {
	tb.Helper()
	ev, err := hms.ParseEvent(raw)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := s.ApplyEventWith(ctxT(tb), ev, raw, record)
	if err != nil {
		tb.Fatalf("apply %s: %v", ev.ID, err)
	}
	return res
}

// TestCloseReconcilesInItsOwnCommit: the webhook's close asks 100ms once
// and merges its record with the close (one read, one commit), so the lost
// client is on the session and in the visit at once and nothing is due;
// when 100ms fails, the close is committed alone and its session stays
// due. Planted bug caught: the record's facts dropped from the close's
// commit (the visit loses the client at the next event).
func TestCloseReconcilesInItsOwnCommit(t *testing.T) {
	s := newStore(t, "demo-close-reconciles")
	seed(t, s, "appt-l", "room-l")
	for _, raw := range []string{lostOpen, lostJoin, lostLeave} {
		apply(t, s, []byte(raw))
	}
	asked := 0
	res := applyWith(t, s, []byte(lostClose), func(context.Context) ([]PeerRecord, error) { asked++; return lostClientRecord(), nil })
	if !res.Reconciled || asked != 1 {
		t.Fatalf("the close: %+v, 100ms asked %d times; want reconciled, asked once", res, asked)
	}
	d := dump(t, s, "appt-l")
	visit := mapAt(d["call"].(map[string]any), "visit")
	if visit["clientSec"] != int64(600) || d["call"].(map[string]any)["status"] != "ended" {
		t.Errorf("after the close: call %v; want ended with clientSec 600", d["call"])
	}
	if due, _, err := s.DueReconciliations(ctxT(t), 10); err != nil || len(due) != 0 {
		t.Errorf("due = %+v, %v; want none", due, err)
	}
	// The record is in the facts: a later event of the call (the doctor's
	// leave, replayed with a new id) derives the visit from them again.
	apply(t, s, []byte(strings.Replace(lostLeave, "ev-l-leave", "ev-l-leave-replay", 1)))
	if v := mapAt(dump(t, s, "appt-l")["call"].(map[string]any), "visit"); v["clientSec"] != int64(600) {
		t.Errorf("visit after a later event: %v; want clientSec 600 still", v)
	}

	s2 := newStore(t, "demo-close-reconcile-fails")
	seed(t, s2, "appt-l", "room-l")
	for _, raw := range []string{lostOpen, lostJoin, lostLeave} {
		apply(t, s2, []byte(raw))
	}
	res = applyWith(t, s2, []byte(lostClose), func(context.Context) ([]PeerRecord, error) { return nil, errors.New("100ms down") })
	if res.Reconciled || res.ReconcileError == "" {
		t.Errorf("the close with 100ms down: %+v; want the error", res)
	}
	if call := dump(t, s2, "appt-l")["call"].(map[string]any); call["status"] != "ended" {
		t.Errorf("the close with 100ms down did not close: %v", call)
	}
	if due, _, err := s2.DueReconciliations(ctxT(t), 10); err != nil || len(due) != 1 {
		t.Errorf("due = %+v, %v; want the session", due, err)
	}
}

// TestSweepCloseOfClosedSessionWritesNothing: hmsSweep closing a session
// that its close event closed meanwhile makes no change and no audit
// entry (SPEC §17), and says what the call is.
func TestSweepCloseOfClosedSessionWritesNothing(t *testing.T) {
	s := newStore(t, "demo-sweep-closed")
	seed(t, s, "appt-l", "room-l")
	for _, raw := range []string{lostOpen, lostJoin, lostClose} {
		apply(t, s, []byte(raw))
	}
	before := dump(t, s, "appt-l")
	res, err := s.CloseSession(ctxT(t), "appt-l", "room-l", "sl1", time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC),
		&Audit{Action: "sweep.close", Outcome: AuditGranted, UID: SystemUID, Role: SystemUID, AppointmentID: "appt-l"})
	if err != nil {
		t.Fatal(err)
	}
	if res != (CloseResult{Status: statusEnded}) {
		t.Errorf("close result %+v; want not closed, call ended", res)
	}
	if n := countDocs(t, s, colAudit); n != 0 {
		t.Errorf("%d audit entries; want none for a close the sweep did not make", n)
	}
	var diffs []string
	diff(before, dump(t, s, "appt-l"), "", &diffs)
	if len(diffs) > 0 {
		t.Errorf("the sweep changed %v", diffs)
	}
}

// TestCommitReadEndsWhenItsEntryLanded: a commit whose audit entry is
// already stored with its content had landed (a client-side retry of a
// commit whose answer was lost): commitRead says done at once instead of
// retrying AlreadyExists until its deadline. An entry with other content
// is an error no retry mends. Planted bug caught: dropping the check loops
// until the context ends.
func TestCommitReadEndsWhenItsEntryLanded(t *testing.T) {
	s := newStore(t, "demo-landed")
	seed(t, s, "appt-l", "room-l")
	entry := s.auditWrite(&Audit{Action: "recording.start", Outcome: AuditGranted, UID: "doc-uid", Role: "doctor",
		AppointmentID: "appt-l", RequestID: "req-1", Details: map[string]any{"n": 3, "at": time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)}})
	if _, err := entry.ref.Create(ctxT(t), entry.data); err != nil {
		t.Fatal(err)
	}
	p := s.controlPlan("appt-l", func(rc *recordingControl) bool { rc.state = "starting"; rc.gen++; return true })
	if err := s.commitRead(ctxT(t), entry, p); err != nil {
		t.Fatalf("commit whose entry holds its content: %v; want done", err)
	}
	other := s.auditWrite(&Audit{Action: "recording.start", Outcome: AuditGranted, UID: "doc-uid", Role: "doctor",
		AppointmentID: "appt-l", RequestID: "req-2"})
	other.ref = entry.ref
	if err := s.commitRead(ctxT(t), other, p); !errors.Is(err, errTaken) {
		t.Errorf("commit whose entry id holds other content: %v; want errTaken", err)
	}
}

// TestReconcileAnyOrder: a lost client's leave arriving before or after
// the reconciliation that already knew the client, and two sweeps closing
// one session with different ends in either order, leave the same
// documents (SPEC §4: order does not matter, repairs included). Planted
// bug caught: CloseSession unchanged for any closed session (the first
// sweep's end stands in one order, the second's in the other).
func TestReconcileAnyOrder(t *testing.T) {
	clientLeave := `{"version":"2.0","id":"ev-l-cleave","timestamp":"2026-11-23T09:11:00Z","type":"peer.leave.success","data":{"room_id":"room-l","session_id":"sl1","peer_id":"p-cli","user_id":"client-uid","user_name":"Pat","joined_at":"2026-11-23T09:01:00Z","left_at":"2026-11-23T09:11:00Z","reason":"client request"}}`
	reconcile := func(s *Store) {
		if err := s.ReconcileSession(ctxT(t), "appt-l", "sl1", lostClientRecord()); err != nil {
			t.Fatal(err)
		}
	}
	run := func(project string, leaveFirst bool) map[string]any {
		s := newStore(t, project)
		seed(t, s, "appt-l", "room-l")
		for _, raw := range []string{lostOpen, lostJoin, lostLeave, lostClose} {
			apply(t, s, []byte(raw))
		}
		if leaveFirst {
			apply(t, s, []byte(clientLeave))
			reconcile(s)
		} else {
			reconcile(s)
			apply(t, s, []byte(clientLeave))
		}
		return dump(t, s, "appt-l")
	}
	var diffs []string
	diff(run("demo-any-order-a", true), run("demo-any-order-b", false), "", &diffs)
	if len(diffs) > 0 {
		t.Errorf("the leave before or after the reconciliation: %v", diffs)
	}

	early, late := time.Date(2026, 11, 23, 9, 25, 0, 0, time.UTC), time.Date(2026, 11, 23, 9, 40, 0, 0, time.UTC)
	sweeps := func(project string, ends ...time.Time) map[string]any {
		s := newStore(t, project)
		seed(t, s, "appt-l", "room-l")
		for _, raw := range []string{lostOpen, lostJoin} {
			apply(t, s, []byte(raw))
		}
		for _, end := range ends {
			if _, err := s.CloseSession(ctxT(t), "appt-l", "room-l", "sl1", end, nil); err != nil {
				t.Fatal(err)
			}
		}
		return dump(t, s, "appt-l")
	}
	diffs = nil
	diff(sweeps("demo-sweeps-a", early, late), sweeps("demo-sweeps-b", late, early), "", &diffs)
	if len(diffs) > 0 {
		t.Errorf("two sweeps' closes in either order: %v", diffs)
	}
}
