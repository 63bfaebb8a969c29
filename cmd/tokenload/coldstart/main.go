// Command coldstart measures how fast the buildpack-style main (buildpack/)
// answers after exec, as Cloud Functions starts it: one process per
// function, FUNCTION_TARGET and PORT set, the function served at "/". For
// each function it execs the binary -runs times and records exec → the port
// accepts connections and exec → the first 200 to a real request (hmsToken:
// a callable with a real Auth-emulator ID token for an appointment open now;
// hmssWebhook: a valid event with the secret), then reports medians and the
// peak RSS (VmHWM) when idle after the first answer and after a burst of
// -burst requests from 16 callers. It needs the Firestore and Auth emulators
// (FIRESTORE_EMULATOR_HOST, FIREBASE_AUTH_EMULATOR_HOST); scripts/coldstart
// starts them, builds the main and runs this.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/procstat"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("coldstart: ")
	bin := flag.String("bin", "", "the buildpack-style main to exec")
	runs := flag.Int("runs", 11, "starts per function")
	burst := flag.Int("burst", 300, "requests in the burst after the last start")
	project := flag.String("project", "demo-videocalls", "Firebase project of the emulators")
	flag.Parse()
	if *bin == "" || *runs < 1 {
		log.Fatal("usage: coldstart -bin PATH [-runs N] [-burst N]")
	}
	if err := run(context.Background(), *bin, *project, *runs, *burst); err != nil {
		log.Fatal(err)
	}
}

const (
	webhookSecret = "coldstart-webhook-secret-5d1f"
	appSecret     = "coldstart-app-secret-0c2b7e"
)

func run(ctx context.Context, bin, project string, runs, burst int) error {
	authHost, fsHost := os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"), os.Getenv("FIRESTORE_EMULATOR_HOST")
	if authHost == "" || fsHost == "" {
		return errors.New("FIREBASE_AUTH_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST must name running emulators")
	}
	fake, err := fake100ms.Listen("127.0.0.1:0", appSecret)
	if err != nil {
		return err
	}
	defer fake.Close()

	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		return err
	}
	defer fs.Close()
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	uid, idToken, err := emulatortest.SignUpUser(ctx, http.DefaultClient, authHost, "coldstart-"+stamp+"@example.com", "password-123")
	if err != nil {
		return err
	}
	// One appointment per start of hmsToken, so that each first answer
	// includes creating the room (at the local fake 100ms) and recording it.
	newAppointment := func(i int) (string, error) {
		id := fmt.Sprintf("coldstart-%s-%d", stamp, i)
		_, err := fs.Collection("appointments").Doc(id).Set(ctx, map[string]any{
			"doctorId": uid, "clientId": "someone-else",
			"startAt": time.Now().Add(-time.Minute), "endAt": time.Now().Add(time.Hour),
		})
		return id, err
	}
	env := []string{
		"GOOGLE_CLOUD_PROJECT=" + project,
		"FIRESTORE_EMULATOR_HOST=" + fsHost,
		"FIREBASE_AUTH_EMULATOR_HOST=" + authHost,
		"HMS_ACCESS_KEY=coldstart-access-key",
		"HMS_SECRET=" + appSecret,
		"HMS_TEMPLATE_ID=coldstart-template",
		"HMS_WEBHOOK_SECRET=" + webhookSecret,
		"HMS_API_BASE=" + fake.URL,
	}

	fmt.Printf("load average at start: %s\n", procstat.LoadAvg())
	// hmsToken is measured twice: as the first call for an appointment,
	// which creates its 100ms room (once per appointment; in production it
	// waits on 100ms's API too), and as the first call of an instance for
	// an appointment whose room is recorded (every other cold start).
	cases := []struct{ label, target string }{
		{"hmsToken (creates the room)", "hmsToken"},
		{"hmsToken (room recorded)", "hmsToken"},
		{"hmssWebhook", "hmssWebhook"},
	}
	appts := make([]string, runs)
	for c, tc := range cases {
		target := tc.target
		var listen, first []time.Duration
		var idleRSS, firstRSS, burstRSS int
		for i := range runs {
			var req func() *http.Request
			switch c {
			case 0:
				appt, err := newAppointment(i)
				if err != nil {
					return err
				}
				appts[i] = appt
				req = tokenRequest(idToken, appt)
			case 1:
				req = tokenRequest(idToken, appts[i])
			default:
				req = eventRequest(stamp + "-" + strconv.Itoa(i))
			}
			r, err := start(bin, target, env, req, i == runs-1, burst)
			if err != nil {
				return fmt.Errorf("%s run %d: %w", tc.label, i+1, err)
			}
			listen = append(listen, r.listen)
			first = append(first, r.first)
			idleRSS, firstRSS = max(idleRSS, r.idleRSS), max(firstRSS, r.firstRSS)
			if r.burstRSS > 0 {
				burstRSS = r.burstRSS
				fmt.Printf("%s burst: %d requests, 16 callers, %s, all 200: %v\n", tc.label, burst, r.burstTime.Round(time.Millisecond), r.burstOK)
			}
		}
		fmt.Printf("%s: %d starts: exec→listening median %s (min %s, max %s); exec→first 200 median %s (min %s, max %s)\n",
			tc.label, runs, ms(median(listen)), ms(slices.Min(listen)), ms(slices.Max(listen)),
			ms(median(first)), ms(slices.Min(first)), ms(slices.Max(first)))
		fmt.Printf("%s: peak RSS (VmHWM) listening before any request %d KiB, after the first 200 %d KiB, after the burst %d KiB\n",
			tc.label, idleRSS, firstRSS, burstRSS)
	}
	fmt.Printf("load average at end: %s\n", procstat.LoadAvg())
	return nil
}

type result struct {
	listen, first, burstTime    time.Duration
	idleRSS, firstRSS, burstRSS int // KiB
	burstOK                     bool
}

// start execs bin as Cloud Functions would and times it; with burst it
// then sends n more requests from 16 callers and reads the peak RSS.
func start(bin, target string, env []string, req func() *http.Request, burst bool, n int) (result, error) {
	var r result
	port, err := freePort()
	if err != nil {
		return r, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append(env, "FUNCTION_TARGET="+target, "PORT="+port)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	addr := "127.0.0.1:" + port
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			r.listen = time.Since(t0)
			break
		}
		if time.Since(t0) > 30*time.Second {
			return r, fmt.Errorf("not listening after 30s: %s", out.String())
		}
		time.Sleep(500 * time.Microsecond)
	}
	r.idleRSS = procstat.PeakRSS(cmd.Process.Pid)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	rq := req()
	rq.URL.Host = addr
	resp, err := client.Do(rq)
	if err != nil {
		return r, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.first = time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("first answer %s: %s", resp.Status, body)
	}
	time.Sleep(200 * time.Millisecond)
	r.firstRSS = procstat.PeakRSS(cmd.Process.Pid)
	if !burst {
		return r, nil
	}
	bclient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	r.burstOK = true
	next := make(chan int)
	bt := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				rq := req()
				rq.URL.Host = addr
				resp, err := bclient.Do(rq)
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if !ok {
					mu.Lock()
					r.burstOK = false
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	r.burstTime = time.Since(bt)
	r.burstRSS = procstat.PeakRSS(cmd.Process.Pid)
	return r, nil
}

// tokenRequest returns a callable request as the Firebase SDKs send it.
func tokenRequest(idToken, appt string) func() *http.Request {
	return func() *http.Request {
		rq, _ := http.NewRequest(http.MethodPost, "http://placeholder/",
			strings.NewReader(`{"data":{"appointmentId":"`+appt+`"}}`))
		rq.Header.Set("Content-Type", "application/json")
		rq.Header.Set("Authorization", "Bearer "+idToken)
		return rq
	}
}

// eventRequest returns valid webhook deliveries: the first carries id
// prefix, each later one a fresh id.
func eventRequest(prefix string) func() *http.Request {
	var mu sync.Mutex
	n := 0
	return func() *http.Request {
		mu.Lock()
		n++
		id := fmt.Sprintf("coldstart-%s-%d", prefix, n)
		mu.Unlock()
		body := `{"version":"2.0","id":"` + id + `","account_id":"acc","app_id":"app","timestamp":"` +
			time.Now().UTC().Format(time.RFC3339Nano) + `","type":"peer.join.success","data":{"room_id":"coldstart-room",` +
			`"session_id":"coldstart-session","peer_id":"` + id + `","user_id":"u1","role":"guest","joined_at":"` +
			time.Now().UTC().Format(time.RFC3339Nano) + `"}}`
		rq, _ := http.NewRequest(http.MethodPost, "http://placeholder/", strings.NewReader(body))
		rq.Header.Set("Content-Type", "application/json")
		rq.Header.Set("X-Webhook-Secret", webhookSecret)
		return rq
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
