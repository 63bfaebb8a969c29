// Command loadtest drives a running hmssWebhook (cmd/local) on the Firestore
// emulator with realistic 100ms webhook traffic, checks the result, and
// prints a summary table. scripts/loadtest starts the emulator and the
// server and runs it; run it yourself only against an emulator.
//
// What it does, in order:
//
//  1. Generates session histories (internal/sessiongen) of at least
//     -events events and records each room for its appointment in
//     Firestore, as hmsToken would (store.EnsureRoom), in the server's
//     project and in a reference project.
//  2. Warms the emulator's JVM up (its JIT makes it several times faster
//     after a minute of work): the floor workload for -warmup-floor and -warmup
//     events through the webhook, on rooms of their own.
//  3. Measures the emulator's floor: -floor-writers writers committing
//     atomic batches that create one document and merge into one of 50
//     shared ones, for -floor.
//  4. Delivers every event -k times, shuffled, from -c concurrent senders,
//     to -url with the secret header; a failed delivery is retried as 100ms
//     does (-retries, default after 1 s, 3 s and 10 s, then given up). With
//     -outage, -outage-after into the load, the emulator becomes
//     unreachable for -outage: the proxy (-proxy) that the server reaches
//     it through cuts every connection and refuses new ones, as when the
//     emulator is killed and restarted (-outage-kind refuse, the default),
//     or its JVM is paused with SIGSTOP (-outage-kind stop).
//  5. Measures the floor again (the report judges against the higher of
//     the two: the emulator's JIT may still be warming up).
//  6. Applies the same events once, in time order per room, through the
//     store package (the code the webhook runs) to the reference project.
//  7. With -sweep (on by default with -outage and -fake-hms): once the
//     load's failures are older than hmsSweep's replay lag (-sweep-wait
//     after the last delivery given up), POSTs to hmsSweep (-sweep-url) as
//     Cloud Scheduler would, waits for the replay it asked the fake 100ms
//     for, and runs it again while a run closed or replayed something (at
//     most -sweeps runs). The fake holds what 100ms would: each delivery
//     the senders gave up on is a failed delivery from the moment it
//     failed, and (with -reconcile) each session is active until its close
//     is first sent. The fake replays to a forwarder here, which counts the
//     server's answers as the senders do.
//  8. Checks: every event is in hmsEvents once with its exact body (a
//     replayed one: with "is_replay": true first, as 100ms re-sends it) and its
//     appointment; no event was answered "stored" twice; every
//     calls/{appointmentId} document with its sessions and recordings
//     equals the reference, all fields but updatedAt and receivedAt (and
//     the call's createdAt).
//
// It refuses to run unless FIRESTORE_EMULATOR_HOST is set, and it wipes the
// projects it uses on that emulator first. The webhook secret is read from
// HMS_WEBHOOK_SECRET (the first of a comma-separated list) and never
// printed. The exit status is 1 when an event is lost or applied twice or
// a document differs, 2 on a usage or setup error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/delayproxy"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/procstat"
	"github.com/telemed/videocalls/internal/sessiongen"
	"github.com/telemed/videocalls/store"
)

// options are the command-line flags.
type options struct {
	url          string
	project      string
	refProject   string
	floorProject string
	events       int
	k            int
	senders      int
	seed         uint64
	maxSessions  int
	timeout      time.Duration
	retries      []time.Duration
	floor        time.Duration
	floorWriters int
	warmup       int
	warmFloor    time.Duration
	outage       time.Duration
	outageAfter  time.Duration
	outageKind   string
	proxyAddr    string
	emulatorPid  int
	serverPid    int
	fakeHMS      string
	reconcile    bool
	sweep        bool
	sweepURL     string
	sweepWait    time.Duration
	sweeps       int
	showDiffs    int
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	o := &options{}
	defProject := os.Getenv("GOOGLE_CLOUD_PROJECT")
	if defProject == "" {
		defProject = "demo-loadtest"
	}
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/hmssWebhook", "hmssWebhook URL")
	fs.StringVar(&o.project, "project", defProject, "the server's project id (GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&o.refProject, "ref-project", "", "project for the in-order reference (default <project>-ref)")
	fs.StringVar(&o.floorProject, "floor-project", "", "project for the floor measurement (default <project>-floor)")
	fs.IntVar(&o.events, "events", 10000, "unique events to generate (whole sessions, so a few more)")
	fs.IntVar(&o.k, "k", 4, "deliveries of each event")
	fs.IntVar(&o.senders, "c", 32, "concurrent senders")
	fs.Uint64Var(&o.seed, "seed", 1, "generator and shuffle seed")
	fs.IntVar(&o.maxSessions, "sessions", 2, "at most this many sessions per room")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Second, "HTTP timeout of one delivery attempt")
	retries := fs.String("retries", "1s,3s,10s", "waits before each retry of a failed delivery, comma-separated (\"\" for none)")
	fs.DurationVar(&o.floor, "floor", 5*time.Second, "length of each floor measurement (0 skips it)")
	fs.IntVar(&o.floorWriters, "floor-writers", 32, "concurrent writers of the floor measurement")
	fs.IntVar(&o.warmup, "warmup", 2000, "warm-up events sent once before the measured load, on rooms of their own")
	fs.DurationVar(&o.warmFloor, "warmup-floor", 10*time.Second, "how long the floor workload warms the emulator up first")
	fs.DurationVar(&o.outage, "outage", 0, "pause the Firestore emulator this long during the load (needs -emulator-pid)")
	fs.StringVar(&o.outageKind, "outage-kind", outageRefuse, `"refuse": cut the server's connections to the emulator and refuse new ones (needs -proxy), as if it were killed and restarted; "stop": pause it with SIGSTOP (needs -emulator-pid), so that requests hang`)
	fs.StringVar(&o.proxyAddr, "proxy", "", "serve on this host:port a TCP proxy to the emulator ($FIRESTORE_EMULATOR_HOST), for the server to use; -outage-kind refuse takes it down")
	fs.DurationVar(&o.outageAfter, "outage-after", 5*time.Second, "when the outage starts, after the load starts")
	fs.IntVar(&o.emulatorPid, "emulator-pid", envInt("FIRESTORE_EMULATOR_PID"), "pid of the emulator's java process (default $FIRESTORE_EMULATOR_PID)")
	fs.IntVar(&o.serverPid, "server-pid", 0, "pid of the server (cmd/local), to report its CPU time per delivery")
	fs.StringVar(&o.fakeHMS, "fake-hms", "", "serve a fake 100ms REST API on this host:port, answering 404 to everything (point the server's HMS_API_BASE at it)")
	fs.BoolVar(&o.reconcile, "reconcile", false, "with -fake-hms, answer GET /sessions/{id} with the generated sessions' peers, so that the webhook's reconciliation can repair lost peer events")
	fs.BoolVar(&o.sweep, "sweep", false, "after the load, run hmsSweep (-sweep-url) as Cloud Scheduler would, wait for the replays it asks the fake 100ms for, and check that no call is left live whose session is over; needs -fake-hms, and the server's SWEEP_IDLE of a few seconds (scripts/loadtest sets 1s). Default: on with -outage and -fake-hms")
	fs.StringVar(&o.sweepURL, "sweep-url", "", "hmsSweep URL (default: -url with hmsSweep for its last path element)")
	fs.DurationVar(&o.sweepWait, "sweep-wait", 32*time.Second, "with -sweep, run the first sweep this long after the last delivery given up: hmsSweep replays only failures older than 30 s")
	fs.IntVar(&o.sweeps, "sweeps", 3, "with -sweep, at most this many runs: another runs while the last one closed a call or requested a replay")
	fs.IntVar(&o.showDiffs, "show", 5, "list at most this many lost events and differing documents")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadtest [flags]   (see scripts/loadtest --help)\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	sweepSet := false
	fs.Visit(func(f *flag.Flag) { sweepSet = sweepSet || f.Name == "sweep" })
	if !sweepSet {
		o.sweep = o.outage > 0 && o.fakeHMS != ""
	}
	if o.sweepURL == "" {
		u, err := url.Parse(o.url)
		if err != nil {
			return nil, fmt.Errorf("-url %q: %w", o.url, err)
		}
		u.Path = path.Join(path.Dir(u.Path), "hmsSweep")
		o.sweepURL = u.String()
	}
	if o.refProject == "" {
		o.refProject = o.project + "-ref"
	}
	if o.floorProject == "" {
		o.floorProject = o.project + "-floor"
	}
	for _, s := range strings.Split(*retries, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-retries: %q is not a duration", s)
		}
		o.retries = append(o.retries, d)
	}
	switch {
	case o.events < 1 || o.k < 1 || o.senders < 1 || o.floorWriters < 1 || o.maxSessions < 1:
		return nil, errors.New("-events, -k, -c, -floor-writers and -sessions must be positive")
	case o.outageKind != outageRefuse && o.outageKind != outageStop:
		return nil, fmt.Errorf("-outage-kind %q: want %q or %q", o.outageKind, outageRefuse, outageStop)
	case o.outage > 0 && o.outageKind == outageStop && o.emulatorPid <= 0:
		return nil, errors.New("-outage-kind stop needs the emulator's pid (-emulator-pid or FIRESTORE_EMULATOR_PID)")
	case o.outage > 0 && o.outageKind == outageRefuse && o.proxyAddr == "":
		return nil, errors.New("-outage-kind refuse needs -proxy, with the server using it as its FIRESTORE_EMULATOR_HOST (scripts/loadtest does that)")
	case o.reconcile && o.fakeHMS == "":
		return nil, errors.New("-reconcile needs -fake-hms (scripts/loadtest sets it)")
	case o.sweep && o.fakeHMS == "":
		return nil, errors.New("-sweep needs -fake-hms (scripts/loadtest sets it)")
	case o.sweep && o.sweeps < 1:
		return nil, errors.New("-sweeps must be positive")
	case o.project == o.refProject || o.project == o.floorProject || o.refProject == o.floorProject:
		return nil, errors.New("-project, -ref-project and -floor-project must differ")
	}
	return o, nil
}

func envInt(name string) int {
	var n int
	_, _ = fmt.Sscan(os.Getenv(name), &n)
	return n
}

// Kinds of outage.
const (
	outageRefuse = "refuse"
	outageStop   = "stop"
)

// run does the whole test and reports whether every check passed.
func run(ctx context.Context, o *options, out io.Writer) (bool, error) {
	emu := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if emu == "" {
		return false, errors.New("FIRESTORE_EMULATOR_HOST is not set: this tool writes and wipes data, and runs only against the emulator")
	}
	secret, _, _ := strings.Cut(os.Getenv("HMS_WEBHOOK_SECRET"), ",")
	if secret = strings.TrimSpace(secret); secret == "" {
		return false, errors.New("HMS_WEBHOOK_SECRET is not set (the server's webhook secret)")
	}
	header := os.Getenv("HMS_WEBHOOK_HEADER")
	if header == "" {
		header = "X-Webhook-Secret"
	}
	rep := &report{opts: o, load0: procstat.LoadAvg()}
	var prox *delayproxy.Proxy
	if o.proxyAddr != "" {
		var err error
		if prox, err = delayproxy.Listen(o.proxyAddr, emu, 0); err != nil {
			return false, err
		}
		defer prox.Close()
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}

	for _, p := range []string{o.project, o.refProject, o.floorProject} {
		if err := wipe(ctx, emu, p); err != nil {
			return false, err
		}
	}
	main, err := store.Open(ctx, o.project)
	if err != nil {
		return false, err
	}
	defer main.Close()
	ref, err := store.Open(ctx, o.refProject)
	if err != nil {
		return false, err
	}
	defer ref.Close()
	fsMain, err := firestore.NewClient(ctx, o.project)
	if err != nil {
		return false, err
	}
	defer fsMain.Close()
	fsRef, err := firestore.NewClient(ctx, o.refProject)
	if err != nil {
		return false, err
	}
	defer fsRef.Close()
	fsFloor, err := firestore.NewClient(ctx, o.floorProject)
	if err != nil {
		return false, err
	}
	defer fsFloor.Close()

	// 1. Histories and rooms.
	rooms := sessiongen.New(sessiongen.Config{Seed: o.seed, Prefix: "lt", MaxSessions: o.maxSessions}).Rooms(o.events)
	var warmRooms []sessiongen.Room
	if o.warmup > 0 {
		warmRooms = sessiongen.New(sessiongen.Config{Seed: o.seed + 1_000_003, Prefix: "warm", MaxSessions: o.maxSessions}).Rooms(o.warmup)
	}
	events := sessiongen.All(rooms)
	rep.rooms, rep.events = len(rooms), len(events)
	client := newHTTPClient(o)
	var fake *fake100ms.Server
	var history *hmsHistory
	var sink *replaySink
	if o.fakeHMS != "" {
		var known []sessiongen.Room
		if o.reconcile {
			known = append(append(known, rooms...), warmRooms...)
		}
		// The server's HMS_SECRET is not shared with this tool, so the fake
		// checks the management tokens' claims but not their signature.
		if fake, err = fake100ms.Listen(o.fakeHMS, ""); err != nil {
			return false, err
		}
		defer fake.Close()
		history = newHMSHistory(fake, known)
		// The fake replays to this tool, which forwards to the server and
		// counts the answers (see replaySink).
		if sink, err = startReplaySink(newSender(client, o, header, secret)); err != nil {
			return false, err
		}
		defer sink.close()
		fake.SetWebhook(sink.url, http.Header{header: {secret}})
	}
	mkSender := func() *sender {
		s := newSender(client, o, header, secret)
		if history != nil {
			s.firstSend, s.gaveUp = history.firstSend, history.gaveUp
		}
		return s
	}
	logf("generated %d events in %d rooms; recording the rooms", len(events), len(rooms))
	if err := seedRooms(ctx, main, append(append([]sessiongen.Room(nil), rooms...), warmRooms...)); err != nil {
		return false, err
	}
	if err := seedRooms(ctx, ref, rooms); err != nil {
		return false, err
	}

	// 2. Warm-up.
	if o.floor > 0 && o.warmFloor > 0 {
		logf("warm-up: floor workload for %s", o.warmFloor)
		if _, err := measureFloor(ctx, fsFloor, "warm", o.floorWriters, o.warmFloor); err != nil {
			return false, err
		}
	}
	if len(warmRooms) > 0 {
		warm := sessiongen.All(warmRooms)
		logf("warm-up: %d events through the webhook", len(warm))
		res := mkSender().deliver(ctx, warm, 1, 0, nil)
		if res.byCode[http.StatusOK] == 0 {
			return false, fmt.Errorf("warm-up: no delivery answered 200 (answers %v); is the server at %s running with the same secret and project?", res.byCode, o.url)
		}
	}

	// 3. Floor before.
	if o.floor > 0 {
		logf("floor: %d writers for %s", o.floorWriters, o.floor)
		m := startCPU(o.emulatorPid, 0)
		if rep.floorBefore, err = measureFloor(ctx, fsFloor, "a", o.floorWriters, o.floor); err != nil {
			return false, err
		}
		rep.floorCPU = m.stop()
	}

	// 4. The load.
	var pauser *outage
	if o.outage > 0 {
		pauser = &outage{kind: o.outageKind, pid: o.emulatorPid, proxy: prox, after: o.outageAfter, length: o.outage}
	}
	logf("load: %d events x %d deliveries, %d senders%s", len(events), o.k, o.senders, pauser.describe())
	m := startCPU(o.emulatorPid, o.serverPid)
	rep.load = mkSender().deliver(ctx, events, o.k, o.seed, pauser)
	loadEnd := time.Now()
	rep.loadCPU = m.stop()
	rep.serverRSS = procstat.PeakRSS(o.serverPid)
	if pauser != nil {
		rep.outageStart, rep.outageEnd, rep.outageWhat = pauser.start, pauser.end, pauser.what()
	}
	rep.load1 = procstat.LoadAvg()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}

	// 5. Floor after.
	if o.floor > 0 {
		logf("floor again")
		if rep.floorAfter, err = measureFloor(ctx, fsFloor, "b", o.floorWriters, o.floor); err != nil {
			return false, err
		}
	}

	// 6. Reference.
	logf("reference: applying %d events once, in order, to %s", len(events), o.refProject)
	refStart, m := time.Now(), startCPU(o.emulatorPid, 0)
	if err := applyInOrder(ctx, ref, rooms); err != nil {
		return false, err
	}
	rep.refTime, rep.refCPU = time.Since(refStart), m.stop()

	// 7. The sweep, after the reference: its wait for the replay lag is
	// then mostly over.
	if history != nil {
		history.mu.Lock()
		rep.failedRecorded, err = history.failed, history.recorded
		history.mu.Unlock()
		if err != nil {
			return false, fmt.Errorf("record a failed delivery in the fake 100ms: %w", err)
		}
	}
	if o.sweep {
		rep.swept = true
		rep.load2 = procstat.LoadAvg()
		if rep.sweeps, err = sweepAfterLoad(ctx, o, fake, loadEnd, rep.load.lastGaveUp, logf); err != nil {
			return false, err
		}
		rep.load3 = procstat.LoadAvg()
	}
	if sink != nil {
		sink.mu.Lock()
		rep.replayed, rep.replayCodes, rep.replayStored = sink.posted, sink.byCode, sink.stored
		rep.replayTook = sink.last.Sub(sink.first)
		sink.mu.Unlock()
	}
	if o.sweep {
		if rep.liveCalls, rep.liveOver, rep.liveUnknown, rep.liveOverIDs, err = liveCalls(ctx, fsMain, fake, rooms); err != nil {
			return false, err
		}
	}

	// 8. Checks.
	logf("checking")
	if err := check(ctx, fsMain, fsRef, rooms, events, len(sessiongen.All(warmRooms)), rep); err != nil {
		return false, err
	}
	rep.print(out)
	return rep.ok(), nil
}

// wipe deletes every document of project on the emulator.
func wipe(ctx context.Context, host, project string) error {
	url := fmt.Sprintf("http://%s/emulator/v1/projects/%s/databases/(default)/documents", host, project)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("wipe %s: %w", project, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("wipe %s: %s: %s", project, resp.Status, body)
	}
	return nil
}
