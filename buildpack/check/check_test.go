// Package check builds and runs the buildpack-style main in the folder
// above, as Cloud Functions would, without importing it itself.
package check

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServesEachFunction builds this main as the Cloud Functions Go
// buildpack would, starts it once per entry point with FUNCTION_TARGET set
// (and K_SERVICE, as on Cloud Run), and checks that the right function
// answers at "/".
func TestServesEachFunction(t *testing.T) {
	bin := buildMain(t)
	origin := "https://app.example.com"

	t.Run("hmsToken", func(t *testing.T) {
		base := startMain(t, bin, "hmsToken")
		req, _ := http.NewRequest(http.MethodOptions, base+"/", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp := do(t, req)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("CORS preflight: %s, want 204", resp.Status)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
		}
		if got := resp.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
			t.Errorf("Access-Control-Allow-Methods = %q, want POST", got)
		}
		// A callable answers a wrong method in the callable error shape,
		// never with the webhook's 405.
		req, _ = http.NewRequest(http.MethodGet, base+"/", nil)
		resp = do(t, req)
		body := readBody(t, resp)
		if resp.StatusCode == http.StatusMethodNotAllowed || !strings.Contains(body, `"error"`) {
			t.Errorf("GET: %s %s, want a callable error", resp.Status, body)
		}
	})

	t.Run("hmssWebhook", func(t *testing.T) {
		base := startMain(t, bin, "hmssWebhook")
		req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		resp := do(t, req)
		readBody(t, resp)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("GET: %s, Allow %q; want 405 with Allow: POST", resp.Status, resp.Header.Get("Allow"))
		}
		req, _ = http.NewRequest(http.MethodPost, base+"/", strings.NewReader(`{"id":"x","type":"session.open.success"}`))
		req.Header.Set("X-Webhook-Secret", "wrong")
		resp = do(t, req)
		readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("POST with a wrong secret: %s, want 401", resp.Status)
		}
	})

	t.Run("unknown target", func(t *testing.T) {
		cmd := exec.Command(bin)
		cmd.Env = mainEnv("hmsTokn", "0")
		out, err := runWithTimeout(cmd, 20*time.Second)
		if err == nil || !strings.Contains(out, "hmsTokn") {
			t.Fatalf("FUNCTION_TARGET=hmsTokn: err=%v output=%q; want a failure naming the target", err, out)
		}
	})
}

// buildMain builds this package into a temp dir.
func buildMain(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "main")
	cmd := exec.Command("go", "build", "-o", bin, "..")
	out, err := runWithTimeout(cmd, 10*time.Minute)
	if err != nil {
		hint := ""
		if strings.Contains(out, "missing go.sum entry") || strings.Contains(out, "updates to go.mod needed") {
			hint = "\nthe root module's dependencies changed: run `cd buildpack && go mod tidy` and commit buildpack/go.mod and go.sum"
		}
		t.Fatalf("go build of the buildpack-style main: %v\n%s%s", err, out, hint)
	}
	return bin
}

// mainEnv is a deployed function's environment: dummy settings, K_SERVICE
// as Cloud Run sets it, no emulator variables.
func mainEnv(target, port string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HMS_") || strings.HasSuffix(name, "_EMULATOR_HOST") ||
			name == "FUNCTION_TARGET" || name == "PORT" || name == "K_SERVICE" || name == "GOOGLE_CLOUD_PROJECT" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"FUNCTION_TARGET="+target,
		"PORT="+port,
		"K_SERVICE="+strings.ToLower(target),
		"GOOGLE_CLOUD_PROJECT=demo-videocalls",
		"HMS_ACCESS_KEY=dummy-access-key",
		"HMS_SECRET=dummy-secret-dummy-secret-dummy-secret",
		"HMS_TEMPLATE_ID=dummy-template",
		"HMS_WEBHOOK_SECRET=dummy-webhook-secret",
		"HMS_API_BASE=http://127.0.0.1:1",
	)
}

// startMain starts bin serving target on a free port, waits until it
// accepts connections and returns its base URL; the process is killed when
// the test ends.
func startMain(t *testing.T, bin, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	var logs strings.Builder
	cmd := exec.Command(bin)
	cmd.Env = mainEnv(target, port)
	cmd.Stdout, cmd.Stderr = &lockedWriter{b: &logs}, &lockedWriter{b: &logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return "http://127.0.0.1:" + port
		}
		select {
		case err := <-exited:
			t.Fatalf("FUNCTION_TARGET=%s exited: %v\n%s", target, err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("FUNCTION_TARGET=%s: not listening on %s after 30s\n%s", target, port, logs.String())
		}
	}
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runWithTimeout runs cmd and returns its combined output.
func runWithTimeout(cmd *exec.Cmd, d time.Duration) (string, error) {
	var out strings.Builder
	w := &lockedWriter{b: &out}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return w.String(), err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		return w.String(), fmt.Errorf("timed out after %s", d)
	}
}

// lockedWriter is a strings.Builder that a process's stdout and stderr can
// share.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
