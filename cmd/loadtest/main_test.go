package main

import (
	"slices"
	"testing"
	"time"
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
