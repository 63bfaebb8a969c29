package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/sessiongen"
)

// report collects the figures and the checks' findings.
type report struct {
	opts         *options
	rooms        int
	events       int
	load0, load1 string
	load         *loadResult
	floorBefore  floorResult
	floorAfter   floorResult
	refTime      time.Duration
	// CPU time by process in the first floor, the load and the reference.
	floorCPU, loadCPU, refCPU cpuUse
	serverRSS                 int // the server's peak RSS (KiB) after the load; 0 if unknown

	outageStart, outageEnd time.Duration
	outageWhat             string

	storedDocs  int      // hmsEvents documents of the measured events
	totalDocs   int      // all hmsEvents documents (warm-up included)
	warmEvents  int      // warm-up events sent
	lost        []string // event ids missing from hmsEvents
	lostTypes   map[string]int
	wrongBody   int // raw differs from the body sent
	wrongAppt   int // appointmentId missing or wrong
	twice       int // events answered "stored" more than once
	callsEqual  int
	subDocs     map[string]int // sessions and recordings compared
	callsDiffer []string       // "appt: first path, values"
	diffFields  map[string]int // differing fields, ids replaced by *

	// The sweep (-sweep) and the replays it asked for.
	failedRecorded int // deliveries given up, recorded as failed in the fake
	swept          bool
	load2, load3   string // load average before and after the sweeps
	sweeps         []sweepRun
	replayed       int            // replayed events the fake posted
	replayCodes    map[int]int    // the server's answers to them
	replayStored   map[string]int // "stored" answers to them, by event id
	replayTook     time.Duration  // first to last replayed event
	replayDocs     int            // hmsEvents documents stored from a replay
	replayIDs      map[string]bool
	liveCalls      int // the load's calls live after the sweeps
	liveOver       int // ... whose session 100ms says is over
	liveUnknown    int // ... whose session 100ms does not know
	liveOverIDs    []string
}

// check reads Firestore and fills in rep's findings.
func check(ctx context.Context, fsMain, fsRef *firestore.Client, rooms []sessiongen.Room, events []sessiongen.Event, warm int, rep *report) error {
	apptOfRoom := map[string]string{}
	for _, r := range rooms {
		apptOfRoom[r.ID] = r.AppointmentID
	}
	rep.warmEvents = warm
	rep.lostTypes = map[string]int{}
	rep.subDocs = map[string]int{}
	rep.diffFields = map[string]int{}
	rep.replayIDs = map[string]bool{}
	for id, n := range rep.load.stored {
		if n+rep.replayStored[id] > 1 {
			rep.twice++
		}
	}
	for id, n := range rep.replayStored {
		if rep.load.stored[id] == 0 && n > 1 {
			rep.twice++
		}
	}

	// hmsEvents: one document per event, with its exact body.
	var mu sync.Mutex
	const chunk = 300
	err := parallel(ctx, (len(events)+chunk-1)/chunk, 8, func(ctx context.Context, c int) error {
		part := events[c*chunk : min(len(events), (c+1)*chunk)]
		refs := make([]*firestore.DocumentRef, len(part))
		for i, e := range part {
			refs[i] = fsMain.Collection("hmsEvents").Doc(e.ID)
		}
		snaps, err := fsMain.GetAll(ctx, refs)
		if err != nil {
			return fmt.Errorf("read hmsEvents: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, snap := range snaps {
			e := part[i]
			if !snap.Exists() {
				rep.lost = append(rep.lost, e.ID)
				rep.lostTypes[e.Type]++
				continue
			}
			rep.storedDocs++
			d := snap.Data()
			raw, _ := d["raw"].(string)
			if replay, _ := d["replay"].(bool); replay {
				rep.replayDocs++
				rep.replayIDs[e.ID] = true
				if raw != string(replayBody(e.Body)) {
					rep.wrongBody++
				}
			} else if raw != string(e.Body) {
				rep.wrongBody++
			}
			if appt, _ := d["appointmentId"].(string); appt != apptOfRoom[e.RoomID] {
				rep.wrongAppt++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	agg, err := fsMain.Collection("hmsEvents").NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return fmt.Errorf("count hmsEvents: %w", err)
	}
	rep.totalDocs = countOf(agg["n"])

	// calls/...: equal to the in-order reference.
	return parallel(ctx, len(rooms), 16, func(ctx context.Context, i int) error {
		appt := rooms[i].AppointmentID
		got, err := dumpCall(ctx, fsMain, appt)
		if err != nil {
			return err
		}
		want, err := dumpCall(ctx, fsRef, appt)
		if err != nil {
			return err
		}
		var paths []string
		diff(got, want, "", &paths)
		mu.Lock()
		defer mu.Unlock()
		for k := range want {
			if col, _, ok := strings.Cut(k, "/"); ok {
				rep.subDocs[col]++
			}
		}
		for _, p := range paths {
			rep.diffFields[generalize(p)]++
		}
		if len(paths) == 0 {
			rep.callsEqual++
		} else {
			first := fmt.Sprintf("%s is %v, in order %v", paths[0], lookup(got, paths[0]), lookup(want, paths[0]))
			more := ""
			if len(paths) > 1 {
				more = fmt.Sprintf(" (+%d more)", len(paths)-1)
			}
			rep.callsDiffer = append(rep.callsDiffer, appt+": "+first+more)
		}
		return nil
	})
}

func countOf(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case interface{ GetIntegerValue() int64 }:
		return int(n.GetIntegerValue())
	}
	return -1
}

// volatile are the fields two orders of the same events may leave
// different (docs/webhook.md): server times. A recording's createdAt is the
// event's, so it is compared; the call's is the room's creation time.
var volatile = []string{"updatedAt", "receivedAt"}

// dumpCall reads calls/{appt} with its sessions and recordings, without the
// volatile fields, times as RFC 3339 strings.
func dumpCall(ctx context.Context, fs *firestore.Client, appt string) (map[string]any, error) {
	out := map[string]any{}
	ref := fs.Collection("calls").Doc(appt)
	snap, err := ref.Get(ctx)
	if snap != nil && !snap.Exists() {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read calls/%s: %w", appt, err)
	}
	call := snap.Data()
	delete(call, "createdAt")
	out["call"] = normalize(strip(call))
	for _, col := range []string{"sessions", "recordings"} {
		docs, err := ref.Collection(col).Documents(ctx).GetAll()
		if err != nil {
			return nil, fmt.Errorf("read calls/%s/%s: %w", appt, col, err)
		}
		for _, d := range docs {
			out[col+"/"+d.Ref.ID] = normalize(strip(d.Data()))
		}
	}
	return out, nil
}

func strip(m map[string]any) map[string]any {
	for _, k := range volatile {
		delete(m, k)
	}
	return m
}

// normalize turns times into strings, so that equal instants compare equal.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// diff appends the paths where a and b differ.
func diff(a, b any, path string, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diff(am[k], bm[k], p, out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

// generalize replaces the ids in a diff path with *:
// sessions/<id>.peers.<id>.leftAt → sessions/*.peers.*.leftAt.
func generalize(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		if col, _, ok := strings.Cut(p, "/"); ok {
			parts[i] = col + "/*"
		} else if i > 0 && (parts[i-1] == "peers" || parts[i-1] == "streams" || parts[i-1] == "peerFailures") {
			parts[i] = "*"
		}
	}
	return strings.Join(parts, ".")
}

// lookup returns the value at a diff path, or "absent".
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "absent"
		}
		if v, ok = m[k]; !ok {
			return "absent"
		}
	}
	return v
}

// ok reports whether every check passed.
func (r *report) ok() bool {
	return len(r.lost) == 0 && r.twice == 0 && r.wrongBody == 0 && r.wrongAppt == 0 &&
		len(r.callsDiffer) == 0 && r.totalDocs == r.events+r.warmEvents && r.liveOver == 0 && r.sweepsOK()
}

// sweepsOK: every sweep run answered 200 without an error or a timeout.
func (r *report) sweepsOK() bool {
	for _, s := range r.sweeps {
		if s.status != 200 || s.sum.Errors > 0 || s.sum.ReplayError != "" || s.sum.TimedOut {
			return false
		}
	}
	return true
}

// print writes the summary table.
func (r *report) print(w io.Writer) {
	o, l := r.opts, r.load
	secs := l.elapsed.Seconds()
	p50, p99, pmax := percentiles(l.latencies)
	fmt.Fprintf(w, "\n== hmssWebhook load test: %d events in %d rooms, each delivered %d times in random order by %d senders (seed %d)\n",
		r.events, r.rooms, o.k, o.senders, o.seed)
	fmt.Fprintf(w, "   machine: %d CPUs; load average %s before, %s after the load\n", numCPU(), r.load0, r.load1)
	fmt.Fprintf(w, "\n%-13s %s\n", "load", fmt.Sprintf("%d deliveries, %d attempts in %.1fs", l.deliveries, l.attempts, secs))
	fmt.Fprintf(w, "%-13s %.0f unique events/s, %.0f deliveries/s, %.0f attempts/s\n", "throughput",
		float64(r.events)/secs, float64(l.deliveries)/secs, float64(l.attempts)/secs)
	fmt.Fprintf(w, "%-13s p50 %s, p99 %s, max %s (every attempt)\n", "latency", ms(p50), ms(p99), ms(pmax))
	fmt.Fprintf(w, "%-13s %s\n", "answers", statusCounts(l.byCode))
	fmt.Fprintf(w, "%-13s %d deliveries retried, %d got a 503, %d given up after %d retries (%d distinct events)\n",
		"retries", l.retried, l.with503, sum(l.gaveUp), len(o.retries), len(l.gaveUp))
	if o.outage > 0 {
		if r.outageStart > 0 {
			fmt.Fprintf(w, "%-13s emulator %s from %.1fs to %.1fs of the load\n", "outage",
				r.outageWhat, r.outageStart.Seconds(), r.outageEnd.Seconds())
		} else {
			fmt.Fprintf(w, "%-13s did not happen: the load ended before -outage-after\n", "outage")
		}
	}
	if o.floor > 0 {
		// The emulator's JIT may still be speeding up: judge against the
		// higher of the two floors, not their mean.
		floor := max(r.floorBefore.rate(), r.floorAfter.rate())
		fmt.Fprintf(w, "%-13s %.0f batches/s, the higher of before %.0f and after %.0f (%d writers, create + merge into 1 of 50 shared docs)\n",
			"floor", floor, r.floorBefore.rate(), r.floorAfter.rate(), o.floorWriters)
		fmt.Fprintf(w, "%-13s deliveries/s ÷ floor = %.2f; unique events/s ÷ floor = %.2f (goal ≥ 0.4)\n", "ratio",
			float64(l.deliveries)/secs/floor, float64(r.events)/secs/floor)
	}
	fmt.Fprintf(w, "%-13s applied once in order through the store package in %.1fs (%.0f events/s; %s)\n", "reference",
		r.refTime.Seconds(), float64(r.events)/r.refTime.Seconds(), o.refProject)
	if r.loadCPU.emulator > 0 {
		fmt.Fprintf(w, "%-13s emulator %s per unique event under the load, %s in order (reference), %s per floor batch;\n"+
			"%-13s server %s and load generator %s per delivery; %.1f of %d cores busy during the load\n", "cpu",
			per(r.loadCPU.emulator, r.events), per(r.refCPU.emulator, r.events), per(r.floorCPU.emulator, r.floorBefore.batches),
			"", per(r.loadCPU.server, l.deliveries), per(r.loadCPU.self, l.deliveries),
			(r.loadCPU.emulator+r.loadCPU.server+r.loadCPU.self).Seconds()/secs, numCPU())
	}
	if r.serverRSS > 0 {
		fmt.Fprintf(w, "%-13s server peak RSS (VmHWM) %.1f MiB after the load\n", "memory", float64(r.serverRSS)/1024)
	}
	if r.failedRecorded > 0 || r.swept {
		r.printSweeps(w)
	}
	fmt.Fprintf(w, "\n%-13s %d/%d events stored, %d lost; %d documents in all (want %d, incl. %d warm-up)\n",
		"hmsEvents", r.storedDocs, r.events, len(r.lost), r.totalDocs, r.events+r.warmEvents, r.warmEvents)
	if len(l.gaveUp) > 0 {
		lost := map[string]bool{}
		for _, id := range r.lost {
			lost[id] = true
		}
		stored, replayed := 0, 0
		for id := range l.gaveUp {
			switch {
			case r.replayIDs[id]:
				replayed++
			case !lost[id]:
				stored++
			}
		}
		fmt.Fprintf(w, "%-13s of the %d events with a delivery given up, %d are stored from a replay, %d stored all the same\n"+
			"%-13s (another delivery, or a write the emulator committed after its 503 was answered)\n", "", len(l.gaveUp), replayed, stored, "")
	}
	if r.replayDocs > 0 {
		fmt.Fprintf(w, "%-13s %d documents stored from a replay (\"replay\": true)\n", "", r.replayDocs)
	}
	fmt.Fprintf(w, "%-13s %d raw bodies differ from what was sent, %d without their appointmentId\n", "", r.wrongBody, r.wrongAppt)
	fmt.Fprintf(w, "%-13s %d events answered \"stored\" more than once (applied twice)\n", "duplicates", r.twice)
	if r.swept {
		fmt.Fprintf(w, "%-13s %d of the load's calls live after the sweeps: %d whose session 100ms says is over, %d whose session it does not know\n",
			"live calls", r.liveCalls, r.liveOver, r.liveUnknown)
		for i, id := range r.liveOverIDs {
			if i == o.showDiffs {
				fmt.Fprintf(w, "%-13s ... %d more\n", "", len(r.liveOverIDs)-i)
				break
			}
			fmt.Fprintf(w, "%-13s %s\n", "still live", id)
		}
	}
	fmt.Fprintf(w, "%-13s %d/%d calls documents equal the in-order result (with %d sessions, %d recordings), %d differ\n",
		"calls", r.callsEqual, r.rooms, r.subDocs["sessions"], r.subDocs["recordings"], len(r.callsDiffer))
	if len(r.lost) > 0 {
		fmt.Fprintf(w, "%-13s by type: %s\n", "lost events", counts(r.lostTypes))
	}
	if len(r.diffFields) > 0 {
		fmt.Fprintf(w, "%-13s %s\n", "diff fields", counts(r.diffFields))
	}
	sort.Strings(r.callsDiffer)
	for i, d := range r.callsDiffer {
		if i == o.showDiffs {
			fmt.Fprintf(w, "%-13s ... %d more\n", "", len(r.callsDiffer)-i)
			break
		}
		fmt.Fprintf(w, "%-13s %s\n", "differs", d)
	}
	verdict := "PASS: nothing lost, nothing applied twice, every document equals the in-order result"
	if r.swept {
		verdict += ", no call live whose session is over"
	}
	if !r.ok() {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n%s\n", verdict)
}

func percentiles(d []time.Duration) (p50, p99, pmax time.Duration) {
	if len(d) == 0 {
		return
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), s[len(s)-1]
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func statusCounts(m map[int]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", name, m[k]))
	}
	return strings.Join(parts, ", ")
}

func counts(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func numCPU() int { return runtime.NumCPU() }

// printSweeps writes the sweep's lines: what 100ms was left with, each
// run's summary and cost, and the replays.
func (r *report) printSweeps(w io.Writer) {
	fmt.Fprintf(w, "\n%-13s %d deliveries given up, recorded in the fake 100ms as failed deliveries\n", "100ms history", r.failedRecorded)
	if !r.swept {
		fmt.Fprintf(w, "%-13s no sweep ran (-sweep=false): nothing replays them\n", "")
		return
	}
	fmt.Fprintf(w, "%-13s load average %s before the sweeps, %s after\n", "sweep", r.load2, r.load3)
	for i, s := range r.sweeps {
		m := s.sum
		fmt.Fprintf(w, "%-13s run %d, %.1fs after the load: %d in %.1fs; %d idle live calls checked, %d closed, %d still live, %d unknown, %d errors%s%s\n",
			"", i+1, s.at.Seconds(), s.status, s.took.Seconds(), m.Checked, m.Closed, m.StillLive, m.Unknown, m.Errors,
			cond(m.Truncated, ", truncated", ""), cond(m.TimedOut, ", TIMED OUT", ""))
		if m.ReplayFrom != "" {
			fmt.Fprintf(w, "%-13s   replay window %s to %s: %d failed deliveries, %d replays requested%s; replays done %.1fs after the run\n",
				"", m.ReplayFrom, m.ReplayTo, m.FailedDeliveries, m.ReplaysRequested, cond(m.ReplayError != "", "; error: "+m.ReplayError, ""), s.replayWait.Seconds())
		} else {
			fmt.Fprintf(w, "%-13s   no replay window (less than hmsSweep's minimum since the last run)%s\n", "", cond(m.ReplayError != "", "; error: "+m.ReplayError, ""))
		}
		fmt.Fprintf(w, "%-13s   100ms requests during the run: %s\n", "", counts(s.hmsCall))
	}
	if r.replayed > 0 {
		fmt.Fprintf(w, "%-13s %d events re-sent by the fake 100ms in %.1fs; the server answered %s; %d answered \"stored\"\n",
			"replays", r.replayed, r.replayTook.Seconds(), statusCounts(r.replayCodes), sum(r.replayStored))
	}
}

func cond(c bool, yes, no string) string {
	if c {
		return yes
	}
	return no
}
