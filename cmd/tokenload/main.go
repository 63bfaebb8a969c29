// Command tokenload puts a load of signed-in users on a running hmsToken and
// reports requests per second, latency percentiles and answers by status.
//
// It makes -users users in the Auth emulator (FIREBASE_AUTH_EMULATOR_HOST),
// pairs them into appointments open now in the Firestore emulator
// (FIRESTORE_EMULATOR_HOST, project -project), calls hmsToken once per user
// to warm up (the first call of an appointment creates its room), then runs
// -c concurrent callers for -d, each calling as a random user, as the
// Firebase SDKs do. With -fake100ms it also serves a minimal 100ms REST API
// (POST /rooms) on that address, for a server started with HMS_API_BASE
// pointing at it. scripts/tokenload starts the emulators and the server and
// runs it.
//
//	tokenload -url http://127.0.0.1:8080/hmsToken -users 200 -c 16 -d 30s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("tokenload: ")
	cfg := config{}
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080/hmsToken", "hmsToken URL")
	flag.StringVar(&cfg.project, "project", envOr("GOOGLE_CLOUD_PROJECT", "demo-videocalls"), "Firebase project of the emulators")
	flag.IntVar(&cfg.users, "users", 200, "signed-in users (paired into users/2 appointments)")
	flag.IntVar(&cfg.concurrency, "c", 16, "concurrent callers")
	flag.DurationVar(&cfg.duration, "d", 30*time.Second, "how long to load")
	flag.StringVar(&cfg.fake100ms, "fake100ms", "", "serve a minimal 100ms REST API on this address (host:port) while running")
	flag.Parse()
	if err := run(context.Background(), cfg); err != nil {
		log.Fatal(err)
	}
}

type config struct {
	url, project, fake100ms string
	users, concurrency      int
	duration                time.Duration
}

type user struct{ uid, idToken, appointmentID string }

func run(ctx context.Context, cfg config) error {
	authHost := os.Getenv("FIREBASE_AUTH_EMULATOR_HOST")
	if authHost == "" || os.Getenv("FIRESTORE_EMULATOR_HOST") == "" {
		return errors.New("FIREBASE_AUTH_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST must name the emulators the server uses")
	}
	if cfg.users < 2 || cfg.concurrency < 1 || cfg.duration <= 0 {
		return errors.New("need -users >= 2, -c >= 1, -d > 0")
	}
	if cfg.fake100ms != "" {
		// So that first calls can create rooms offline. The server's
		// HMS_SECRET is not shared with this tool, so the fake checks the
		// management tokens' claims but not their signature.
		fake, err := fake100ms.Listen(cfg.fake100ms, "")
		if err != nil {
			return err
		}
		defer fake.Close()
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency * 2, MaxConnsPerHost: cfg.concurrency * 2},
	}

	start := time.Now()
	users, err := makeUsers(ctx, client, authHost, cfg)
	if err != nil {
		return err
	}
	log.Printf("%d users and %d appointments ready in %s", len(users), len(users)/2, time.Since(start).Round(time.Millisecond))

	// Warm-up: every user once; the first call of each appointment creates
	// its room. Reported apart, not counted in the load figures.
	warm := newStats()
	for _, u := range users {
		code, d, err := call(ctx, client, cfg.url, u)
		warm.add(code, d, err)
	}
	fmt.Printf("warm-up (first call per user, sequential): %s\n", warm.summary(0))
	if warm.ok() == 0 {
		return fmt.Errorf("no warm-up call succeeded: %v", warm.codes)
	}

	loadStats := newStats()
	var wg sync.WaitGroup
	deadline := time.Now().Add(cfg.duration)
	began := time.Now()
	for w := range cfg.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(began.UnixNano())))
			local := newStats()
			for time.Now().Before(deadline) {
				code, d, err := call(ctx, client, cfg.url, users[rng.IntN(len(users))])
				local.add(code, d, err)
			}
			loadStats.merge(local)
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	fmt.Printf("load: %d users, %d callers, %s: %s\n", len(users), cfg.concurrency, elapsed.Round(time.Millisecond), loadStats.summary(elapsed))
	if loadStats.ok() != loadStats.n {
		return fmt.Errorf("%d of %d requests did not get 200", loadStats.n-loadStats.ok(), loadStats.n)
	}
	return nil
}

// makeUsers signs up cfg.users users in the Auth emulator and writes one
// appointment per pair, open from five minutes ago for an hour.
func makeUsers(ctx context.Context, client *http.Client, authHost string, cfg config) ([]user, error) {
	fs, err := firestore.NewClient(ctx, cfg.project)
	if err != nil {
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	defer fs.Close()
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	users := make([]user, cfg.users-cfg.users%2)
	errs := make(chan error, len(users))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			uid, tok, err := emulatortest.SignUpUser(ctx, client, authHost, fmt.Sprintf("load-%s-%d@example.com", run, i), "password-123")
			if err != nil {
				errs <- err
				return
			}
			users[i] = user{uid: uid, idToken: tok, appointmentID: fmt.Sprintf("load-%s-%d", run, i/2)}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	now := time.Now()
	bw := fs.BulkWriter(ctx)
	for i := 0; i < len(users); i += 2 {
		if _, err := bw.Set(fs.Collection("appointments").Doc(users[i].appointmentID), map[string]any{
			"doctorId": users[i].uid, "clientId": users[i+1].uid,
			"startAt": now.Add(-5 * time.Minute), "endAt": now.Add(time.Hour),
		}); err != nil {
			return nil, fmt.Errorf("seed appointment: %w", err)
		}
	}
	bw.End()
	return users, nil
}

// call makes one callable request as u and returns the HTTP status (0 for
// a transport error) and the latency.
func call(ctx context.Context, client *http.Client, url string, u user) (int, time.Duration, error) {
	body := `{"data":{"appointmentId":"` + u.appointmentID + `"}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.idToken)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start), err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// stats collects latencies and answers by status code.
type stats struct {
	mu        sync.Mutex
	n         int
	latencies []time.Duration
	codes     map[int]int
	lastErr   error
}

func newStats() *stats { return &stats{codes: map[int]int{}} }

func (s *stats) add(code int, d time.Duration, err error) {
	s.n++
	s.latencies = append(s.latencies, d)
	s.codes[code]++
	if err != nil {
		s.lastErr = err
	}
}

func (s *stats) merge(o *stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += o.n
	s.latencies = append(s.latencies, o.latencies...)
	for c, k := range o.codes {
		s.codes[c] += k
	}
	if o.lastErr != nil {
		s.lastErr = o.lastErr
	}
}

func (s *stats) ok() int { return s.codes[http.StatusOK] }

// summary renders the figures; elapsed 0 leaves out the rate.
func (s *stats) summary(elapsed time.Duration) string {
	slices.Sort(s.latencies)
	pct := func(p float64) time.Duration {
		if len(s.latencies) == 0 {
			return 0
		}
		return s.latencies[min(len(s.latencies)-1, int(p*float64(len(s.latencies))))]
	}
	codes := make([]int, 0, len(s.codes))
	for c := range s.codes {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests", s.n)
	if elapsed > 0 {
		fmt.Fprintf(&b, ", %.1f req/s", float64(s.n)/elapsed.Seconds())
	}
	fmt.Fprintf(&b, ", p50 %s, p99 %s, max %s, status", ms(pct(0.50)), ms(pct(0.99)), ms(pct(1)))
	for _, c := range codes {
		name := fmt.Sprint(c)
		if c == 0 {
			name = "transport-error"
		}
		fmt.Fprintf(&b, " %s×%d", name, s.codes[c])
	}
	if s.lastErr != nil {
		fmt.Fprintf(&b, " (last error: %v)", s.lastErr)
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
