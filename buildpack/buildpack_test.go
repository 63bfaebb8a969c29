package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const repoRoot = ".."

// entryPoint is a deployed function and what it must answer at "/" when
// the built binary serves it (FUNCTION_TARGET=name). A function the source
// registers that is not listed here still gets genericCheck.
type entryPoint struct {
	name  string
	check func(t *testing.T, base string)
}

var entryPoints = []entryPoint{
	{"hmsToken", checkHmsToken},
	{"hmssWebhook", checkHmssWebhook},
}

const origin = "https://app.example.com"

func checkHmsToken(t *testing.T, base string) {
	req, _ := http.NewRequest(http.MethodOptions, base+"/", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp := do(t, req)
	readBody(t, resp)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("CORS preflight: %s, want 204", resp.Status)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, origin)
	}
	// A callable answers a wrong method in the callable error shape,
	// never with the webhook's 405.
	req, _ = http.NewRequest(http.MethodGet, base+"/", nil)
	resp = do(t, req)
	body := readBody(t, resp)
	if resp.StatusCode == http.StatusMethodNotAllowed || !strings.Contains(body, `"error"`) {
		t.Errorf("GET: %s %s, want a callable error", resp.Status, body)
	}
}

func checkHmssWebhook(t *testing.T, base string) {
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
}

// genericCheck: the function is served at "/" and answers a request with
// something other than the framework's "not found".
func genericCheck(t *testing.T, base string) {
	req, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	resp := do(t, req)
	body := readBody(t, resp)
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 && strings.Contains(body, "panic") {
		t.Fatalf("POST /: %s %q", resp.Status, body)
	}
}

// TestIgnoreFile checks what the repository's .gcloudignore (with the
// .gitignore it includes) keeps out of the upload and what it keeps in.
func TestIgnoreFile(t *testing.T) {
	f, err := readIgnoreFile(repoRoot, ".gcloudignore", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		path  string
		isDir bool
	}{
		{".env", false}, {".env.production", false}, {"functions/.env", false},
		{"node_modules", true}, {"node_modules/.bin/firebase", false},
		{"functions/functions_test.go", false}, {"store/store_test.go", false},
		{"hms/testdata", true}, {"hms/testdata/event.json", false},
		{"cpu.out", false}, {"functions/cpu.out", false}, {"functions.test", false}, {"store/mem.prof", false},
		{".firebase-home", true}, {"tmp", true}, // from .gitignore
		{".git", true}, {".git/HEAD", false}, {".gitignore", false}, {".gcloudignore", false},
		{"README.md", false}, {"buildpack", true}, {"buildpack/main.go", false},
		{"scripts/test", false}, {"cmd/tokenload/main.go", false}, {"internal/emulatortest/emulator.go", false},
		{"package.json", false}, {".ci/run", false},
	} {
		if f.included(p.path, p.isDir) {
			t.Errorf("%s is uploaded; .gcloudignore should keep it out", p.path)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "function.go", "functions/functions.go", "hms/client.go", "store/store.go"} {
		if !f.included(p, false) {
			t.Errorf("%s is not uploaded; the build needs it", p)
		}
	}
}

// TestIgnoreSemantics pins the gcloud rules the repository's file relies
// on, each of which differs from a naive reading.
func TestIgnoreSemantics(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, ".gitignore"), "secret.txt\n/rootonly/\n")
	write(t, filepath.Join(dir, ".gcloudignore"), strings.Join([]string{
		"#!include:.gitignore",
		"# a comment",
		"build/",      // directories only
		"a/b.txt",     // not anchored: matches x/a/b.txt too
		"**/gen/",     // any depth
		"logs/",       // ignored directory: nothing below comes back
		"!logs/keep",  // (has no effect)
		"*.log",       // ignored by extension...
		"!keep.log",   // ...except this one
		"trailing\\ ", // escaped trailing space
	}, "\n"))
	f, err := readIgnoreFile(dir, ".gcloudignore", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path       string
		isDir      bool
		uploaded   bool
		whyIfWrong string
	}{
		{"secret.txt", false, false, "#!include:.gitignore not followed"},
		{"sub/secret.txt", false, false, "a bare name matches at any depth"},
		{"rootonly/x", false, false, "a leading / anchors at the root"},
		{"sub/rootonly/x", false, true, "a leading / anchors at the root"},
		{"build/x", false, false, "a trailing / matches the directory"},
		{"build", false, true, "a trailing / matches directories only"},
		{"a/b.txt", false, false, "an inner slash pattern"},
		{"x/a/b.txt", false, false, "gcloud does not anchor a pattern with an inner slash"},
		{"p/q/gen/z.go", false, false, "**/ at any depth"},
		{"logs/keep", false, false, "a file of an ignored directory cannot be re-included"},
		{"x.log", false, false, "*.log"},
		{"keep.log", false, true, "a later ! pattern re-includes a file"},
		{"trailing ", false, false, "an escaped trailing space is kept"},
		{"trailing", false, true, "an escaped trailing space is kept"},
		{"main.go", false, true, "an unmatched file is uploaded"},
	} {
		if got := f.included(c.path, c.isDir); got != c.uploaded {
			t.Errorf("%q uploaded = %v, want %v (%s)", c.path, got, c.uploaded, c.whyIfWrong)
		}
	}
}

// TestUploadSetMatchesGcloud compares this package's reading of
// .gcloudignore with the real gcloud's, on this working tree.
func TestUploadSetMatchesGcloud(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Fatalf("gcloud (Cloud SDK, installed with the Firestore emulator) is needed to compare the upload set: %v", err)
	}
	abs, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gcloud, "meta", "list-files-for-upload", abs)
	cmd.Env = append(os.Environ(), "CLOUDSDK_CONFIG="+t.TempDir(), "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gcloud meta list-files-for-upload: %v", err)
	}
	want := strings.Fields(string(out))
	sort.Strings(want)
	got, err := uploadSet(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("upload set differs from gcloud's:\n only here:   %v\n only gcloud: %v", minus(got, want), minus(want, got))
	}
}

// TestBuildpackBuildServesEachEntryPoint builds the upload as the buildpack
// does and starts the binary once per entry point.
func TestBuildpackBuildServesEachEntryPoint(t *testing.T) {
	registered, err := registeredEntryPoints(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(*testing.T, string){}
	for _, e := range entryPoints {
		checks[e.name] = e.check
	}
	for _, name := range registered {
		if checks[name] == nil {
			checks[name] = genericCheck
		}
	}
	var targets []string
	for name := range checks {
		targets = append(targets, name)
	}
	sort.Strings(targets)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	start := time.Now()
	b, err := buildSource(ctx, repoRoot, t.TempDir(), targets)
	if err != nil {
		t.Fatalf("the Cloud Functions Go buildpack build of this repository fails:\n%v", err)
	}
	t.Logf("%s main importing %s, built in %s", b.Template, b.Package, time.Since(start).Round(time.Second))
	if b.Template != "declarative" {
		t.Errorf("the buildpack picks its %s main; the root package must import %s", b.Template, ffFunctionsPkg)
	}
	for _, name := range targets {
		t.Run(name, func(t *testing.T) {
			checks[name](t, startMain(t, b.Bins[name], name))
		})
	}
	t.Run("unknown target", func(t *testing.T) {
		cmd := exec.Command(b.Bins[targets[0]])
		cmd.Env = mainEnv("hmsTokn", "0")
		out, err := runWithTimeout(cmd, 60*time.Second)
		if err == nil || !strings.Contains(out, "hmsTokn") {
			t.Fatalf("FUNCTION_TARGET=hmsTokn: err=%v output=%q; want a failure naming the target", err, out)
		}
	})
}

// TestRootWithoutFrameworkImportFails plants the root package this
// repository once had (it imports only our functions package) and checks
// that the reproduced build fails the way Cloud Build did.
func TestRootWithoutFrameworkImportFails(t *testing.T) {
	files, err := uploadSet(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	for _, f := range append(files, ".gcloudignore", ".gitignore") {
		if err := copyFile(filepath.Join(repoRoot, f), filepath.Join(repo, f)); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(repo, "function.go"),
		"package videocalls\n\nimport _ \"github.com/telemed/videocalls/functions\"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	b, err := buildSource(ctx, repo, t.TempDir(), []string{"hmsToken"})
	if err == nil {
		t.Fatal("the build succeeded; the buildpack fails on this root package")
	}
	if b == nil || b.Template != "v1.1" || !strings.Contains(err.Error(), "undefined: userfunction.hmsToken") {
		t.Fatalf("want the v1.1 main failing with undefined: userfunction.hmsToken, got: %v", err)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if !in[s] {
			out = append(out, s)
		}
	}
	return out
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
	deadline := time.Now().Add(60 * time.Second)
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
			t.Fatalf("FUNCTION_TARGET=%s: not listening on %s after 60s\n%s", target, port, logs.String())
		}
	}
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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
