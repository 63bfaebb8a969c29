// Package scripts holds the tests of the repository's bash scripts:
// scripts/deploy's commands, the .env parser they share, shellcheck, and
// scripts/dev end to end.
package scripts

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// TestShellcheck lints every shell script of the repository: each file
// under scripts/ that is a shell script (by its #! line or .sh) and
// .ci/run. Without shellcheck it fails (.ci/run installs it); -short is the
// one way to skip it.
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if testing.Short() {
			t.Skip("-short: shellcheck not installed (apt-get install shellcheck); the scripts are NOT linted")
		}
		t.Fatal("shellcheck is not installed: apt-get install shellcheck (.ci/run does), or run with -short to skip")
	}
	scripts := shellScripts(t)
	// A walk that found too little would lint nothing and pass.
	for _, want := range []string{".ci/run", "scripts/lib/common.sh", "scripts/dev", "scripts/test", "scripts/coldstart", "scripts/tokenload"} {
		if !slices.Contains(scripts, want) {
			t.Fatalf("%s is not among the scripts found: %v", want, scripts)
		}
	}
	cmd := exec.Command("shellcheck", append([]string{"-x"}, scripts...)...)
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck %v: %v\n%s", scripts, err, out)
	}
}

// shellScripts lists, relative to the repository root, .ci/run and every
// shell script under scripts/.
func shellScripts(t *testing.T) []string {
	t.Helper()
	list := []string{".ci/run"}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".sh") {
			list = append(list, filepath.Join("scripts", path))
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if strings.HasPrefix(first, "#!") && regexp.MustCompile(`\b(ba|da|k)?sh\b`).MatchString(first) {
			list = append(list, filepath.Join("scripts", path))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list the scripts: %v", err)
	}
	return list
}

// TestEnvExample checks that .env_example names every README, Configuration variable with
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
		"GOOGLE_CLOUD_PROJECT", "FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST",
		"WAITING_ROOM_ROLE", "RECORDING_CONSENT", "RECORDING_TRANSCRIPTION", "RECORDING_SUMMARY", "NOTIFY", "FCM_API_BASE",
		"RECORDING_BUCKET", "RECORDING_LINK_TTL", "RECORDING_RETENTION_DAYS"} {
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
	needEmulators(t)
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
	// The deployed names are the entry-point names: the old alias is gone.
	if resp := httpDo(t, http.MethodPost, base+"/demo-videocalls/us-central1/hms-token", nil, nil); resp.status != http.StatusNotFound {
		t.Errorf("POST /demo-videocalls/us-central1/hms-token: %d, want 404", resp.status)
	}
	// Every function the functions package registers is served, at both
	// paths, and listed in the banner.
	for _, fn := range registeredFunctions(t) {
		for _, path := range []string{"/" + fn, "/demo-videocalls/us-central1/" + fn} {
			if resp := httpDo(t, http.MethodGet, base+path, nil, nil); resp.status == http.StatusNotFound {
				t.Errorf("GET %s: 404, want the function", path)
			}
		}
		if !strings.Contains(text, base[:len("http://")]+"localhost:"+port+"/"+fn) {
			t.Errorf("the banner does not list %s:\n%s", fn, text)
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
	// such appointment in Firestore: PERMISSION_DENIED.
	_, idToken := emulatortest.SignUp(t, authHost[1], "demo-videocalls", "dev@example.com", "dev-password")
	for _, path := range []string{"/hmsToken", "/demo-videocalls/us-central1/hmsToken"} {
		resp := httpDo(t, http.MethodPost, base+path, strings.NewReader(`{"data":{"appointmentId":"no-such-appointment"}}`),
			map[string]string{"Authorization": "Bearer " + idToken, "Content-Type": "application/json"})
		// A missing appointment is not told apart from someone else's.
		if resp.status != http.StatusForbidden || !strings.Contains(resp.body, "PERMISSION_DENIED") {
			t.Errorf("POST %s: %d %s, want 403 PERMISSION_DENIED", path, resp.status, resp.body)
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
	needEmulators(t)
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

// needEmulators fails (never skips) a test that needs the emulators when
// they cannot run here.
func needEmulators(t *testing.T) {
	t.Helper()
	for _, need := range []string{emulatortest.FirestoreJar, "../node_modules/.bin/firebase"} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("this test needs %s (run npm ci; the jar ships with the Google Cloud SDK), or run with -short: %v", need, err)
		}
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("this test needs java for the Firestore emulator, or run with -short: %v", err)
	}
}

// registeredFunctions are the names package functions registers with the
// framework (functions.HTTP("name", ...)), read from its source.
func registeredFunctions(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../functions/*.go")
	re := regexp.MustCompile(`functions\.HTTP\("([A-Za-z]+)"`)
	var names []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		t.Fatal("no functions.HTTP registration found in functions/")
	}
	return names
}

// devRun is one scripts/dev started by a test, in its own process group
// (as a terminal would run it), with a marker in its environment that
// every process it starts inherits.
type devRun struct {
	cmd                    *exec.Cmd
	out                    *emulatortest.Output
	exited                 chan error
	mark                   string
	port, fsPort, authPort string
}

func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	ports, err := emulatortest.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	d := &devRun{out: &emulatortest.Output{}, exited: make(chan error, 1),
		mark: fmt.Sprintf("VIDEOCALLS_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano()),
		port: strconv.Itoa(ports[0]), fsPort: strconv.Itoa(ports[1]), authPort: strconv.Itoa(ports[2])}
	d.cmd = exec.Command(script(t, "dev"), args...)
	d.cmd.Env = append(cleanEnv(), d.mark, "PORT="+d.port, "DEV_FIRESTORE_PORT="+d.fsPort, "DEV_AUTH_PORT="+d.authPort)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		// Whatever a failed test left: the group, then anything marked.
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		for _, pid := range d.marked() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return d
}

// marked lists the live processes carrying this run's marker, other than
// the scripts/dev process itself (which may still be exiting).
func (d *devRun) marked() []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || pid == d.cmd.Process.Pid {
			continue
		}
		env, err := os.ReadFile(dir + "/environ")
		if err != nil || !bytes.Contains(env, []byte(d.mark+"\x00")) {
			continue
		}
		if stat, err := os.ReadFile(dir + "/stat"); err == nil && bytes.Contains(stat, []byte(") Z ")) {
			continue // a zombie holds nothing
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitOutput waits until the output contains s, failing if scripts/dev
// exits first or 4 minutes pass (a loaded machine starts the Auth emulator
// slowly).
func (d *devRun) waitOutput(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(4 * time.Minute)
	for !strings.Contains(d.out.String(), s) {
		select {
		case err := <-d.exited:
			d.exited <- err
			t.Fatalf("scripts/dev exited before %q: %v\n%s", s, err, d.out.String())
		case <-deadline:
			t.Fatalf("no %q after 4 minutes:\n%s", s, d.out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitStarting waits until the emulators' processes exist (start-up under
// way) while scripts/dev is not ready yet.
func (d *devRun) waitStarting(t *testing.T) {
	t.Helper()
	deadline := time.After(4 * time.Minute)
	for {
		n := 0
		for _, pid := range d.marked() {
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil &&
				(bytes.Contains(cmdline, []byte("CloudFirestore")) || bytes.Contains(cmdline, []byte("emulators:start"))) {
				n++
			}
		}
		if n >= 2 {
			break
		}
		select {
		case err := <-d.exited:
			t.Fatalf("scripts/dev exited during start-up: %v\n%s", err, d.out.String())
		case <-deadline:
			t.Fatalf("the emulators did not start within 4 minutes:\n%s", d.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if strings.Contains(d.out.String(), "Ready in") {
		t.Fatalf("already ready: the interruption would not be during start-up:\n%s", d.out.String())
	}
}

// stopAndCheck signals the group and checks that scripts/dev exits and that
// no process it started, and no port it used, is left.
func (d *devRun) stopAndCheck(t *testing.T, sig syscall.Signal) {
	t.Helper()
	syscall.Kill(-d.cmd.Process.Pid, sig)
	select {
	case <-d.exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("scripts/dev still running 90 s after %v:\n%s", sig, d.out.String())
	}
	// The kernel reaps and frees ports soon after, not at once.
	var left []int
	for range 100 {
		if left = d.marked(); len(left) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range left {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("left running after %v: pid %d %s", sig, pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	for _, port := range []string{d.port, d.fsPort, d.authPort} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
			c.Close()
			t.Errorf("port %s still answers after %v", port, sig)
		}
	}
	if t.Failed() {
		t.Logf("scripts/dev output:\n%s", d.out.String())
	}
}

// TestDevStopsEverything interrupts scripts/dev during start-up and after
// "Ready", with Ctrl-C (SIGINT to the process group) and with the terminal
// gone (SIGHUP to the group), and finds no process and no port left. During
// the start-up case a second scripts/dev is refused with one clear message.
func TestDevStopsEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators; skipped with -short")
	}
	needEmulators(t)
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		ready bool
	}{
		{"SIGINT during start-up", syscall.SIGINT, false},
		{"SIGHUP during start-up", syscall.SIGHUP, false},
		{"SIGINT after Ready", syscall.SIGINT, true},
		{"SIGHUP after Ready", syscall.SIGHUP, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDev(t, "--fake-100ms")
			if tc.ready {
				d.waitOutput(t, "Ctrl-C stops everything")
			} else {
				d.waitStarting(t)
				if tc.sig == syscall.SIGINT {
					second := startDev(t)
					select {
					case err := <-second.exited:
						if err == nil || !strings.Contains(second.out.String(), "another scripts/dev is already running in this checkout") {
							t.Errorf("a second scripts/dev: %v, want one clear refusal:\n%s", err, second.out.String())
						}
					case <-time.After(3 * time.Minute):
						t.Errorf("a second scripts/dev is still running:\n%s", second.out.String())
					}
				}
			}
			d.stopAndCheck(t, tc.sig)
		})
	}
}

// TestTestWithoutJava runs scripts/test with a PATH that has everything
// but java: it must fail naming java before running any test, and -short
// is the explicit way past it.
func TestTestWithoutJava(t *testing.T) {
	bin := t.TempDir()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name() == "java" {
				continue
			}
			if _, err := os.Lstat(filepath.Join(bin, e.Name())); err == nil {
				continue // an earlier PATH entry wins
			}
			os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(bin, e.Name()))
		}
	}
	cmd := exec.Command(script(t, "test"))
	cmd.Env = append(cleanEnv(), "PATH="+bin)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("scripts/test without java succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "java") || strings.Contains(string(out), "== go test") {
		t.Fatalf("scripts/test without java: want a failure naming java before any test:\n%s", out)
	}
	if !strings.Contains(string(out), "scripts/test -short") {
		t.Errorf("the failure does not name the opt-out:\n%s", out)
	}
}

// TestReplayScriptPositionalURL runs scripts/replay URL FILE as the README
// writes it.
func TestReplayScriptPositionalURL(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + r.Header.Get("X-Webhook-Secret") + " " + string(b)
		io.WriteString(w, `{"status":"stored"}`)
	}))
	defer srv.Close()
	file := writeFile(t, filepath.Join(t.TempDir(), "e.json"),
		`{"id":"r1","type":"session.open.success","timestamp":"2021-01-01T00:00:01Z","data":{"room_id":"x"}}`)
	stdout, stderr, err := runScript(t, []string{"HMS_WEBHOOK_SECRET=pos-secret"}, "replay", srv.URL+"/hmssWebhook", file)
	if err != nil {
		t.Fatalf("scripts/replay URL FILE: %v\n%s\n%s", err, stdout, stderr)
	}
	select {
	case g := <-got:
		if !strings.HasPrefix(g, "/hmssWebhook pos-secret ") || !strings.Contains(g, `"r1"`) {
			t.Errorf("posted %q", g)
		}
	default:
		t.Fatal("nothing posted")
	}
}

// TestTryItLocally runs the README's "Try it locally" section as written:
// its first block (scripts/dev --fake-100ms) in the background, the others
// one after the other in one shell, and checks that the call ended.
func TestTryItLocally(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators; skipped with -short")
	}
	needEmulators(t)
	blocks := readmeBlocks(t, "Try it locally")
	if len(blocks) < 4 || strings.TrimSpace(blocks[0]) != "scripts/dev --fake-100ms" {
		t.Fatalf("the section should start with a block holding only scripts/dev --fake-100ms; blocks: %q", blocks)
	}
	d := startDev(t, "--fake-100ms")
	d.waitOutput(t, "Ctrl-C stops everything")
	// The README's ports are the defaults; this run has its own.
	script := strings.Join(blocks[1:], "\n")
	for from, to := range map[string]string{":8080": ":" + d.port, ":9099": ":" + d.authPort, ":8180": ":" + d.fsPort} {
		script = strings.ReplaceAll(script, from, to)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = ".."
	cmd.Env = append(cleanEnv(), d.mark, "PORT="+d.port)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s\nscripts/dev:\n%s", err, out, d.out.String())
	}
	text := string(out)
	for _, want := range []string{`"token"`, "client waits (waiting-room)", "inCall=[client:waiting-room]", "client admitted",
		"inCall=[client:guest doctor:host]", "client drops (network)", "transcript ready", "status=ended", "visit: together=",
		// scripts/audit: the doctor's token, granted, named by its jti,
		// and the notification of the wait to the doctor's one phone.
		"audit: 2 entries", `"jti":`, `"kind":"waiting"`} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if !regexp.MustCompile(`token\s+granted\s+doctor`).MatchString(text) {
		t.Errorf("the audit trail lacks the doctor's granted token:\n%s", text)
	}
	// scripts/dev's terminal: the doctor's phone told of the wait, once,
	// without its token.
	if dev := d.out.String(); strings.Count(dev, `fake FCM: a device is told "A patient is waiting"`) != 1 || strings.Contains(dev, "doctor-phone-1") {
		t.Errorf("scripts/dev should print the doctor's phone told once of the wait, never the token:\n%s", dev)
	}
	// The last block reads calls/appt-1 from the emulator: ended.
	if !regexp.MustCompile(`"status":\s*\{\s*"stringValue":\s*"ended"`).MatchString(text) {
		t.Errorf("calls/appt-1 is not ended:\n%s", text)
	}
	d.stopAndCheck(t, syscall.SIGINT)
}

// readmeBlocks returns the ```sh blocks of a README section (## title).
func readmeBlocks(t *testing.T, title string) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", title)
	}
	section := text[i+1:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}
