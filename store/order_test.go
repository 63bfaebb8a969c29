package store

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/sessiongen"
)

// TestApplyOrderIndependent applies generated histories in-order, then in
// many random orders with random duplicates (sequentially, and with eight
// concurrent writers; spread over two instances), each on its own emulator
// project, and requires the same documents every time.
func TestApplyOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	orderProperty(t, rng, "order", history(rng, "h", "room-order", 2, start), 50, 10, checkHistoryShape)
}

// TestApplyOrderIndependentOpenCall is the same property for a call whose
// last session never closed (the sweep would close it later): its last
// peers never left, so inCall holds them, and the visit counts only what
// is over.
func TestApplyOrderIndependentOpenCall(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	var evs []historyEvent
	for _, e := range history(rng, "o", "room-order", 2, start) {
		var m struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(e.raw, &m)
		last := m.Data["session_id"] == "o-s1"
		if last && (m.Type == "session.close.success" || m.Type == "room.end.success" ||
			m.Type == "peer.leave.success" && (m.Data["peer_id"] == "o-s1-p-doc" || m.Data["peer_id"] == "o-s1-p-cli2")) {
			continue
		}
		evs = append(evs, e)
	}
	orderProperty(t, rng, "open", evs, 12, 6, func(t *testing.T, d map[string]any) {
		call := d["call"].(map[string]any)
		in, _ := call["inCall"].(map[string]any)
		doc, _ := in["doc-uid"].(map[string]any)
		cli, _ := in["client-uid"].(map[string]any)
		if call["status"] != "live" || doc["peerId"] != "o-s1-p-doc" || doc["role"] != "host" ||
			cli["peerId"] != "o-s1-p-cli2" || cli["role"] != "co-host" || len(in) != 2 {
			t.Errorf("the open call: status %v, inCall %v", call["status"], call["inCall"])
		}
		if v, _ := call["visit"].(map[string]any); v["doctorSec"] == nil || v["doctorSec"].(int64) <= 0 {
			t.Errorf("visit of the open call: %v", call["visit"])
		}
	})
}

// orderProperty applies evs in order, then in sequential and concurrent
// shuffled orders with duplicates, and requires the same documents each
// time; check spot-checks the in-order result.
func orderProperty(t *testing.T, rng *rand.Rand, name string, evs []historyEvent, sequential, concurrent int, check func(*testing.T, map[string]any)) {
	const parallel = 4
	run := func(t *testing.T, project string, order [][]byte, workers int) map[string]any {
		s := newStore(t, project)
		seed(t, s, "appt-order", "room-order")
		// Two instances take turns, so that some duplicates reach
		// Firestore and some are answered from an instance's memory.
		insts := instances(t, project, 2)
		if workers <= 1 {
			for i, raw := range order {
				apply(t, insts[i%2], raw)
			}
		} else {
			ch := make(chan []byte)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for raw := range ch {
						apply(t, insts[w%2], raw)
					}
				})
			}
			for _, raw := range order {
				ch <- raw
			}
			close(ch)
			wg.Wait()
		}
		if got, want := countDocs(t, s, colEvents), len(evs); got != want {
			t.Errorf("%d hmsEvents documents, want %d", got, want)
		}
		return dump(t, s, "appt-order")
	}

	inOrder := make([][]byte, len(evs))
	for i, e := range evs {
		inOrder[i] = e.raw
	}
	want := run(t, "demo-"+name+"-0", inOrder, 1)
	check(t, want)

	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range sequential + concurrent {
		order := append([][]byte(nil), inOrder...)
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		for range rng.IntN(len(order)/2) + 1 {
			at := rng.IntN(len(order) + 1)
			dup := order[rng.IntN(len(order))]
			order = append(order[:at], append([][]byte{dup}, order[at:]...)...)
		}
		workers := 1
		if i >= sequential {
			workers = 8
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			t.Run(fmt.Sprintf("%s%02d-w%d", name, i, workers), func(t *testing.T) {
				got := run(t, fmt.Sprintf("demo-%s-%d", name, i+1), order, workers)
				var d []string
				diff(want, got, "", &d)
				if len(d) > 0 {
					t.Errorf("documents differ from in-order application:\n%v", d)
				}
			})
		}()
	}
	wg.Wait()
}

// checkHistoryShape spot-checks the in-order result, so that the order test
// cannot pass by every order producing the same wrong documents.
func checkHistoryShape(t *testing.T, d map[string]any) {
	t.Helper()
	call := d["call"].(map[string]any)
	if call["status"] != "ended" || call["sessionCount"] != int64(2) || call["activeSessionId"] != nil {
		t.Errorf("call = %v", call)
	}
	sessions := d[colSessions].(map[string]any)
	s0 := sessions["h-s0"].(map[string]any)
	if s0["status"] != "closed" || s0["durationSec"] == nil {
		t.Errorf("session h-s0 = %v", s0)
	}
	peers := s0["peers"].(map[string]any)
	if len(peers) != 3 {
		t.Errorf("%d peers, want 3: %v", len(peers), peers)
	}
	rejoin := peers["h-s0-p-cli2"].(map[string]any)
	if rejoin["role"] != "co-host" || rejoin["durationSec"] == nil || rejoin["joinedAt"] == nil {
		t.Errorf("rejoined peer = %v", rejoin)
	}
	doc := peers["h-s0-p-doc"].(map[string]any)
	if doc["role"] != "host" {
		t.Errorf("doctor's role = %v, want host (the latest role_changed_at, stamped earlier)", doc["role"])
	}
	recs := d[colRecordings].(map[string]any)
	// A track's start names no recording_id, its success does: docs/data-model.md
	// keys them track-<track_id> and track-<recording_id>.
	if len(recs) != 20 {
		t.Errorf("%d recordings, want 20 (sfu, browser ok and failed, hls ok and failed, track started, track success, track started-then-failed, two streams, per session): %v", len(recs), recs)
	}
	if r := recs["track-h-s0-rec-a"].(map[string]any); r["status"] != "success" || r["sizeBytes"] != int64(123456) {
		t.Errorf("track recording = %v", r)
	}
	if r := recs["track-h-s0-t-v"].(map[string]any); r["status"] != "failed" {
		t.Errorf("failed track recording = %v, want failed (failed beats started)", r)
	}
	txs := d[colTranscripts].(map[string]any)
	if len(txs) != 4 {
		t.Errorf("%d transcripts, want 4: %v", len(txs), txs)
	}
	if tx := txs["h-s0-tx1"].(map[string]any); tx["status"] != "success" || tx["summaryJson"] == nil {
		t.Errorf("transcript = %v", tx)
	}
	if tx := txs["h-s0-tx2"].(map[string]any); tx["status"] != "failed" || tx["error"] != "no speech" {
		t.Errorf("failed transcript = %v", tx)
	}
	if f := d[colFailures].(map[string]any); len(f) != 8 {
		t.Errorf("%d failures, want 8 (join, leave, role change, room end, per session)", len(f))
	}
	streams := call["streams"].(map[string]any)
	if len(streams) != 8 {
		t.Errorf("%d streams, want 8", len(streams))
	}
	waiter := peers["h-s0-p-cli1"].(map[string]any)
	if waiter["joinedRole"] != testWaitingRole || waiter["admittedAt"] == nil || waiter["role"] != "guest" {
		t.Errorf("the waiting client's peer = %v", waiter)
	}
	if call["inCall"] != nil {
		t.Errorf("inCall of an ended call = %v, want absent", call["inCall"])
	}
	checkVisit(t, call, sessions)
}

// checkVisit recomputes calls.visit from the session documents' peers,
// by another method than presence.go's (sessiongen.VisitFigures).
func checkVisit(t *testing.T, call, sessions map[string]any) {
	t.Helper()
	var spans []sessiongen.Span
	for _, sv := range sessions {
		for _, pv := range sv.(map[string]any)["peers"].(map[string]any) {
			p := pv.(map[string]any)
			sp := sessiongen.Span{User: p["userId"].(string), From: p["joinedAt"].(time.Time), To: p["leftAt"].(time.Time)}
			sp.Waited = p["joinedRole"] == testWaitingRole
			if a, ok := p["admittedAt"].(time.Time); ok {
				sp.Admit, sp.Waited = a, true
			}
			spans = append(spans, sp)
		}
	}
	f := sessiongen.VisitFigures(spans, "doc-uid", "client-uid")
	doctor, client, together, wait := f.Doctor, f.Client, f.Together, f.Wait
	sec := func(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }
	v, _ := call["visit"].(map[string]any)
	want := map[string]any{"doctorSec": sec(doctor), "clientSec": sec(client), "togetherSec": sec(together), "waitSec": sec(wait)}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("visit.%s = %v, recomputed %v (visit %v)", k, v[k], w, v)
		}
	}
	if wait == 0 || together == 0 {
		t.Errorf("the history should have waiting and time together: wait %s, together %s", wait, together)
	}
	if v["firstJoinAt"] == nil || v["lastLeaveAt"] == nil {
		t.Errorf("visit without first join or last leave: %v", v)
	}
}
