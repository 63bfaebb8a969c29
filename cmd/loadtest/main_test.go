package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/sessiongen"
)

func TestParseFlags(t *testing.T) {
	t.Setenv("FIRESTORE_EMULATOR_PID", "")
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.events != 10000 || o.k != 4 || o.senders != 32 || o.project != "demo-loadtest" ||
		o.refProject != "demo-loadtest-ref" || !slices.Equal(o.retries, []time.Duration{time.Second, 3 * time.Second, 10 * time.Second}) {
		t.Errorf("defaults: %+v", o)
	}
	if o, err := parseFlags([]string{"-retries", "", "-events", "1000"}); err != nil || len(o.retries) != 0 || o.events != 1000 {
		t.Errorf("-retries \"\": %+v, %v", o, err)
	}
	for _, bad := range [][]string{
		{"-outage", "5s"},                         // no proxy
		{"-outage", "5s", "-outage-kind", "stop"}, // no pid
		{"-outage", "5s", "-outage-kind", "kill", "-proxy", "127.0.0.1:1"},
		{"-k", "0"},
		{"-retries", "soon"},
		{"-ref-project", "demo-loadtest"},
		{"extra"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseFlags([]string{"-outage", "5s", "-outage-kind", "stop", "-emulator-pid", "123"}); err != nil {
		t.Errorf("-outage-kind stop with a pid: %v", err)
	}
	if _, err := parseFlags([]string{"-outage", "5s", "-proxy", "127.0.0.1:1"}); err != nil {
		t.Errorf("-outage with a proxy: %v", err)
	}
}

func TestDiff(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	a := normalize(map[string]any{"status": "ended", "startedAt": at, "peers": map[string]any{"p1": map[string]any{"role": "host"}}, "layers": []any{map[string]any{"layer": "0"}}})
	b := normalize(map[string]any{"status": "ended", "startedAt": at.In(time.FixedZone("x", 3600)), "peers": map[string]any{"p1": map[string]any{"role": "host"}}, "layers": []any{map[string]any{"layer": "0"}}})
	var paths []string
	diff(a, b, "", &paths)
	if len(paths) != 0 {
		t.Errorf("equal documents differ at %v", paths)
	}
	c := normalize(map[string]any{"status": "live", "startedAt": at, "peers": map[string]any{"p1": map[string]any{"role": "guest"}, "p2": map[string]any{}}})
	paths = nil
	diff(a, c, "", &paths)
	want := []string{"layers", "peers.p1.role", "peers.p2", "status"}
	slices.Sort(paths)
	if !slices.Equal(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p50, p99, max := percentiles(d)
	if p50 != 51*time.Millisecond || p99 != 100*time.Millisecond || max != 100*time.Millisecond {
		t.Errorf("p50 %v p99 %v max %v", p50, p99, max)
	}
	if a, b, c := percentiles(nil); a != 0 || b != 0 || c != 0 {
		t.Error("percentiles of nothing")
	}
}

func TestGeneralize(t *testing.T) {
	for in, want := range map[string]string{
		"sessions/abc.peers.p-1.leftAt": "sessions/*.peers.*.leftAt",
		"call.streams.b1.status":        "call.streams.*.status",
		"recordings/sfu-x.url":          "recordings/*.url",
		"call.sessionCount":             "call.sessionCount",
	} {
		if got := generalize(in); got != want {
			t.Errorf("generalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCPUMeter: an absent process has no CPU time; this one has some.
func TestCPUMeter(t *testing.T) {
	m := startCPU(-1, 0)
	for n := 0; n < 1e7; n++ {
		_ = n * n
	}
	got := m.stop()
	if got.emulator != 0 || got.server != 0 {
		t.Errorf("absent processes got CPU times: %+v", got)
	}
	if got.self < 0 || got.self > time.Minute {
		t.Errorf("this process: %v", got.self)
	}
}

func TestParseFlagsSweep(t *testing.T) {
	t.Setenv("FIRESTORE_EMULATOR_PID", "")
	base := []string{"-outage", "5s", "-proxy", "127.0.0.1:1"}
	o, err := parseFlags(append(base, "-fake-hms", "127.0.0.1:2"))
	if err != nil || !o.sweep || o.sweepURL != "http://127.0.0.1:8080/hmsSweep" {
		t.Errorf("-outage with -fake-hms: sweep %v at %q, %v; want on, at /hmsSweep", o != nil && o.sweep, o.sweepURL, err)
	}
	if o, err := parseFlags(append(base, "-fake-hms", "127.0.0.1:2", "-sweep=false")); err != nil || o.sweep {
		t.Errorf("-sweep=false: %+v, %v", o, err)
	}
	if o, err := parseFlags(base); err != nil || o.sweep {
		t.Errorf("-outage without -fake-hms: sweep on (%+v, %v)", o, err)
	}
	if _, err := parseFlags([]string{"-sweep"}); err == nil {
		t.Error("-sweep without -fake-hms accepted")
	}
	if o, err := parseFlags([]string{"-sweep", "-fake-hms", "127.0.0.1:2", "-url", "http://h:1/p/r/hmssWebhook"}); err != nil || !o.sweep || o.sweepURL != "http://h:1/p/r/hmsSweep" {
		t.Errorf("-sweep -url .../hmssWebhook: %+v, %v", o, err)
	}
}

// TestHMSHistory: the fake 100ms the load uses must show a session active
// until its close is sent, and list a delivery given up as failed, for
// hmsSweep's own client (package hms) to find. Planted bugs it catches:
// sessions added ended (or never ended), gaveUp not recording.
func TestHMSHistory(t *testing.T) {
	rooms := sessiongen.New(sessiongen.Config{Seed: 7, Prefix: "t"}).Rooms(1)
	r := rooms[0]
	fake, err := fake100ms.Listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	h := newHMSHistory(fake, rooms)
	client, err := hms.NewClient(fake.URL, hms.Credentials{AccessKey: "k", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	active := func() int {
		t.Helper()
		list, err := client.ActiveSessions(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if n := active(); n != 1 {
		t.Fatalf("before its close: %d active sessions, want 1", n)
	}
	var closeEv sessiongen.Event
	for _, e := range r.Events {
		if e.Type == "session.close.success" {
			closeEv = e
		} else {
			h.firstSend(e)
		}
	}
	if n := active(); n != 1 {
		t.Fatalf("after every event but the close: %d active sessions, want 1", n)
	}
	h.firstSend(closeEv)
	if n := active(); n != 0 {
		t.Fatalf("after the close was sent: %d active sessions, want 0", n)
	}
	h.gaveUp(closeEv)
	failed, err := client.FailedWebhooks(ctx, time.Now().Add(-time.Minute), time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].EventID != closeEv.ID || h.failed != 1 || h.recorded != nil {
		t.Errorf("failed deliveries %+v (recorded %d, %v), want the close %s", failed, h.failed, h.recorded, closeEv.ID)
	}
}

// TestReplayBodyMatchesFake: the check accepts a replayed event's raw body
// only as the fake 100ms re-sends it; the two must agree byte for byte, or
// every replayed event counts as a wrong body. The replay goes through the
// sink, which must count the server's answer.
func TestReplayBodyMatchesFake(t *testing.T) {
	ev := sessiongen.All(sessiongen.New(sessiongen.Config{Seed: 3}).Rooms(1))[0]
	var got []byte
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Test-Secret") != "s3" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got, _ = io.ReadAll(r.Body)
		_, _ = io.WriteString(w, `{"status":"stored"}`)
	}))
	defer server.Close()
	o := &options{url: server.URL, senders: 1}
	sink, err := startReplaySink(newSender(newHTTPClient(o), o, "X-Test-Secret", "s3"))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.close()
	fake := fake100ms.New("")
	defer fake.Close()
	fake.SetWebhook(sink.url, nil)
	if err := fake.AddFailedDelivery(ev.Body); err != nil {
		t.Fatal(err)
	}
	client, err := hms.NewClient(fake.URL, hms.Credentials{AccessKey: "k", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.ReplayWebhooks(ctx, time.Now().Add(-time.Minute), time.Now().Add(time.Second), "", "failed"); err != nil {
		t.Fatal(err)
	}
	if err := fake.WaitReplays(ctx); err != nil {
		t.Fatal(err)
	}
	if want := replayBody(ev.Body); !bytes.Equal(got, want) {
		t.Errorf("the fake re-sent\n%s\nthe check expects\n%s", got, want)
	}
	if sink.posted != 1 || sink.stored[ev.ID] != 1 || fake.FailedDeliveries() != 0 {
		t.Errorf("sink: %d posted, stored %v; fake: %d failed still", sink.posted, sink.stored, fake.FailedDeliveries())
	}
}
