package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
)

// The end-to-end tests run the functions as a user would: the local server
// (cmd/local: the real functions framework over real HTTP) in its own
// process, on the Firestore and Auth emulators, against a fake 100ms that
// follows its REST API. Everything the server prints is kept and scanned
// for secrets at the end.

const (
	e2eAccessKey     = "e2e-access-key"
	e2eSecret        = "e2e-app-secret-do-not-log-8f3a9c"
	e2eWebhookSecret = "e2e-webhook-secret-do-not-log-41d7"
	e2eTemplateID    = "e2e-template"
)

type e2eEnv struct {
	baseURL string
	project string
	fake    *fake100ms.Server
	fs      *firestore.Client
	fsEmu   *emulatortest.FirestoreEmulator
	auth    string // Auth emulator host
	logs    *emulatortest.Output
	cmd     *exec.Cmd

	mu        sync.Mutex
	sensitive []string // values that must never show up in the server's output
}

var (
	e2eOnce  sync.Once
	e2eState *e2eEnv
	e2eErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eState != nil {
		e2eState.stop()
		if leaks := e2eState.leaks(); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: the server's output contains %d secret or token value(s), e.g. %.12s...\n", len(leaks), leaks[0])
			code = 1
		}
	}
	emulatortest.StopFirestore()
	emulatortest.StopAuth()
	os.Exit(code)
}

// setupE2E starts the emulators, the fake 100ms and the server once for the
// whole test binary, so that the unit tests beside them pay nothing.
func setupE2E(t *testing.T) *e2eEnv {
	t.Helper()
	fsHost := emulatortest.Firestore(t)
	authHost := emulatortest.Auth(t)
	e2eOnce.Do(func() { e2eState, e2eErr = startE2E(fsHost, authHost) })
	if e2eErr != nil {
		t.Fatalf("end-to-end setup: %v", e2eErr)
	}
	return e2eState
}

func startE2E(fsHost, authHost string) (*e2eEnv, error) {
	e := &e2eEnv{project: emulatortest.AuthProject, auth: authHost, logs: &emulatortest.Output{}}
	e.fake = fake100ms.New(e2eSecret)
	e.fsEmu = emulatortest.FirestoreProcess()
	e.sensitive = []string{e2eSecret, e2eWebhookSecret}

	bin := filepath.Join(os.TempDir(), fmt.Sprintf("videocalls-local-%d", os.Getpid()))
	build := exec.Command("go", "build", "-race", "-o", bin, "../cmd/local/server")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build cmd/local/server: %v\n%s", err, out)
	}
	ports, err := emulatortest.FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ports[0])
	e.baseURL = "http://127.0.0.1:" + port
	e.cmd = exec.Command(bin)
	e.cmd.Env = append(os.Environ(),
		"PORT="+port,
		"GOOGLE_CLOUD_PROJECT="+e.project,
		"FIRESTORE_EMULATOR_HOST="+fsHost,
		"FIREBASE_AUTH_EMULATOR_HOST="+authHost,
		"HMS_ACCESS_KEY="+e2eAccessKey,
		"HMS_SECRET="+e2eSecret,
		"HMS_TEMPLATE_ID="+e2eTemplateID,
		"HMS_WEBHOOK_SECRET="+e2eWebhookSecret,
		"HMS_API_BASE="+e.fake.URL,
		"FCM_API_BASE="+sharedFCMFake().URL,
		"HMS_TOKEN_TTL=2h",
		"JOIN_EARLY=15m",
		"JOIN_LATE=1h",
	)
	e.cmd.Stdout = e.logs
	e.cmd.Stderr = e.logs
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start cmd/local/server: %w", err)
	}
	if err := waitHTTP(e.baseURL+"/hmssWebhook", 60*time.Second); err != nil {
		e.stop()
		return nil, fmt.Errorf("server not ready: %v\nserver output:\n%s", err, e.logs.String())
	}
	e.fs, err = firestore.NewClient(context.Background(), e.project)
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	return e, nil
}

func (e *e2eEnv) stop() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
		_ = e.cmd.Wait()
	}
	if e.fs != nil {
		_ = e.fs.Close()
	}
	e.fake.Close()
}

func (e *e2eEnv) remember(values ...string) {
	e.mu.Lock()
	e.sensitive = append(e.sensitive, values...)
	e.mu.Unlock()
}

// leaks returns the sensitive values found in the server's output,
// including the management tokens the fake 100ms received.
func (e *e2eEnv) leaks() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.logs.String()
	var found []string
	for _, v := range append(e.sensitive, e.fake.BearerTokens()...) {
		if v != "" && strings.Contains(out, v) {
			found = append(found, v)
		}
	}
	return found
}

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --- requests ---

type httpAnswer struct {
	code   int
	header http.Header
	body   []byte
}

func (e *e2eEnv) post(t *testing.T, path string, header map[string]string, body []byte) httpAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.baseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpAnswer{code: resp.StatusCode, header: resp.Header, body: b}
}

// callToken calls hmsToken the way the Firebase SDKs do.
func (e *e2eEnv) callToken(t *testing.T, idToken, appointmentID string) (int, callableAnswer) {
	t.Helper()
	header := map[string]string{"Content-Type": "application/json"}
	if idToken != "" {
		header["Authorization"] = "Bearer " + idToken
	}
	body, _ := json.Marshal(map[string]any{"data": map[string]string{"appointmentId": appointmentID}})
	ans := e.post(t, "/hmsToken", header, body)
	var out callableAnswer
	if err := json.Unmarshal(ans.body, &out); err != nil {
		t.Fatalf("hmsToken answer is not JSON: %v: %s", err, ans.body)
	}
	if tok, _ := out.Result["token"].(string); tok != "" {
		e.remember(tok)
	}
	return ans.code, out
}

func (e *e2eEnv) postEvent(t *testing.T, secret string, body []byte) httpAnswer {
	t.Helper()
	header := map[string]string{"Content-Type": "application/json"}
	if secret != "" {
		header["X-Webhook-Secret"] = secret
	}
	return e.post(t, "/hmssWebhook", header, body)
}

// --- Firestore ---

func (e *e2eEnv) seedAppointment(t *testing.T, id string, fields map[string]any) {
	t.Helper()
	if _, err := e.fs.Collection("appointments").Doc(id).Set(context.Background(), fields); err != nil {
		t.Fatalf("seed appointment %s: %v", id, err)
	}
}

func (e *e2eEnv) doc(t *testing.T, path string) map[string]any {
	t.Helper()
	snap, err := e.fs.Doc(path).Get(context.Background())
	if missing(snap) {
		return nil
	}
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return snap.Data()
}

// callTree is calls/{id} with its sessions and recordings, keyed by path,
// without the fields that may differ between two orders of the same events.
func (e *e2eEnv) callTree(t *testing.T, appointmentID string) map[string]map[string]any {
	t.Helper()
	ctx := context.Background()
	tree := map[string]map[string]any{}
	call := e.fs.Collection("calls").Doc(appointmentID)
	add := func(key string, snap *firestore.DocumentSnapshot) {
		data := snap.Data()
		for _, k := range []string{"updatedAt", "createdAt", "receivedAt"} {
			delete(data, k)
		}
		tree[key] = data
	}
	snap, err := call.Get(ctx)
	if err != nil {
		t.Fatalf("get call %s: %v", appointmentID, err)
	}
	add("/", snap)
	for _, sub := range []string{"sessions", "recordings", "transcripts", "failures"} {
		snaps, err := call.Collection(sub).Documents(ctx).GetAll()
		if err != nil {
			t.Fatalf("list %s: %v", sub, err)
		}
		for _, s := range snaps {
			add(sub+"/"+s.Ref.ID, s)
		}
	}
	return tree
}

func (e *e2eEnv) countEvents(t *testing.T) int {
	t.Helper()
	snaps, err := e.fs.Collection("hmsEvents").Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatalf("list hmsEvents: %v", err)
	}
	return len(snaps)
}

// missing reports a document Get found absent: the Firestore client then
// returns a snapshot that does not exist (beside a NotFound error), which
// says so without a look at gRPC codes.
func missing(snap *firestore.DocumentSnapshot) bool {
	return snap != nil && !snap.Exists()
}
