package delayproxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// connState reads one connection's two byte streams as HTTP/2 or HTTP/1.1,
// decided by the client's first bytes, and records its calls. Each
// direction has a parser goroutine that sees the bytes exactly as they
// crossed the proxy, chunk by chunk, each with the time it was read.
type connState struct {
	p  *Proxy
	id int

	upFeed   *feed // set with started, by the client's first bytes
	downFeed *feed

	mu      sync.Mutex
	started bool
	early   []timedChunk     // the server's bytes not yet parsed
	streams map[uint32]*Call // HTTP/2: open calls by stream id
	pending []*Call          // HTTP/1.1: requests waiting for their answer
}

func (cs *connState) up(b []byte, at time.Time) {
	cs.mu.Lock()
	if !cs.started {
		cs.start(b)
		cs.started = true
	}
	cs.mu.Unlock()
	cs.upFeed.give(b, at)
}

// down parses the server's bytes once the client's first bytes chose the
// protocol; what a server says first (HTTP/2 servers send their SETTINGS
// at once) waits, with its read time, to be parsed before the next chunk.
func (cs *connState) down(b []byte, at time.Time) {
	cs.mu.Lock()
	cs.early = append(cs.early, timedChunk{b, at})
	if !cs.started {
		cs.mu.Unlock()
		return
	}
	early := cs.early
	cs.early = nil
	cs.mu.Unlock()
	for _, c := range early {
		cs.downFeed.give(c.b, c.at)
	}
}

// start picks the parsers from the client's first bytes: HTTP/2's client
// preface, or else HTTP/1.1.
func (cs *connState) start(first []byte) {
	cs.upFeed, cs.downFeed = newFeed(), newFeed()
	preface := []byte(http2.ClientPreface)
	if bytes.HasPrefix(first, preface) || bytes.HasPrefix(preface, first) {
		cs.streams = map[uint32]*Call{}
		go cs.upFeed.run(cs.h2Requests)
		go cs.downFeed.run(cs.h2Answers)
		return
	}
	go cs.upFeed.run(cs.h1Requests)
	go cs.downFeed.run(cs.h1Answers)
}

func (cs *connState) close() {
	cs.mu.Lock()
	started := cs.started
	cs.mu.Unlock()
	if started {
		cs.upFeed.close()
		cs.downFeed.close()
	}
}

// h2Requests reads the client's frames: a HEADERS frame on a stream not
// seen before starts a call, named by its :path. Every header block is
// decoded, in order, to keep HPACK's dynamic table in step with the
// server's; a stream the client resets ends its call.
func (cs *connState) h2Requests(f *feed) {
	if _, err := io.ReadFull(f, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(nil, f)
	fr.SetMaxReadFrameSize(1 << 24)
	fr.ReadMetaHeaders = hpackDecoder()
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			return
		}
		id := frame.Header().StreamID
		switch frame := frame.(type) {
		case *http2.MetaHeadersFrame:
			cs.mu.Lock()
			if _, open := cs.streams[id]; !open {
				cs.streams[id] = cs.p.record(frame.PseudoValue("path"), cs.id, f.at)
			}
			cs.mu.Unlock()
		case *http2.DataFrame:
			cs.mu.Lock()
			c := cs.streams[id]
			cs.mu.Unlock()
			cs.p.addData(c, frame.Data(), false)
		case *http2.RSTStreamFrame:
			cs.h2End(id, f.at)
		}
	}
}

// h2Answers reads the server's frames: the end of a stream (END_STREAM on
// DATA or trailers, or RST_STREAM) ends its call.
func (cs *connState) h2Answers(f *feed) {
	fr := http2.NewFramer(nil, f)
	fr.SetMaxReadFrameSize(1 << 24)
	fr.ReadMetaHeaders = hpackDecoder()
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			return
		}
		h := frame.Header()
		if data, ok := frame.(*http2.DataFrame); ok {
			cs.mu.Lock()
			c := cs.streams[h.StreamID]
			cs.mu.Unlock()
			cs.p.addData(c, data.Data(), true)
		}
		_, reset := frame.(*http2.RSTStreamFrame)
		if reset || h.Flags.Has(http2.FlagDataEndStream) && (h.Type == http2.FrameData || h.Type == http2.FrameHeaders) {
			cs.h2End(h.StreamID, f.at)
		}
	}
}

func (cs *connState) h2End(id uint32, at time.Time) {
	cs.mu.Lock()
	c := cs.streams[id]
	delete(cs.streams, id)
	cs.mu.Unlock()
	if c != nil {
		cs.p.finish(c, at)
	}
}

// h1Requests reads the client's HTTP/1.1 requests, one call each.
func (cs *connState) h1Requests(f *feed) {
	br := bufio.NewReader(f)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		c := cs.p.record(req.Method+" "+req.URL.Path, cs.id, f.at)
		cs.mu.Lock()
		cs.pending = append(cs.pending, c)
		cs.mu.Unlock()
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
	}
}

// h1Answers reads the server's HTTP/1.1 answers, which come in the order
// of the requests: the end of each (its body read) ends the oldest call
// waiting. Interim 1xx answers end nothing.
func (cs *connState) h1Answers(f *feed) {
	br := bufio.NewReader(f)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 200 {
			cs.mu.Lock()
			var c *Call
			if len(cs.pending) > 0 {
				c, cs.pending = cs.pending[0], cs.pending[1:]
			}
			cs.mu.Unlock()
			if c != nil {
				cs.p.finish(c, f.at)
			}
		}
		if err != nil {
			return
		}
	}
}

// hpackDecoder is a fresh decoder for one direction of one connection:
// HPACK's dynamic table is per connection and direction.
func hpackDecoder() *hpack.Decoder { return hpack.NewDecoder(4096, nil) }

// feed hands a parser goroutine the bytes of one direction, chunk by
// chunk. give returns only when the parser has parsed a chunk and asks for
// the next (or has stopped): so what the parser records from a chunk's
// bytes is recorded before those bytes are sent on, with that chunk's read
// time (at), never a later chunk's.
type feed struct {
	chunks  chan timedChunk
	want    chan struct{} // the parser asks for the next chunk
	done    chan struct{} // the parser has stopped
	closing chan struct{} // no more chunks
	once    sync.Once
	ready   bool // the feeder holds the parser's request (feeder only)

	cur []byte    // parser only
	at  time.Time // parser only: read time of the chunk being parsed
}

type timedChunk struct {
	b  []byte
	at time.Time
}

func newFeed() *feed {
	return &feed{chunks: make(chan timedChunk), want: make(chan struct{}),
		done: make(chan struct{}), closing: make(chan struct{})}
}

// run parses with parse until it returns; later chunks pass unparsed.
func (f *feed) run(parse func(*feed)) {
	defer close(f.done)
	parse(f)
}

// give passes b (not modified afterwards) to the parser and waits until
// it is parsed. It is called from one goroutine only.
func (f *feed) give(b []byte, at time.Time) {
	if !f.ready {
		select {
		case <-f.want:
		case <-f.done:
			return
		}
	}
	f.chunks <- timedChunk{b, at}
	f.ready = false
	select {
	case <-f.want:
		f.ready = true
	case <-f.done:
	}
}

// close ends the stream: the parser reads io.EOF.
func (f *feed) close() { f.once.Do(func() { close(f.closing) }) }

// Read is the parser's side.
func (f *feed) Read(b []byte) (int, error) {
	if len(f.cur) == 0 {
		select {
		case f.want <- struct{}{}:
		case <-f.closing:
			return 0, io.EOF
		}
		select {
		case c := <-f.chunks:
			f.cur, f.at = c.b, c.at
		case <-f.closing:
			return 0, io.EOF
		}
	}
	n := copy(b, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}
