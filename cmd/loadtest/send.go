package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/telemed/videocalls/internal/delayproxy"
	"github.com/telemed/videocalls/internal/sessiongen"
)

// sender posts webhook events as 100ms does: the secret header, a JSON
// body, and retries of a delivery that is not answered 200.
type sender struct {
	client  *http.Client
	url     string
	header  string
	secret  string
	workers int
	retries []time.Duration
	// firstSend, when set, is told of each delivery's first attempt, just
	// before it is sent; gaveUp of each delivery given up after the last
	// retry, when 100ms would list it as failed.
	firstSend func(ev sessiongen.Event)
	gaveUp    func(ev sessiongen.Event)
}

func newHTTPClient(o *options) *http.Client {
	conns := 2*o.senders + 8
	return &http.Client{
		Timeout: o.timeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
		},
	}
}

func newSender(c *http.Client, o *options, header, secret string) *sender {
	return &sender{client: c, url: o.url, header: header, secret: secret, workers: o.senders, retries: o.retries}
}

// loadResult is what the senders saw.
type loadResult struct {
	deliveries int // events × k
	attempts   int // deliveries plus retries
	elapsed    time.Duration
	byCode     map[int]int // answers by status; 0 is no answer (timeout, refused)
	latencies  []time.Duration
	// stored counts the 200 answers saying "stored" per event id: more than
	// one means the event was applied twice.
	stored map[string]int
	// with503 counts deliveries that got at least one 503; gaveUp those
	// whose every attempt failed, by event id.
	with503 int
	retried int
	gaveUp  map[string]int
	// lastGaveUp is when the last delivery was given up (zero if none).
	lastGaveUp time.Time
}

// delivery is one of an event's k deliveries, at its n-th attempt.
type delivery struct {
	ev      int
	attempt int
	got503  bool
}

// deliver sends each event k times in an order shuffled with seed, from
// s.workers goroutines, retrying each failed delivery after s.retries
// (each wait counted from the failed attempt's answer); a
// non-nil pause takes the emulator away during the load. It returns when
// every delivery has succeeded or been given up, and the outage is over.
func (s *sender) deliver(ctx context.Context, events []sessiongen.Event, k int, seed uint64, pause *outage) *loadResult {
	order := make([]int, 0, len(events)*k)
	for i := range events {
		for range k {
			order = append(order, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })

	res := &loadResult{deliveries: len(order), byCode: map[int]int{}, stored: map[string]int{}, gaveUp: map[string]int{}}
	var mu sync.Mutex
	queue := make(chan delivery, len(order))
	var pending sync.WaitGroup
	pending.Add(len(order))
	for _, i := range order {
		queue <- delivery{ev: i}
	}
	finish := func(d delivery, ok bool) {
		mu.Lock()
		if d.got503 {
			res.with503++
		}
		if d.attempt > 0 {
			res.retried++
		}
		if !ok {
			res.gaveUp[events[d.ev].ID]++
			res.lastGaveUp = time.Now()
		}
		mu.Unlock()
		if !ok && s.gaveUp != nil {
			s.gaveUp(events[d.ev])
		}
		pending.Done()
	}

	begin := time.Now()
	var outageDone chan struct{}
	if pause != nil {
		outageDone = make(chan struct{})
		go func() { pause.run(ctx); close(outageDone) }()
	}
	// attempt sends d once and settles it: done, given up, or retried on
	// 100ms's schedule. A retry is sent by its own timer goroutine at its
	// due time, not queued behind the first attempts, as 100ms schedules
	// each retry of a delivery independently of its other traffic.
	var attempt func(d delivery, lat *[]time.Duration)
	attempt = func(d delivery, lat *[]time.Duration) {
		if ctx.Err() != nil {
			finish(d, false)
			return
		}
		ev := events[d.ev]
		if d.attempt == 0 && s.firstSend != nil {
			s.firstSend(ev)
		}
		t := time.Now()
		code, status := s.post(ctx, ev.Body)
		took := time.Since(t)
		mu.Lock()
		res.attempts++
		res.byCode[code]++
		if code == http.StatusOK && status == "stored" {
			res.stored[ev.ID]++
		}
		if lat != nil {
			*lat = append(*lat, took)
		} else {
			res.latencies = append(res.latencies, took)
		}
		mu.Unlock()
		if code == http.StatusServiceUnavailable {
			d.got503 = true
		}
		switch {
		case code == http.StatusOK:
			finish(d, true)
		case d.attempt < len(s.retries):
			wait := s.retries[d.attempt]
			d.attempt++
			time.AfterFunc(wait, func() { attempt(d, nil) })
		default:
			finish(d, false)
		}
	}
	var workers sync.WaitGroup
	for range s.workers {
		workers.Go(func() {
			lat := make([]time.Duration, 0, len(order)/s.workers+16)
			for d := range queue {
				attempt(d, &lat)
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		})
	}
	pending.Wait()
	res.elapsed = time.Since(begin)
	close(queue)
	workers.Wait()
	if outageDone != nil {
		<-outageDone
	}
	return res
}

// post sends one attempt and returns the status code (0 when there was no
// answer) and the answer's "status" field.
func (s *sender) post(ctx context.Context, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, ""
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(s.header, s.secret)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var a struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(b, &a)
	return resp.StatusCode, a.Status
}

// outage makes the emulator unavailable after a while into the load and
// brings it back length later, or at once when ctx ends: kind "stop"
// pauses its JVM (SIGSTOP, then SIGCONT: requests hang), kind "refuse"
// takes the proxy in front of it down (connections cut, then refused, as
// when the emulator is killed; then it listens again, as when restarted).
type outage struct {
	kind          string
	pid           int
	proxy         *delayproxy.Proxy
	after, length time.Duration
	start, end    time.Duration // since the load began; 0 when it did not happen
}

// what says what the outage does to the emulator, for the report.
func (p *outage) what() string {
	if p.kind == outageRefuse {
		return "unreachable (connections cut and refused, as if killed)"
	}
	return "paused (SIGSTOP)"
}

func (p *outage) describe() string {
	if p == nil {
		return ""
	}
	return fmt.Sprintf("; emulator %s for %s, %s in", p.what(), p.length, p.after)
}

func (p *outage) run(ctx context.Context) {
	begin := time.Now()
	select {
	case <-ctx.Done():
		return
	case <-time.After(p.after):
	}
	if p.kind == outageRefuse {
		p.proxy.Down()
	} else if err := syscall.Kill(p.pid, syscall.SIGSTOP); err != nil {
		fmt.Printf("outage: cannot pause pid %d: %v\n", p.pid, err)
		return
	}
	p.start = time.Since(begin)
	select {
	case <-ctx.Done():
	case <-time.After(p.length):
	}
	if p.kind == outageRefuse {
		if err := p.proxy.Up(); err != nil {
			fmt.Printf("outage: %v\n", err)
		}
	} else if err := syscall.Kill(p.pid, syscall.SIGCONT); err != nil {
		fmt.Printf("outage: cannot resume pid %d: %v\n", p.pid, err)
	}
	p.end = time.Since(begin)
}
