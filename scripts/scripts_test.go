// Package scripts holds the tests of the repository's bash scripts:
// scripts/deploy's commands, the .env parser they share, shellcheck, and
// scripts/dev end to end.
package scripts

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/emulatortest"
)

// script returns the absolute path of a script in this folder.
func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runScript runs a script with env added to a clean copy of the
// environment (no settings of the developer's own) and returns its stdout,
// stderr and error.
func runScript(t *testing.T, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(script(t, name), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// cleanEnv is the environment without any variable the scripts read.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "HMS_"), strings.HasSuffix(name, "_EMULATOR_HOST"),
			name == "GOOGLE_CLOUD_PROJECT", name == "FUNCTION_REGION", name == "PORT",
			name == "HOST", name == "JOIN_EARLY", name == "JOIN_LATE", name == "K_SERVICE":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck not installed (apt-get install shellcheck)")
	}
	cmd := exec.Command("shellcheck", "-x", "scripts/dev", "scripts/deploy", "scripts/replay", "scripts/buildpack-check", "scripts/lib/common.sh")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// TestEnvExample checks that .env_example names every SPEC §1 variable with
// a comment, and that the scripts read it without complaint.
func TestEnvExample(t *testing.T) {
	b, err := os.ReadFile("../.env_example")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	assign := regexp.MustCompile(`^(# )?[A-Z_]+=`)
	for _, v := range []string{"HMS_ACCESS_KEY", "HMS_SECRET", "HMS_TEMPLATE_ID", "HMS_WEBHOOK_SECRET",
		"HMS_WEBHOOK_HEADER", "HMS_API_BASE", "HMS_TOKEN_TTL", "JOIN_EARLY", "JOIN_LATE",
		"GOOGLE_CLOUD_PROJECT", "FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST"} {
		at := -1
		for i, l := range lines {
			if strings.HasPrefix(l, v+"=") || strings.HasPrefix(l, "# "+v+"=") {
				at = i
				break
			}
		}
		if at < 0 {
			t.Errorf(".env_example lacks %s", v)
			continue
		}
		// Above it, past any settings of the same group, a comment.
		i := at - 1
		for i >= 0 && assign.MatchString(lines[i]) {
			i--
		}
		if i < 0 || !strings.HasPrefix(lines[i], "#") {
			t.Errorf("%s has no comment above it", v)
		}
	}
	out, stderr, err := runScript(t, nil, "deploy", "--print", "--env-file", "../.env_example", "--project", "my-clinic-prod")
	if err != nil || strings.Contains(stderr, "not KEY=VALUE") {
		t.Fatalf("deploy --print on .env_example: %v\n%s\n%s", err, out, stderr)
	}
}

// TestDevEndToEnd runs scripts/dev as a developer would, checks that both
// functions answer on their paths with the emulators it started behind
// them, then presses Ctrl-C and checks that everything stopped.
func TestDevEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators; skipped with -short")
	}
	const jar = "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
	for _, need := range []string{jar, "../node_modules/.bin/firebase"} {
		if _, err := os.Stat(need); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("scripts/dev needs %s (run npm ci; the jar ships with the machine image): %v", need, err)
			}
			t.Skipf("scripts/dev needs %s (run npm ci at the repository root): %v", need, err)
		}
	}
	port := freePort(t)
	out := &emulatortest.Output{}
	cmd := exec.Command(script(t, "dev"))
	cmd.Env = append(cleanEnv(), "PORT="+port, "HMS_ACCESS_KEY=ak-dev", "HMS_SECRET=dev-secret-dev-secret-dev-secret",
		"HMS_TEMPLATE_ID=tmpl-dev", "HMS_WEBHOOK_SECRET=dev-webhook-secret", "HMS_API_BASE=http://127.0.0.1:1")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		}
	})

	deadline := time.After(4 * time.Minute)
	for !strings.Contains(out.String(), "Ctrl-C stops everything") {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("scripts/dev exited: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("scripts/dev not ready after 4 minutes:\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("scripts/dev ready after %s", time.Since(started).Round(100*time.Millisecond))
	text := out.String()
	fsHost := regexp.MustCompile(`FIRESTORE_EMULATOR_HOST=(\S+)`).FindStringSubmatch(text)
	authHost := regexp.MustCompile(`FIREBASE_AUTH_EMULATOR_HOST=(\S+)`).FindStringSubmatch(text)
	if fsHost == nil || authHost == nil {
		t.Fatalf("emulator hosts not printed:\n%s", text)
	}
	base := "http://127.0.0.1:" + port
	for _, path := range []string{"/hmssWebhook", "/demo-videocalls/us-central1/hmssWebhook"} {
		resp := httpDo(t, http.MethodGet, base+path, nil, nil)
		if resp.status != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d, want 405", path, resp.status)
		}
	}
	// The webhook stores an event in the Firestore emulator.
	event := `{"version":"2.0","id":"dev-e2e-1","timestamp":"2021-11-30T12:58:49Z","type":"session.open.success",` +
		`"data":{"room_id":"r-unknown","session_id":"s1","session_started_at":"2021-11-30T12:58:49Z"}}`
	resp := httpDo(t, http.MethodPost, base+"/hmssWebhook", strings.NewReader(event),
		map[string]string{"X-Webhook-Secret": "dev-webhook-secret", "Content-Type": "application/json"})
	if resp.status != http.StatusOK {
		t.Errorf("POST /hmssWebhook: %d %s, want 200", resp.status, resp.body)
	}
	// hmsToken verifies an ID token from the Auth emulator, then finds no
	// such appointment in Firestore.
	signUp := httpDo(t, http.MethodPost, "http://"+authHost[1]+"/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any",
		strings.NewReader(`{"email":"dev@example.com","password":"dev-password","returnSecureToken":true}`),
		map[string]string{"Content-Type": "application/json"})
	var su struct {
		IDToken string `json:"idToken"`
	}
	if err := json.Unmarshal([]byte(signUp.body), &su); err != nil || su.IDToken == "" {
		t.Fatalf("sign-up on the Auth emulator: %d %s", signUp.status, signUp.body)
	}
	for _, path := range []string{"/hmsToken", "/demo-videocalls/us-central1/hmsToken"} {
		resp := httpDo(t, http.MethodPost, base+path, strings.NewReader(`{"data":{"appointmentId":"no-such-appointment"}}`),
			map[string]string{"Authorization": "Bearer " + su.IDToken, "Content-Type": "application/json"})
		if resp.status != http.StatusNotFound || !strings.Contains(resp.body, "NOT_FOUND") {
			t.Errorf("POST %s: %d %s, want 404 NOT_FOUND", path, resp.status, resp.body)
		}
	}

	// Ctrl-C: the terminal signals the script's process group.
	stopped = true
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("scripts/dev still running 30 s after Ctrl-C:\n%s", out.String())
	}
	for _, host := range []string{"127.0.0.1:" + port, fsHost[1], authHost[1]} {
		if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still answers after Ctrl-C", host)
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ports, err := emulatortest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(ports[0])
}

type answer struct {
	status int
	body   string
}

func httpDo(t *testing.T, method, url string, body io.Reader, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

// TestGoLineFitsDeployRuntime checks that go.mod (and buildpack/go.mod) ask
// for no newer Go than the runtime scripts/deploy names, so that the
// buildpack can build the source with that runtime's Go.
func TestGoLineFitsDeployRuntime(t *testing.T) {
	b, err := os.ReadFile("deploy")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`--runtime=go(\d)(\d+)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("scripts/deploy names no --runtime=goNNN")
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if !strings.Contains(string(b), "--base-image=go"+m[1]+m[2]) {
		t.Errorf("scripts/deploy --run uses another base image than --runtime=go%s%s", m[1], m[2])
	}
	for _, mod := range []string{"../go.mod", "../buildpack/go.mod"} {
		b, err := os.ReadFile(mod)
		if err != nil {
			t.Fatal(err)
		}
		g := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`).FindStringSubmatch(string(b))
		if g == nil {
			t.Fatalf("%s has no go line", mod)
		}
		gMajor, _ := strconv.Atoi(g[1])
		gMinor, _ := strconv.Atoi(g[2])
		if gMajor > major || (gMajor == major && gMinor > minor) {
			t.Errorf("%s says go %s.%s, newer than the deploy runtime go%d%d", mod, g[1], g[2], major, minor)
		}
		if gMajor == major && gMinor == minor && g[3] != "" && g[3] != "0" {
			t.Errorf("%s says go %s.%s.%s: the go%d%d runtime may ship an earlier %s.%s patch; use %s.%s.0",
				mod, g[1], g[2], g[3], major, minor, g[1], g[2], g[1], g[2])
		}
	}
}

// TestLoadtestOutage runs a small scripts/loadtest with the emulator made
// unreachable mid-load (connections cut and refused, as if killed and
// restarted): the tool must report every event stored once and every call
// equal to the in-order result, and exit 0. It keeps the load tool, and
// the claim the README makes with it, working.
func TestLoadtestOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an emulator and a load; skipped with -short")
	}
	const jar = "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
	if _, err := os.Stat(jar); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("scripts/loadtest needs the Firestore emulator jar: %v", err)
		}
		t.Skipf("scripts/loadtest needs the Firestore emulator jar: %v", err)
	}
	stdout, stderr, err := runScript(t, nil, "loadtest", "-events", "1500", "-k", "2", "-c", "16",
		"-floor", "0", "-warmup", "100", "-outage", "4s", "-outage-after", "300ms")
	if err != nil {
		t.Fatalf("scripts/loadtest: %v\n%s\n%s", err, stdout, stderr)
	}
	for _, want := range []string{
		"outage        emulator unreachable (connections cut and refused, as if killed) from",
		"\nduplicates    0 events answered \"stored\" more than once",
		"PASS: nothing lost, nothing applied twice, every document equals the in-order result",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if m := regexp.MustCompile(`(\d+)/(\d+) events stored, (\d+) lost;`).FindStringSubmatch(stdout); m == nil || m[1] != m[2] || m[3] != "0" {
		t.Errorf("not every event stored:\n%s", stdout)
	}
	// The outage must have reached the server (it talks to the emulator
	// only through the proxy): some delivery got a 503, or waited through
	// much of the 4 s outage before its write went through.
	got503 := regexp.MustCompile(`(\d+) got a 503`).FindStringSubmatch(stdout)
	maxMs := regexp.MustCompile(`max (\d+)\.\dms \(every attempt\)`).FindStringSubmatch(stdout)
	if got503 == nil || maxMs == nil {
		t.Fatalf("no retries or latency line:\n%s", stdout)
	}
	if waited, _ := strconv.Atoi(maxMs[1]); got503[1] == "0" && waited < 2000 {
		t.Errorf("the outage did not reach the server: no 503 and no delivery waited 2 s:\n%s", stdout)
	}
}
