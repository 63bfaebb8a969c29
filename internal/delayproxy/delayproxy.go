// Package delayproxy is a TCP proxy that puts a chosen round-trip time
// between a client and a local server, and records the calls that cross it,
// so that a load tool can see what production pays for each request to
// Firestore or Auth where an emulator on the same machine answers in
// microseconds.
//
// The model is a link with latency and no bandwidth limit, as `tc netem
// delay` makes one: every chunk of bytes read from one side is written to
// the other RTT/2 after it was read, in order, in both directions. So one
// request and its answer cost one RTT whatever their protocol: a gRPC unary
// call (HEADERS+DATA up, HEADERS+DATA+trailers down) or an HTTP/1.1
// request, and a streaming read such as BatchGetDocuments answered in one
// go costs one RTT too. Calls sent together (several streams on one HTTP/2
// connection, or several connections) overlap: two parallel calls cost one
// RTT, two calls of which the second waits for the first cost two. A new
// connection pays TCP's handshake first: its first bytes arrive 1.5 RTT
// after it was opened, not 0.5 (TLS, which production adds on a new
// connection, is not modelled: the emulators speak plain text). Frames that
// are not on a request's path (HTTP/2 PINGs and WINDOW_UPDATEs) are delayed
// like the rest but cost a request nothing.
//
// The proxy reads the protocol it carries, to name and time each call:
// HTTP/2 with prior knowledge (gRPC to the Firestore emulator: one call per
// stream, named by its :path) or HTTP/1.1 (the Auth emulator's REST API:
// one call per request, named by method and path). A call starts when its
// request's headers left the client and ends when the end of its answer
// reached the client (modelled: RTT/2 after the proxy read it). Depth
// counts the round trips a set of calls made in sequence.
package delayproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"time"
)

// Call is one request and its answer that crossed the proxy.
type Call struct {
	// Name is the gRPC method ("/google.firestore.v1.Firestore/Commit") or
	// the HTTP method and path ("POST /identitytoolkit.../accounts:lookup").
	Name string
	// Conn numbers the proxy's connections from 1, in the order accepted.
	Conn int
	// Start is when the request's headers left the client; End when the
	// end of the answer reached it (zero while it has not).
	Start, End time.Time
	// Request and Answer are the HTTP/2 DATA the call carried each way
	// (for gRPC, its length-prefixed messages), kept only when the proxy
	// was told to (KeepBodies): what a cost count reads.
	Request, Answer []byte
}

// Done reports whether the answer has reached the client.
func (c Call) Done() bool { return !c.End.IsZero() }

// Proxy forwards the connections it accepts to one upstream address with
// the delay of its RTT, and records their calls. Its methods are safe for
// concurrent use.
type Proxy struct {
	addr     string // where it listens, kept for Up after Down
	ln       net.Listener
	upstream string
	oneWay   time.Duration

	mu     sync.Mutex
	keep   bool
	calls  []*Call
	conns  map[net.Conn]struct{}
	nconns int
	closed bool
	wg     sync.WaitGroup
}

// Listen serves on addr (host:port; port 0 picks a free one) and forwards
// every connection to upstream, with round-trip time rtt (0: no delay, the
// calls are still recorded). Close it when done.
func Listen(addr, upstream string, rtt time.Duration) (*Proxy, error) {
	if rtt < 0 {
		return nil, fmt.Errorf("delayproxy: negative round-trip time %s", rtt)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("delayproxy: listen on %s: %w", addr, err)
	}
	p := &Proxy{addr: ln.Addr().String(), ln: ln, upstream: upstream, oneWay: rtt / 2, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept(ln)
	return p, nil
}

// KeepBodies makes the proxy keep the HTTP/2 DATA of the calls it records
// from now on (Call.Request, Call.Answer). Off by default: a load test's
// calls would hold every byte.
func (p *Proxy) KeepBodies(on bool) {
	p.mu.Lock()
	p.keep = on
	p.mu.Unlock()
}

// addData appends b to c's request or answer when bodies are kept.
func (p *Proxy) addData(c *Call, b []byte, answer bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.keep || c == nil {
		return
	}
	if answer {
		c.Answer = append(c.Answer, b...)
	} else {
		c.Request = append(c.Request, b...)
	}
}

// Addr is the host:port clients connect to.
func (p *Proxy) Addr() string { return p.addr }

// Down makes the server unreachable, as a killed server is for its
// clients: every open connection is cut and new ones are refused, until
// Up. (Killing an emulator would lose every document it holds in memory,
// which real Firestore never does when it cannot be reached.)
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Up listens again on the same address (just released by Down, so free
// unless another program took it meanwhile).
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil || p.closed {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("delayproxy: listen again on %s: %w", p.addr, err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

// RTT is the round-trip time the proxy adds.
func (p *Proxy) RTT() time.Duration { return 2 * p.oneWay }

// Close stops accepting, cuts every connection and waits for their
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	var err error
	if p.ln != nil {
		err = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// Calls returns a copy of the calls that started at or after since, in the
// order they started.
func (p *Proxy) Calls(since time.Time) []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Call
	for _, c := range p.calls {
		if !c.Start.Before(since) {
			out = append(out, *c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Depth is the number of round trips calls made in sequence: the longest
// chain of calls each of which started after the one before it had been
// answered. Calls that overlap count once; a call never answered ends
// after every other.
func Depth(calls []Call) int {
	level := Levels(calls)
	depth := 0
	for _, l := range level {
		depth = max(depth, l)
	}
	return depth
}

// Levels gives each call (in the order given) its place in the longest
// chain that ends with it: 1 for a call that waited on none of the others,
// n+1 for one that started after a call of level n was answered.
func Levels(calls []Call) []int {
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return calls[order[a]].Start.Before(calls[order[b]].Start) })
	level := make([]int, len(calls))
	// A call can only have waited on calls that started before it: by
	// start time, each call's level is known before any that may wait on it.
	for k, j := range order {
		level[j] = 1
		for _, i := range order[:k] {
			if b := calls[i]; b.Done() && !calls[j].Start.Before(b.End) {
				level[j] = max(level[j], level[i]+1)
			}
		}
	}
	return level
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed || p.ln != ln {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.nconns++
		id := p.nconns
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(c, id, time.Now())
	}
}

// serve forwards one connection, until either side closes it.
func (p *Proxy) serve(client net.Conn, id int, opened time.Time) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, client)
		p.mu.Unlock()
		client.Close()
	}()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return // the client sees its connection closed, as with a refused one
	}
	p.mu.Lock()
	if p.closed || p.ln == nil {
		p.mu.Unlock()
		server.Close()
		return
	}
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, server)
		p.mu.Unlock()
		server.Close()
	}()

	cs := &connState{p: p, id: id}
	var wg sync.WaitGroup
	// TCP's handshake: the client's first bytes leave one RTT after it
	// began to connect, and arrive half an RTT later.
	wg.Go(func() { p.pipe(server, client, opened.Add(2*p.oneWay), cs.up) })
	wg.Go(func() { p.pipe(client, server, time.Time{}, cs.down) })
	wg.Wait()
	cs.close()
}

// chunk is bytes read from one side, due on the other side at due.
type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst, each chunk oneWay after it was read (never before
// notBefore+oneWay), giving each chunk to observe, with its read time,
// before it is sent on. When either side fails, both are closed.
func (p *Proxy) pipe(dst, src net.Conn, notBefore time.Time, observe func([]byte, time.Time)) {
	queue := make(chan chunk, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer dst.Close()
		timer := time.NewTimer(0)
		<-timer.C
		failed := false
		for c := range queue {
			if failed {
				continue // drain, so that the reader never blocks
			}
			if d := time.Until(c.due); d > 0 {
				timer.Reset(d)
				<-timer.C
			}
			if _, err := dst.Write(c.b); err != nil {
				failed = true
				src.Close()
			}
		}
	})
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			now := time.Now()
			observe(buf[:n], now)
			due := now.Add(p.oneWay)
			if earliest := notBefore.Add(p.oneWay); due.Before(earliest) {
				due = earliest
			}
			queue <- chunk{b: buf[:n], due: due}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			break
		}
	}
	close(queue)
	wg.Wait()
}

// record adds a call that started at start.
func (p *Proxy) record(name string, conn int, start time.Time) *Call {
	c := &Call{Name: name, Conn: conn, Start: start}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
	return c
}

// finish marks c answered at end (when the proxy read the answer's end).
func (p *Proxy) finish(c *Call, read time.Time) {
	p.mu.Lock()
	if c.End.IsZero() {
		c.End = read.Add(p.oneWay)
	}
	p.mu.Unlock()
}
