// Command cost plays consultations end to end against the emulators and
// counts, as it crosses the wire, what each one is billed: Firestore
// document reads, writes and deletes (TTL expiries included), invocations
// per function, 100ms API requests by route, and the functions' CPU
// seconds; then it prices them with a table of list prices and prints the
// cost per 1,000 consultations with its breakdown (docs/performance.md,
// "What a consultation costs").
//
// It runs on internal/rig: the Firestore emulator behind an
// internal/delayproxy proxy that keeps the gRPC messages (internal/billing
// reads them), the Auth emulator, the fake 100ms, and one cmd/local/server.
// Every request the consultation makes, the fake 100ms's webhooks
// included, goes through a counting front door, so invocations are counted
// as they arrive. scripts/cost builds and runs it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/billing"
	"github.com/telemed/videocalls/internal/delayproxy"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/procstat"
	"github.com/telemed/videocalls/internal/rig"
	"github.com/telemed/videocalls/internal/sessiongen"
)

// prices are list prices in USD (docs/performance.md names the pages, the
// region and the date they were read).
type prices struct {
	read, write, delete   float64 // per document
	invocation, cpuSecond float64 // Cloud Run functions, request-based billing
	schedulerJobMonth     float64
}

var usCentral1 = prices{
	read: 0.03 / 100_000, write: 0.09 / 100_000, delete: 0.01 / 100_000,
	invocation: 0.40 / 1_000_000, cpuSecond: 0.000024,
	schedulerJobMonth: 0.10,
}

type options struct {
	consultations int
	server        string
	seed          uint64
	dupRate       float64
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("cost: ")
	var o options
	flag.IntVar(&o.consultations, "consultations", 20, "consultations played")
	flag.StringVar(&o.server, "server", "", "cmd/local/server binary (scripts/cost builds it)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the generated sessions and duplicates")
	flag.Float64Var(&o.dupRate, "duplicates", 0.05, "share of webhook events 100ms delivers twice (its retries)")
	flag.Parse()
	if o.server == "" || o.consultations < 1 {
		flag.Usage()
		os.Exit(2)
	}
	rig.Main(func(ctx context.Context) error { return run(ctx, o, os.Stdout) })
}

// frontDoor counts the invocations of each function on their way to the
// server.
type frontDoor struct {
	mu    sync.Mutex
	calls map[string]int
	proxy *httputil.ReverseProxy
}

func (f *frontDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls[strings.TrimPrefix(r.URL.Path, "/")]++
	f.mu.Unlock()
	f.proxy.ServeHTTP(w, r)
}

// tally is what a run counted.
type tally struct {
	fs          *billing.Count
	byFunction  map[string]*billing.Ops
	invocations map[string]int
	hms         map[string]int
	fcm         int
	cpu         time.Duration
}

func run(ctx context.Context, o options, out io.Writer) error {
	w, err := rig.Setup(ctx, rig.Options{Server: o.server, Servers: 1, Env: []string{
		"WAITING_ROOM_ROLE=waiting-room", "RECORDING_TRANSCRIPTION=true", "RECORDING_SUMMARY=true", "SWEEP_IDLE=30m",
	}})
	if err != nil {
		return err
	}
	defer w.Close()
	w.FS.KeepBodies(true)
	srv := w.Servers[0]
	target, _ := url.Parse(srv.URL)
	door := &frontDoor{calls: map[string]int{}, proxy: httputil.NewSingleHostReverseProxy(target)}
	front := httptest.NewServer(door)
	defer front.Close()
	w.Fake.SetWebhook(front.URL+"/hmssWebhook", http.Header{"X-Webhook-Secret": {w.WebhookSecret}})

	// The tool's own writes (the app's appointments) go to the emulator
	// directly: they are not the backend's.
	os.Setenv("FIRESTORE_EMULATOR_HOST", w.FSHost)
	fs, err := firestore.NewClient(ctx, rig.Project)
	if err != nil {
		return rig.SetupErrorf("firestore client: %w", err)
	}
	defer fs.Close()
	runID := rig.RandomHex(4)
	c := &consultation{w: w, front: front.URL, fs: fs, http: &http.Client{Timeout: 60 * time.Second},
		gen: sessiongen.New(sessiongen.Config{Seed: o.seed}), rng: rand.New(rand.NewPCG(o.seed, 7)), dupRate: o.dupRate,
		t: &tally{fs: billing.New(), byFunction: map[string]*billing.Ops{}, hms: map[string]int{}}}
	if c.doctorUID, c.doctorToken, err = rig.SignUp(w.AuthHost, "doctor-"+runID+"@example.com"); err != nil {
		return rig.SetupErrorf("sign up: %w", err)
	}
	if c.clientUID, c.clientToken, err = rig.SignUp(w.AuthHost, "client-"+runID+"@example.com"); err != nil {
		return rig.SetupErrorf("sign up: %w", err)
	}
	// A phone each, registered as the app does, so that the notifications
	// are sent and their reads and writes counted (docs/notifications.md).
	for _, uid := range []string{c.doctorUID, c.clientUID} {
		if _, err := fs.Doc("users/"+uid+"/fcmTokens/phone-"+runID).Set(ctx, map[string]any{"platform": "ios"}); err != nil {
			return rig.SetupErrorf("register a device: %w", err)
		}
	}

	cpu0, _ := procstat.CPUTime(srv.PID())
	c.cursor = time.Now()
	c.hmsCursor = c.cursor
	for i := range o.consultations {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := c.play(ctx, fmt.Sprintf("cost-%s-%03d", runID, i)); err != nil {
			return err
		}
	}
	// hmsSweep on its schedule: one run here; priced per month below.
	if err := c.step("hmsSweep", func() error { return c.post("/hmsSweep", "", nil, nil) }); err != nil {
		return err
	}
	sweepOps := *c.t.byFunction["hmsSweep"]
	cpu1, _ := procstat.CPUTime(srv.PID())
	c.t.cpu = cpu1 - cpu0
	c.t.fcm = len(w.FCM.Messages())
	c.t.invocations = door.calls
	fmt.Fprint(out, c.t.report(o.consultations, sweepOps, usCentral1))
	return nil
}

// consultation plays consultations and attributes what crosses the wire
// to the step that caused it.
type consultation struct {
	w                      *rig.World
	front                  string
	fs                     *firestore.Client
	http                   *http.Client
	gen                    *sessiongen.Generator
	rng                    *rand.Rand
	dupRate                float64
	doctorUID, doctorToken string
	clientUID, clientToken string
	cursor, hmsCursor      time.Time
	t                      *tally
}

// step runs do and charges the Firestore calls and 100ms requests made
// meanwhile to function.
func (c *consultation) step(function string, do func() error) error {
	if err := do(); err != nil {
		return fmt.Errorf("%s: %w", function, err)
	}
	now := time.Now()
	var calls []delayproxy.Call
	for _, call := range c.w.FS.Calls(c.cursor) {
		if call.Start.Before(now) {
			calls = append(calls, call)
		}
	}
	// The run's count, so that a document a later step writes again with
	// an expireAt is one TTL delete, charged to the step that made it.
	before := c.t.fs.Ops
	if err := c.t.fs.Add(calls); err != nil {
		return err
	}
	after := c.t.fs.Ops
	if c.t.byFunction[function] == nil {
		c.t.byFunction[function] = &billing.Ops{}
	}
	o := c.t.byFunction[function]
	o.Reads += after.Reads - before.Reads
	o.Writes += after.Writes - before.Writes
	o.Deletes += after.Deletes - before.Deletes
	o.TTLDeletes += after.TTLDeletes - before.TTLDeletes
	for _, call := range c.w.HMS.Calls(c.hmsCursor) {
		if call.Start.Before(now) {
			c.t.hms[route(call.Name)]++
		}
	}
	c.cursor, c.hmsCursor = now, now
	return nil
}

// route names a 100ms request without its ids: "POST /v2/rooms/{id}".
// An id is a segment of 12 or more characters with a digit in it (100ms's
// object ids, the fake's, peer UUIDs); route words have none.
func route(name string) string {
	method, path, _ := strings.Cut(name, " ")
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if len(s) >= 12 && strings.ContainsAny(s, "0123456789") {
			segs[i] = "{id}"
		}
	}
	return method + " " + strings.Join(segs, "/")
}

func (c *consultation) post(path, idToken string, body any, out any) error {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(map[string]any{"data": body})
	}
	req, _ := http.NewRequest(http.MethodPost, c.front+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if idToken != "" {
		req.Header.Set("Authorization", "Bearer "+idToken)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *consultation) callable(function, idToken string, data map[string]any) (map[string]any, error) {
	var out struct {
		Result map[string]any `json:"result"`
	}
	err := c.step(function, func() error { return c.post("/"+function, idToken, data, &out) })
	return out.Result, err
}

func (c *consultation) webhook(body []byte) error {
	return c.step("hmssWebhook", func() error {
		req, _ := http.NewRequest(http.MethodPost, c.front+"/hmssWebhook", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Webhook-Secret", c.w.WebhookSecret)
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("webhook: %d", resp.StatusCode)
		}
		return nil
	})
}

// fakeWebhooks waits for the webhooks the fake 100ms sends (a role change
// after hmsAdmit, a recording's beam events) and charges them.
func (c *consultation) fakeWebhooks(ctx context.Context) error {
	return c.step("hmssWebhook", func() error {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return c.w.Fake.WaitWebhooks(wctx)
	})
}

// play is one consultation, as docs/performance.md lists it.
func (c *consultation) play(ctx context.Context, appt string) error {
	now := time.Now().UTC()
	if _, err := c.fs.Collection("appointments").Doc(appt).Set(ctx, map[string]any{
		"doctorId": c.doctorUID, "clientId": c.clientUID, "startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour),
	}); err != nil {
		return rig.SetupErrorf("appointment: %w", err)
	}
	id := map[string]any{"appointmentId": appt}
	res, err := c.callable("hmsToken", c.doctorToken, id)
	if err != nil {
		return err
	}
	roomID, _ := res["roomId"].(string)
	for range 2 { // the client, and a rejoin (a second token)
		if _, err := c.callable("hmsToken", c.clientToken, id); err != nil {
			return err
		}
	}
	spec := sessiongen.ConsultationSpec{AppointmentID: appt, RoomID: roomID, RoomName: rig.Project + "-" + appt,
		DoctorUID: c.doctorUID, ClientUID: c.clientUID, Start: now, Length: 10 * time.Minute, WaitingRole: "waiting-room"}
	room, _ := c.gen.Consultation(spec)
	var events [][]byte
	for _, ev := range room.Events {
		if ev.Type == "role.change.success" {
			continue // hmsAdmit makes 100ms send the real one
		}
		var m struct {
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(ev.Body, &m)
		if ev.Type == "session.open.success" {
			// 100ms knows the session by the id its events carry, for the
			// reconciliation after the close to read.
			sid, _ := m.Data["session_id"].(string)
			c.w.Fake.AddSession(fake100ms.Session{ID: sid, RoomID: roomID, Active: true, CreatedAt: ev.At})
		}
		if ev.Type == "peer.join.success" && len(events) < 4 {
			// 100ms knows the first peers as they join, for hmsAdmit to ask.
			uid, _ := m.Data["user_id"].(string)
			pid, _ := m.Data["peer_id"].(string)
			role, _ := m.Data["role"].(string)
			c.w.Fake.JoinPeer(roomID, fake100ms.Peer{ID: pid, UserID: uid, Role: role, JoinedAt: ev.At})
		}
		events = append(events, ev.Body)
	}
	deliver := func(body []byte) error {
		if err := c.webhook(body); err != nil {
			return err
		}
		if c.rng.Float64() < c.dupRate {
			return c.webhook(body) // 100ms's retry of a delivery it thought failed
		}
		return nil
	}
	// Open and the two joins; then the doctor admits the client, both
	// consent, and a recording runs for a while.
	for _, ev := range events[:3] {
		if err := deliver(ev); err != nil {
			return err
		}
	}
	if _, err := c.callable("hmsAdmit", c.doctorToken, id); err != nil {
		return err
	}
	if err := c.fakeWebhooks(ctx); err != nil {
		return err
	}
	for _, tok := range []string{c.doctorToken, c.clientToken} {
		if _, err := c.callable("hmsConsent", tok, map[string]any{"appointmentId": appt, "recording": true}); err != nil {
			return err
		}
	}
	if _, err := c.callable("hmsRecording", c.doctorToken, map[string]any{"appointmentId": appt, "action": "start"}); err != nil {
		return err
	}
	if err := c.fakeWebhooks(ctx); err != nil {
		return err
	}
	rest := events[3:]
	closeAt := len(rest)
	for i, ev := range rest {
		if strings.Contains(string(ev), `"session.close.success"`) {
			closeAt = i
			break
		}
	}
	for _, ev := range rest[:closeAt] {
		if err := deliver(ev); err != nil {
			return err
		}
	}
	if _, err := c.callable("hmsRecording", c.doctorToken, map[string]any{"appointmentId": appt, "action": "stop"}); err != nil {
		return err
	}
	if err := c.fakeWebhooks(ctx); err != nil {
		return err
	}
	if _, err := c.callable("hmsEndCall", c.doctorToken, id); err != nil {
		return err
	}
	for _, ev := range rest[closeAt:] {
		if err := deliver(ev); err != nil {
			return err
		}
	}
	if err := c.fakeWebhooks(ctx); err != nil {
		return err
	}
	recs, err := c.fs.Collection("calls").Doc(appt).Collection("recordings").Documents(ctx).GetAll()
	if err != nil {
		return rig.SetupErrorf("recordings: %w", err)
	}
	for _, r := range recs {
		if r.Data()["kind"] == "browser" {
			if _, err := c.callable("hmsRecordingUrl", c.clientToken, map[string]any{"appointmentId": appt, "recordingId": r.Ref.ID}); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// report prints the counts per consultation and the cost per 1,000.
func (t *tally) report(n int, sweep billing.Ops, p prices) string {
	var b strings.Builder
	per := func(x int) float64 { return float64(x) / float64(n) }
	fsCost := func(o billing.Ops) float64 {
		return float64(o.Reads)*p.read + float64(o.Writes)*p.write + float64(o.Deletes+o.TTLDeletes)*p.delete
	}
	fmt.Fprintf(&b, "%d consultations; load average %s; %s\n\n", n, procstat.LoadAvg(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Per consultation: %.1f document reads, %.1f writes, %.1f deletes (%.1f of them TTL expiries), %.1f invocations, %.1f 100ms requests, %.3f CPU s\n\n",
		per(t.fs.Reads), per(t.fs.Writes), per(t.fs.Deletes+t.fs.TTLDeletes), per(t.fs.TTLDeletes), per(sum(t.invocations)), per(sum(t.hms)), t.cpu.Seconds()/float64(n))

	fmt.Fprintln(&b, "| function | invocations | reads | writes | deletes (TTL) | Firestore $ per 1,000 |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|")
	for _, f := range sortedKeys(t.byFunction) {
		o := *t.byFunction[f]
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f | %.2f (%.2f) | %.4f |\n", f, per(t.invocations[f]), per(o.Reads), per(o.Writes),
			per(o.Deletes+o.TTLDeletes), per(o.TTLDeletes), fsCost(o)/float64(n)*1000)
	}
	fmt.Fprintln(&b, "\n| collection | reads | writes | deletes (TTL) |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|")
	for _, col := range t.fs.Collections() {
		o := *t.fs.ByCollection[col]
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %.2f (%.2f) |\n", col, per(o.Reads), per(o.Writes), per(o.Deletes+o.TTLDeletes), per(o.TTLDeletes))
	}
	fmt.Fprintf(&b, "\nPush notifications sent (FCM messages, free of charge): %.2f per consultation.\n", per(t.fcm))
	fmt.Fprintln(&b, "\n| 100ms route | requests |")
	fmt.Fprintln(&b, "|---|---:|")
	for _, r := range sortedKeys(t.hms) {
		fmt.Fprintf(&b, "| %s | %.2f |\n", r, per(t.hms[r]))
	}
	firestoreCost := fsCost(t.fs.Ops) - fsCost(sweep)
	inv := float64(sum(t.invocations)-t.invocations["hmsSweep"]) * p.invocation
	cpu := t.cpu.Seconds() * p.cpuSecond
	per1000 := func(x float64) float64 { return x / float64(n) * 1000 }
	sweepMonth := 6*24*30*(fsCost(sweep)+p.invocation) + p.schedulerJobMonth
	fmt.Fprintf(&b, "\nCost per 1,000 consultations (us-central1 list prices): Firestore $%.4f, invocations $%.4f, CPU $%.4f: **$%.4f**; "+
		"plus hmsSweep every 10 minutes, whatever the traffic: $%.4f a month (%d reads a run when nothing is idle, and the scheduler job)\n",
		per1000(firestoreCost), per1000(inv), per1000(cpu), per1000(firestoreCost+inv+cpu), sweepMonth, sweep.Reads)
	return b.String()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
