package delayproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Lower bounds only: a loaded machine can make anything slower, never
// faster than the delay the proxy adds.
const rtt = 100 * time.Millisecond

func listen(t *testing.T, upstream string, rtt time.Duration) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", upstream, rtt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func get(t *testing.T, client *http.Client, url string) time.Duration {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start)
}

// One HTTP/1.1 request costs one RTT, and a new connection one more (the
// handshake). Catches a delay on one direction only, or none.
func TestHTTP1RequestCostsOneRTT(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "answer to "+r.URL.Path)
	}))
	defer up.Close()
	p := listen(t, up.Listener.Addr().String(), rtt)
	client := &http.Client{Transport: &http.Transport{}}
	begin := time.Now()
	if d := get(t, client, "http://"+p.Addr()+"/a"); d < 2*rtt {
		t.Errorf("first request on a new connection took %s, want at least 2 RTT (%s)", d, 2*rtt)
	}
	if d := get(t, client, "http://"+p.Addr()+"/b"); d < rtt {
		t.Errorf("second request took %s, want at least 1 RTT (%s)", d, rtt)
	}
	calls := p.Calls(begin)
	if len(calls) != 2 || calls[0].Name != "GET /a" || calls[1].Name != "GET /b" {
		t.Fatalf("calls = %+v, want GET /a then GET /b", calls)
	}
	if calls[0].Conn != calls[1].Conn {
		t.Errorf("the two requests were on connections %d and %d, want one kept alive", calls[0].Conn, calls[1].Conn)
	}
	for _, c := range calls {
		if !c.Done() || c.End.Sub(c.Start) < rtt {
			t.Errorf("call %s: start %s end %s, want answered at least 1 RTT after it started", c.Name, c.Start, c.End)
		}
	}
	if d := Depth(calls); d != 2 {
		t.Errorf("Depth = %d for two requests one after the other, want 2", d)
	}
}

// barrier answers no request until n have arrived, so that n requests
// sent at once overlap however the machine schedules them.
func barrier(n int) http.HandlerFunc {
	var mu sync.Mutex
	arrived := 0
	all := make(chan struct{})
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/x" && r.URL.Path != "/y" {
			return // warm-up requests pass
		}
		mu.Lock()
		if arrived++; arrived == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(30 * time.Second):
			http.Error(w, "the other request never came", http.StatusGatewayTimeout)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}
}

// Requests in flight together are one round trip, on two connections
// (HTTP/1.1) or two streams of one (HTTP/2): catches a Depth that counts
// calls rather than chains.
func TestParallelRequestsAreOneRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		handler  func(http.Handler) http.Handler
		client   func() *http.Client
		sameConn bool
	}{
		{"http1", func(h http.Handler) http.Handler { return h },
			func() *http.Client { return &http.Client{Transport: &http.Transport{}} }, false},
		{"h2c", func(h http.Handler) http.Handler { return h2c.NewHandler(h, &http2.Server{}) },
			func() *http.Client {
				return &http.Client{Transport: &http2.Transport{AllowHTTP: true,
					DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
						return (&net.Dialer{}).DialContext(ctx, network, addr)
					}}}
			}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := httptest.NewServer(tc.handler(barrier(2)))
			defer up.Close()
			p := listen(t, up.Listener.Addr().String(), rtt)
			shared := tc.client()
			if tc.sameConn {
				get(t, shared, "http://"+p.Addr()+"/warm-up-1") // opens the connection
				get(t, shared, "http://"+p.Addr()+"/warm-up-2")
			}
			begin := time.Now()
			var wg sync.WaitGroup
			for _, path := range []string{"/x", "/y"} {
				client := shared
				if !tc.sameConn {
					client = tc.client()
				}
				wg.Go(func() { get(t, client, "http://"+p.Addr()+path) })
			}
			wg.Wait()
			calls := p.Calls(begin)
			if len(calls) != 2 {
				t.Fatalf("calls = %+v, want 2", calls)
			}
			if same := calls[0].Conn == calls[1].Conn; same != tc.sameConn {
				t.Errorf("calls on connections %d and %d; want the same: %v", calls[0].Conn, calls[1].Conn, tc.sameConn)
			}
			if d := Depth(calls); d != 1 {
				t.Errorf("Depth = %d for two requests in flight together, want 1 (%+v)", d, calls)
			}
		})
	}
}

// gRPC unary calls are named by their method, also when HPACK sends the
// path as an index into its dynamic table (the second call and later):
// catches a decoder that does not keep its table across header blocks.
func TestGRPCCallsNamedAndTimed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	p := listen(t, ln.Addr().String(), rtt)
	conn, err := grpc.NewClient(p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	begin := time.Now()
	for i := range 3 {
		start := time.Now()
		if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); i > 0 && d < rtt {
			t.Errorf("call %d took %s, want at least 1 RTT (%s)", i+1, d, rtt)
		}
	}
	calls := p.Calls(begin)
	if len(calls) != 3 {
		t.Fatalf("calls = %+v, want 3", calls)
	}
	for _, c := range calls {
		if c.Name != "/grpc.health.v1.Health/Check" || !c.Done() || c.End.Sub(c.Start) < rtt {
			t.Errorf("call %+v, want /grpc.health.v1.Health/Check answered at least 1 RTT after it started", c)
		}
	}
	if d := Depth(calls); d != 3 {
		t.Errorf("Depth = %d for three calls one after the other, want 3", d)
	}
}

// Every byte arrives, in order, both ways: catches a read buffer reused
// while its bytes wait in the queue.
func TestBytesArriveIntact(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // echo
	}()
	p := listen(t, ln.Addr().String(), 10*time.Millisecond)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := make([]byte, 4<<20)
	_, _ = rand.Read(want)
	go func() {
		for b := want; len(b) > 0; {
			n := min(len(b), 1000+len(b)%7000) // writes of uneven sizes
			if _, err := c.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes echoed through the proxy differ from those sent")
	}
}

func TestLevels(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	calls := []Call{
		{Name: "lookup", Start: at(0), End: at(20)},
		{Name: "get", Start: at(1), End: at(21)},     // overlaps lookup
		{Name: "commit", Start: at(21), End: at(41)}, // after both
		{Name: "late", Start: at(20), End: at(40)},   // after lookup, overlaps get
		{Name: "open", Start: at(42)},                // never answered
	}
	want := []int{1, 1, 2, 2, 3}
	got := Levels(calls)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("level of %s = %d, want %d (all: %v)", calls[i].Name, got[i], want[i], got)
		}
	}
	if d := Depth(calls); d != 3 {
		t.Errorf("Depth = %d, want 3", d)
	}
}
