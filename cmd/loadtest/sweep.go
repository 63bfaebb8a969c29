package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/sessiongen"
)

// hmsHistory keeps the fake 100ms's view of the load as 100ms's would be:
// a session is active until its close is first sent (100ms sends it when
// the session ends), and a delivery the senders gave up on is in the
// webhook history as failed, with its body, from the moment it failed.
type hmsHistory struct {
	fake *fake100ms.Server
	// known: the sessions the fake was given (-reconcile); the others stay
	// unknown to it, as before.
	known map[string]bool

	mu       sync.Mutex
	ended    map[string]bool
	failed   int
	recorded error // the first failure to record a delivery
}

// newHMSHistory gives the fake the generated rooms' sessions as 100ms knows
// them (every peer, with its join and leave times), each active until its
// close is first sent, so that the reconciliation of docs/webhook.md can
// repair attendance whose events were lost and hmsSweep can ask which
// sessions are over. Without rooms the fake knows no session and answers
// 404 to a session GET, as 100ms does for an unknown one: the
// reconciliation after session.close fails fast and changes nothing.
func newHMSHistory(fake *fake100ms.Server, rooms []sessiongen.Room) *hmsHistory {
	h := &hmsHistory{fake: fake, known: map[string]bool{}, ended: map[string]bool{}}
	for _, r := range rooms {
		for _, s := range r.Sessions {
			h.known[s.ID] = true
			peers := make([]fake100ms.Peer, 0, len(s.Peers))
			for _, p := range s.Peers {
				peers = append(peers, fake100ms.Peer{ID: p.ID, Name: p.Name, Role: p.Role, UserID: p.UserID,
					JoinedAt: p.JoinedAt, LeftAt: p.LeftAt})
			}
			fake.AddSession(fake100ms.Session{ID: s.ID, RoomID: r.ID, Active: true, CreatedAt: s.StartedAt, UpdatedAt: s.EndedAt, Peers: peers})
		}
	}
	return h
}

// firstSend ends the session of a close about to be sent.
func (h *hmsHistory) firstSend(ev sessiongen.Event) {
	if ev.Type != "session.close.success" || !h.known[ev.SessionID] {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended[ev.SessionID] {
		return
	}
	h.ended[ev.SessionID] = true
	if s, ok := h.fake.Session(ev.SessionID); ok {
		s.Active = false
		h.fake.AddSession(s)
	}
}

// gaveUp records a delivery 100ms gave up on.
func (h *hmsHistory) gaveUp(ev sessiongen.Event) {
	err := h.fake.AddFailedDelivery(ev.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed++
	if err != nil && h.recorded == nil {
		h.recorded = err
	}
}

// replaySink is the webhook URL the fake replays to: it forwards each
// replayed event to the server as a sender would, answers the fake with
// the server's status, and counts the answers, so that an event the
// replay applies a second time is caught like one the senders did.
type replaySink struct {
	s   *sender
	srv *http.Server
	url string

	mu     sync.Mutex
	posted int
	byCode map[int]int
	stored map[string]int
	first  time.Time
	last   time.Time
}

func startReplaySink(s *sender) (*replaySink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("replay sink: %w", err)
	}
	r := &replaySink{s: s, url: "http://" + l.Addr().String() + "/hmssWebhook", byCode: map[int]int{}, stored: map[string]int{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

func (r *replaySink) close() { _ = r.srv.Close() }

func (r *replaySink) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var env struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &env)
	t := time.Now()
	code, status := r.s.post(req.Context(), body)
	r.mu.Lock()
	r.posted++
	r.byCode[code]++
	if code == http.StatusOK && status == "stored" {
		r.stored[env.ID]++
	}
	if r.first.IsZero() {
		r.first = t
	}
	r.last = time.Now()
	r.mu.Unlock()
	if code == 0 {
		code = http.StatusBadGateway
	}
	w.WriteHeader(code)
}

// replayBody is a body as 100ms's replay re-sends it: "is_replay": true
// first, the rest byte for byte (as internal/fake100ms does it).
func replayBody(body []byte) []byte {
	i := bytes.IndexByte(body, '{')
	if i < 0 {
		return body
	}
	rest := bytes.TrimLeft(body[i+1:], " \t\r\n")
	if len(rest) > 0 && rest[0] == '}' {
		return append([]byte(`{"is_replay":true`), rest...)
	}
	return append([]byte(`{"is_replay":true,`), body[i+1:]...)
}

// sweepSummary is the part of hmsSweep's answer (functions/sweep.go) this
// tool reads, by the answer's JSON names, as any client of the function
// would; the rest is ignored, so the function may add fields without this
// tool's knowledge. TestSweepSummaryReadsTheAnswer holds each field to the
// function's name and type.
type sweepSummary struct {
	Checked          int    `json:"checked"`
	Closed           int    `json:"closed"`
	StillLive        int    `json:"stillLive"`
	Unknown          int    `json:"unknown"`
	Errors           int    `json:"errors"`
	Truncated        bool   `json:"truncated"`
	ReplayFrom       string `json:"replayFrom"`
	ReplayTo         string `json:"replayTo"`
	FailedDeliveries int    `json:"failedDeliveries"`
	ReplaysRequested int    `json:"replaysRequested"`
	ReplayError      string `json:"replayError"`
	TimedOut         bool   `json:"timedOut"`
}

// sweepRun is one hmsSweep run as seen from here.
type sweepRun struct {
	at      time.Duration // since the load ended
	took    time.Duration
	status  int
	sum     sweepSummary
	hmsCall map[string]int // 100ms requests during the run, by route
	// replayWait: how long the fake's replays took to finish after it.
	replayWait time.Duration
}

// hmsRoutes are the fake's routes a sweep (or the webhook's
// reconciliation) uses.
var hmsRoutes = []string{"GET /sessions", "GET /sessions/{id}", "GET /analytics/webhooks",
	"POST /analytics/webhooks/replay", "GET /analytics/webhooks/replay/{id}"}

func hmsCounts(f *fake100ms.Server) map[string]int {
	m := map[string]int{}
	for _, r := range hmsRoutes {
		m[r] = f.Calls(r)
	}
	return m
}

// sweepIdle is the server's SWEEP_IDLE (scripts/loadtest sets it), or
// its default when unset.
func sweepIdle() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SWEEP_IDLE")); err == nil && d >= 0 {
		return d
	}
	return 30 * time.Minute
}

// sweepAfterLoad does what Cloud Scheduler would after the outage: once
// the failures of the load are older than hmsSweep's replay lag (-sweep-wait
// after the last delivery given up) and the calls are idle for SWEEP_IDLE,
// it runs hmsSweep, waits for the replay it asked for, and runs it again
// until a run has nothing left to close or replay (at most -sweeps runs).
func sweepAfterLoad(ctx context.Context, o *options, fake *fake100ms.Server, loadEnd, lastGaveUp time.Time,
	logf func(string, ...any)) ([]sweepRun, error) {
	idle := sweepIdle()
	if idle > 5*time.Minute {
		return nil, fmt.Errorf("-sweep: the server's SWEEP_IDLE is %s (unset?): set a few seconds (scripts/loadtest sets %s)", idle, "1s")
	}
	due := loadEnd.Add(idle + time.Second)
	if !lastGaveUp.IsZero() && lastGaveUp.Add(o.sweepWait).After(due) {
		due = lastGaveUp.Add(o.sweepWait)
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	var runs []sweepRun
	for n := 1; n <= o.sweeps; n++ {
		if wait := time.Until(due); wait > 0 {
			logf("sweep %d: waiting %.1fs (the replay lag after the last delivery given up, or SWEEP_IDLE %s)", n, wait.Seconds(), idle)
			select {
			case <-ctx.Done():
				return runs, ctx.Err()
			case <-time.After(wait):
			}
		}
		before := hmsCounts(fake)
		run := sweepRun{at: time.Since(loadEnd)}
		t := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.sweepURL, nil)
		if err != nil {
			return runs, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return runs, fmt.Errorf("sweep %d: POST %s: %w", n, o.sweepURL, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		run.took, run.status = time.Since(t), resp.StatusCode
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &run.sum); err != nil {
				return runs, fmt.Errorf("sweep %d: answer %q: %w", n, body, err)
			}
		} else {
			var a struct {
				Summary sweepSummary `json:"summary"`
			}
			_ = json.Unmarshal(body, &a)
			run.sum = a.Summary
			logf("sweep %d: answered %s: %s", n, resp.Status, bytes.TrimSpace(body))
		}
		after := hmsCounts(fake)
		run.hmsCall = map[string]int{}
		for _, r := range hmsRoutes {
			run.hmsCall[r] = after[r] - before[r]
		}
		logf("sweep %d: %d checked, %d closed, %d failed deliveries, %d replays requested, in %.1fs",
			n, run.sum.Checked, run.sum.Closed, run.sum.FailedDeliveries, run.sum.ReplaysRequested, run.took.Seconds())
		t = time.Now()
		// 100ms replays 10 events a second; a generous bound all the same.
		wctx, cancel := context.WithTimeout(ctx, time.Duration(run.sum.FailedDeliveries)*time.Second+2*time.Minute)
		err = fake.WaitReplays(wctx)
		cancel()
		run.replayWait = time.Since(t)
		runs = append(runs, run)
		if err != nil {
			return runs, fmt.Errorf("sweep %d: %w", n, err)
		}
		if run.status == http.StatusOK && run.sum.Closed == 0 && run.sum.ReplaysRequested == 0 && run.sum.Errors == 0 && !run.sum.TimedOut {
			break
		}
		// The replayed events made calls busy again: let them go idle.
		due = time.Now().Add(idle + time.Second)
	}
	return runs, nil
}

// liveCalls counts the load's calls left live, and of those, the ones
// whose active session 100ms says is over (or does not know).
func liveCalls(ctx context.Context, fs *firestore.Client, fake *fake100ms.Server, rooms []sessiongen.Room) (live, over, unknown int, examples []string, err error) {
	ours := map[string]bool{}
	for _, r := range rooms {
		ours[r.AppointmentID] = true
	}
	snaps, err := fs.Collection("calls").Where("status", "==", "live").Documents(ctx).GetAll()
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("query live calls: %w", err)
	}
	for _, snap := range snaps {
		if !ours[snap.Ref.ID] {
			continue
		}
		live++
		sid, _ := snap.Data()["activeSessionId"].(string)
		s, ok := fake.Session(sid)
		switch {
		case !ok:
			unknown++
		case !s.Active:
			over++
			examples = append(examples, snap.Ref.ID+" (session "+sid+")")
		}
	}
	slices.Sort(examples)
	return live, over, unknown, examples, nil
}
