// Package emulatortest runs Google's Firestore emulator for tests: one
// process per test binary, shared by every test in it, wiped between tests.
// Every emulator started here enforces the repository's firestore.rules for
// every project; the Go clients send "Authorization: Bearer owner", which
// the emulator treats as the Admin SDK and lets past the rules.
package emulatortest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FirestoreJar is where the machine image installs Google's emulator.
const FirestoreJar = "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"

const firestoreMain = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"

// FirestoreEmulator is a running emulator, either started here or named by
// FIRESTORE_EMULATOR_HOST before the tests began.
type FirestoreEmulator struct {
	// Host is host:port, as FIRESTORE_EMULATOR_HOST wants it.
	Host string
	cmd  *exec.Cmd // nil when the emulator was already running
}

// The emulator is shared by the whole test binary: starting the JVM takes
// seconds, and tests isolate themselves by wiping or by project id.
var (
	fsOnce sync.Once
	fsEmu  *FirestoreEmulator
	fsErr  error
)

// MustFirestore is Firestore for tests that exist to exercise the emulator
// (the security rules): it fails, never skips, when the emulator cannot start.
func MustFirestore(tb testing.TB) string {
	tb.Helper()
	fsOnce.Do(func() {
		fsEmu, fsErr = startFirestore()
		if fsErr == nil {
			fsErr = os.Setenv("FIRESTORE_EMULATOR_HOST", fsEmu.Host)
		}
	})
	if fsErr != nil {
		tb.Fatalf("Firestore emulator unavailable: %v", fsErr)
	}
	return fsEmu.Host
}

// Firestore returns the shared emulator's host, starting it on first use,
// and sets FIRESTORE_EMULATOR_HOST. It fails the test when the emulator
// cannot start; with -short it skips the test without trying. Call
// StopFirestore from TestMain to stop what was started.
func Firestore(tb testing.TB) string {
	tb.Helper()
	skipIfShort(tb, "Firestore emulator")
	return MustFirestore(tb)
}

// FirestoreProcess returns the shared emulator, or nil when none was
// started by this process (FIRESTORE_EMULATOR_HOST named an outside one, or
// Firestore was never called).
func FirestoreProcess() *FirestoreEmulator {
	if fsEmu == nil || fsEmu.cmd == nil {
		return nil
	}
	return fsEmu
}

// StopFirestore stops the emulator this process started, with its whole
// process group; it is a no-op otherwise. Meant for TestMain, after m.Run.
func StopFirestore() {
	if fsEmu != nil {
		fsEmu.stop()
	}
}

// Main is a TestMain body: it runs the tests, stops the emulator they
// started, and exits with their status.
func Main(m *testing.M) {
	code := m.Run()
	StopFirestore()
	StopStorage()
	os.Exit(code)
}

// Pause stops the emulator's JVM with SIGSTOP, so that calls to it hang as
// they would against an unreachable Firestore. Resume undoes it.
func (e *FirestoreEmulator) Pause() error { return e.signal(syscall.SIGSTOP) }

// Resume continues a paused emulator with SIGCONT; its data are intact.
func (e *FirestoreEmulator) Resume() error { return e.signal(syscall.SIGCONT) }

// Pid is the emulator JVM's process id (0 when it was not started here).
func (e *FirestoreEmulator) Pid() int {
	if e == nil || e.cmd == nil || e.cmd.Process == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

func (e *FirestoreEmulator) signal(sig syscall.Signal) error {
	pid := e.Pid()
	if pid == 0 {
		return errors.New("emulatortest: the Firestore emulator was not started by this process")
	}
	return syscall.Kill(pid, sig)
}

func (e *FirestoreEmulator) stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	pid := e.cmd.Process.Pid
	// A paused JVM ignores SIGTERM until continued.
	_ = syscall.Kill(-pid, syscall.SIGCONT)
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

func startFirestore() (*FirestoreEmulator, error) {
	if host := os.Getenv("FIRESTORE_EMULATOR_HOST"); host != "" {
		if err := waitReady(context.Background(), host, 5*time.Second); err != nil {
			return nil, fmt.Errorf("FIRESTORE_EMULATOR_HOST=%s does not answer: %w", host, err)
		}
		return &FirestoreEmulator{Host: host}, nil
	}
	if _, err := os.Stat(FirestoreJar); err != nil {
		return nil, fmt.Errorf("emulator jar missing at %s: %w", FirestoreJar, err)
	}
	// --rules applies to every project id, so tests that isolate themselves
	// by project id get the rules too (a PUT of securityRules is per project).
	rules, err := RulesFile()
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("java not found: %w", err)
	}
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	host := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(java, "-Duser.language=en", "-cp", FirestoreJar, firestoreMain,
		"--host=127.0.0.1", fmt.Sprintf("--port=%d", port), "--rules="+rules)
	// Its own process group, so that stopping it takes any child with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &limitedWriter{n: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	emu := &FirestoreEmulator{Host: host, cmd: cmd}
	if err := waitReady(context.Background(), host, 60*time.Second); err != nil {
		emu.stop()
		return nil, fmt.Errorf("emulator on %s not ready: %w; output: %s", host, err, out.String())
	}
	// A rules file that does not compile still lets the emulator start, and
	// then every request fails with a 400; say why once, here, instead.
	content, err := os.ReadFile(rules)
	if err == nil {
		err = PutRules(host, "emulatortest-rules-check", filepath.Base(rules), string(content))
	}
	if err != nil {
		emu.stop()
		return nil, fmt.Errorf("%s: %w", rules, err)
	}
	return emu, nil
}

// waitReady polls GET / until the emulator answers "Ok".
func waitReady(ctx context.Context, host string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if strings.TrimSpace(string(body)) == "Ok" {
				return nil
			}
			err = fmt.Errorf("GET / answered %d %q", resp.StatusCode, body)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Wipe deletes every document of projectID's default database.
func Wipe(tb testing.TB, projectID string) {
	tb.Helper()
	host := Firestore(tb)
	url := fmt.Sprintf("http://%s/emulator/v1/projects/%s/databases/(default)/documents", host, projectID)
	req, err := http.NewRequest(http.MethodDelete, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	client := &http.Client{Timeout: 60 * time.Second} // slow on a loaded CI machine
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("wipe Firestore emulator: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		tb.Fatalf("wipe Firestore emulator: %s: %s", resp.Status, body)
	}
}

// limitedWriter keeps the first n bytes of the emulator's output for the
// error message when it fails to start.
type limitedWriter struct {
	mu  sync.Mutex
	buf strings.Builder
	n   int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		l.buf.Write(p[:k])
	}
	return len(p), nil
}

func (l *limitedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// RulesFile is the repository's firestore.rules: next to go.mod, found from
// this source file, else upwards from the working directory (a test binary
// runs in its package's directory).
func RulesFile() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				path := filepath.Join(dir, "firestore.rules")
				if _, err := os.Stat(path); err != nil {
					return "", fmt.Errorf("firestore rules: %w", err)
				}
				return path, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("firestore rules: no go.mod above the test's directory")
}

// LoadRules puts the repository's firestore.rules into the emulator at host
// for projectID, through the REST call firebase-tools and
// @firebase/rules-unit-testing make. The emulators started here already
// enforce the file for every project; this is for one named by
// FIRESTORE_EMULATOR_HOST, and for tests that must know the file they test
// is the one loaded. It fails on any error the rules compiler reports.
func LoadRules(tb testing.TB, host, projectID string) {
	tb.Helper()
	path, err := RulesFile()
	if err != nil {
		tb.Fatal(err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read firestore rules: %v", err)
	}
	if err := PutRules(host, projectID, "firestore.rules", string(content)); err != nil {
		tb.Fatal(err)
	}
}

// PutRules loads rules source into the emulator at host for projectID; it
// returns an error naming each problem when the source does not compile.
func PutRules(host, projectID, name, content string) error {
	type file struct {
		Name    string `json:"name"`
		Content string `json:"content"`
	}
	body, err := json.Marshal(map[string]any{"rules": map[string]any{"files": []file{{name, content}}}})
	if err != nil {
		return fmt.Errorf("load firestore rules: %w", err)
	}
	url := fmt.Sprintf("http://%s/emulator/v1/projects/%s:securityRules", host, projectID)
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("load firestore rules: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("load firestore rules: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("load firestore rules: %s: %s", resp.Status, answer)
	}
	var result struct {
		Issues []struct {
			Description    string `json:"description"`
			Severity       string `json:"severity"`
			SourcePosition struct {
				Line   int `json:"line"`
				Column int `json:"column"`
			} `json:"sourcePosition"`
		} `json:"issues"`
	}
	if err := json.Unmarshal(answer, &result); err != nil {
		return fmt.Errorf("load firestore rules: answer %q: %w", answer, err)
	}
	var problems []string
	for _, is := range result.Issues {
		problems = append(problems, fmt.Sprintf("%s:%d:%d: %s %s", name,
			is.SourcePosition.Line, is.SourcePosition.Column, is.Severity, is.Description))
	}
	if len(problems) > 0 {
		return fmt.Errorf("load firestore rules: %s", strings.Join(problems, "; "))
	}
	return nil
}
