package emulatortest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AuthEmulatorHostEnv is the variable the Firebase Admin SDK reads to talk to
// the Auth emulator instead of Google; StartAuth sets it.
const AuthEmulatorHostEnv = "FIREBASE_AUTH_EMULATOR_HOST"

// AuthProject is the project the Auth emulator started by StartAuth serves:
// SignUp's ID tokens are issued for it. A demo- id needs no credentials.
const AuthProject = "demo-videocalls"

// ErrFirebaseToolsMissing means the repository's pinned firebase-tools is not
// installed: run `npm ci` at the repository root.
var ErrFirebaseToolsMissing = errors.New("firebase-tools is not installed (run `npm ci` at the repository root)")

// authStartTimeout bounds the wait for the emulator to answer ready: about
// 10 s on an idle machine, 40 s and more on a loaded CI machine.
const authStartTimeout = 3 * time.Minute

// auth is this process's Auth emulator, shared by every test.
var authEmu struct {
	mu      sync.Mutex
	host    string
	prevEnv *string      // FIREBASE_AUTH_EMULATOR_HOST before we set it
	proc    *authProcess // nil when the emulator was already running
	err     error        // a failed start, kept so that it is not retried per test
}

// StartAuth makes a Firebase Auth emulator available to this test process
// and sets FIREBASE_AUTH_EMULATOR_HOST to it. If the variable already names
// an emulator that answers, that one is used; otherwise the repository's
// firebase-tools (node_modules/.bin/firebase, from `npm ci`) is started once,
// on free ports, in its own process group, serving AuthProject. Later calls
// return the same host. stop (the same as StopAuth) ends an emulator that
// StartAuth started and restores the variable; an emulator that is never
// stopped is killed when the test process exits, however it exits. It suits
// TestMain; tests use Auth.
func StartAuth() (host string, stop func(), err error) {
	authEmu.mu.Lock()
	defer authEmu.mu.Unlock()
	if authEmu.host == "" && authEmu.err == nil {
		authEmu.host, authEmu.proc, authEmu.prevEnv, authEmu.err = startAuth()
	}
	if authEmu.err != nil {
		return "", func() {}, authEmu.err
	}
	return authEmu.host, StopAuth, nil
}

// StopAuth stops the Auth emulator this process started, with its whole
// process group, and restores FIREBASE_AUTH_EMULATOR_HOST; it is a no-op
// otherwise. Meant for TestMain, after m.Run, beside StopFirestore.
func StopAuth() {
	authEmu.mu.Lock()
	defer authEmu.mu.Unlock()
	if authEmu.proc != nil {
		authEmu.proc.stop()
		authEmu.proc = nil
	}
	if authEmu.host != "" {
		if authEmu.prevEnv != nil {
			os.Setenv(AuthEmulatorHostEnv, *authEmu.prevEnv)
		} else {
			os.Unsetenv(AuthEmulatorHostEnv)
		}
	}
	authEmu.host, authEmu.prevEnv, authEmu.err = "", nil, nil
}

// Auth returns the host:port of this process's Auth emulator, starting it on
// first use (see StartAuth), with FIREBASE_AUTH_EMULATOR_HOST set to it. When
// the emulator cannot be had, it fails tb with the reason and the `npm ci`
// hint; with -short it skips tb without trying.
func Auth(tb testing.TB) string {
	tb.Helper()
	skipIfShort(tb, "Firebase Auth emulator")
	host, _, err := StartAuth()
	if err != nil {
		unavailable(tb, "Firebase Auth emulator", err)
	}
	return host
}

// unavailable fails tb, for an emulator that cannot be had: a test that
// needs an emulator never passes, nor skips quietly, without one (the
// explicit opt-out is -short, see skipIfShort).
func unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	tb.Fatalf("%s unavailable (run `scripts/test -short` to skip the tests that need it): %v", what, err)
}

// skipIfShort skips tb under -short, the one way to run without emulators.
func skipIfShort(tb testing.TB, what string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("-short: skipping a test that needs the %s", what)
	}
}

func startAuth() (host string, proc *authProcess, prevEnv *string, err error) {
	if prev, ok := os.LookupEnv(AuthEmulatorHostEnv); ok {
		prevEnv = &prev
		if prev = strings.TrimSpace(prev); prev != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := authReady(ctx, prev); err != nil {
				return "", nil, nil, fmt.Errorf("%s=%s does not answer as an Auth emulator: %w", AuthEmulatorHostEnv, prev, err)
			}
			return prev, nil, prevEnv, nil
		}
	}
	proc, err = launchAuth(AuthProject)
	if err != nil {
		return "", nil, nil, err
	}
	os.Setenv(AuthEmulatorHostEnv, proc.host)
	return proc.host, proc, prevEnv, nil
}

// authProcess is an Auth emulator this process started.
type authProcess struct {
	host     string
	dir      string         // temp dir: firebase.json, HOME, log
	cmd      *exec.Cmd      // sh, the process-group leader
	watchdog io.WriteCloser // closing it (or our exit) kills the group
	exited   chan struct{}  // closed when sh has exited
}

// authLauncher runs firebase-tools in the background and kills the whole
// process group when its stdin reaches EOF, which happens when stop closes
// the pipe or when the test process dies without calling stop.
const authLauncher = `dir=$1; shift
exec 3<&0 0</dev/null
"$@" 3<&- &
child=$!
{ read -r _ <&3 || :; rm -rf "$dir"; kill -KILL 0; } &
wait "$child"
`

func launchAuth(project string) (*authProcess, error) {
	bin, err := firebaseBin()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("node is not on PATH: %w", err)
	}
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "auth-emulator-")
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`{"emulators":{"auth":{"host":"127.0.0.1","port":%d},`+
		`"hub":{"host":"127.0.0.1","port":%d},"logging":{"host":"127.0.0.1","port":%d},`+
		`"ui":{"enabled":false},"singleProjectMode":true}}`, ports[0], ports[1], ports[2])
	home := filepath.Join(dir, "home")
	logPath := filepath.Join(dir, "emulator.log")
	if err := os.WriteFile(filepath.Join(dir, "firebase.json"), []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Mkdir(home, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer pr.Close()

	cmd := exec.Command("/bin/sh", "-c", authLauncher, "auth-emulator", dir,
		bin, "emulators:start", "--only", "auth", "--project", project, "--config", filepath.Join(dir, "firebase.json"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"CI=true", "FIREBASE_CLI_DISABLE_UPDATE_CHECK=true", "NO_UPDATE_NOTIFIER=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start firebase-tools: %w", err)
	}
	p := &authProcess{
		host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), dir: dir,
		cmd: cmd, watchdog: pw, exited: make(chan struct{}),
	}
	go func() { cmd.Wait(); close(p.exited) }()

	ctx, cancel := context.WithTimeout(context.Background(), authStartTimeout)
	defer cancel()
	for {
		if authReady(ctx, p.host) == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			tail := logTail(logPath)
			p.stop()
			return nil, fmt.Errorf("Auth emulator exited during start; its log ends:\n%s", tail)
		case <-ctx.Done():
			tail := logTail(logPath)
			p.stop()
			return nil, fmt.Errorf("Auth emulator not ready after %s; its log ends:\n%s", time.Since(started).Round(time.Second), tail)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the emulator's process group: SIGTERM, then SIGKILL for what is
// left after a short grace period, and removes its temp dir.
func (p *authProcess) stop() {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && syscall.Kill(-pgid, 0) == nil {
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	p.watchdog.Close()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
	os.RemoveAll(p.dir)
}

// firebaseBin finds the repository's node_modules/.bin/firebase, looking up
// from the working directory (a test runs in its package's folder) and then
// from this source file.
func firebaseBin() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			bin := filepath.Join(dir, "node_modules", ".bin", "firebase")
			if _, err := os.Stat(bin); err == nil {
				return bin, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", ErrFirebaseToolsMissing
}

// logTail returns the last lines of an emulator's log, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// authReady asks the emulator at host whether it is ready.
func authReady(ctx context.Context, host string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		AuthEmulator struct {
			Ready bool `json:"ready"`
		} `json:"authEmulator"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || !body.AuthEmulator.Ready {
		return fmt.Errorf("GET / answered %s, not {\"authEmulator\":{\"ready\":true}}", resp.Status)
	}
	return nil
}

// SignUp creates an email/password user through the emulator's public
// sign-up API and returns its uid and a fresh ID token. The emulator issues
// ID tokens for its own project only (AuthProject when StartAuth started it),
// so SignUp fails tb when project is another one.
func SignUp(tb testing.TB, host, project, email, password string) (uid, idToken string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), authCallTimeout)
	defer cancel()
	uid, idToken, err := SignUpUser(ctx, http.DefaultClient, host, email, password)
	if err != nil {
		tb.Fatal(err)
	}
	checkTokenProject(tb, idToken, project)
	return uid, idToken
}

// SignUpUser is SignUp for the load tools, which have no testing.TB: it
// creates an email/password user through the emulator at host and returns
// its uid and a fresh ID token, for the emulator's own project.
func SignUpUser(ctx context.Context, client *http.Client, host, email, password string) (uid, idToken string, err error) {
	var out struct {
		LocalID string `json:"localId"`
		IDToken string `json:"idToken"`
	}
	if err := authRequest(ctx, client, host, http.MethodPost, "/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any", false,
		map[string]any{"email": email, "password": password, "returnSecureToken": true}, &out); err != nil {
		return "", "", fmt.Errorf("sign up: %w", err)
	}
	if out.LocalID == "" || out.IDToken == "" {
		return "", "", errors.New("sign up: auth emulator answered without a uid or an ID token")
	}
	return out.LocalID, out.IDToken, nil
}

// SignIn signs an existing email/password user in and returns a fresh ID
// token, for example after RevokeTokens.
func SignIn(tb testing.TB, host, project, email, password string) (idToken string) {
	tb.Helper()
	var out struct {
		IDToken string `json:"idToken"`
	}
	authCall(tb, host, http.MethodPost, "/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=any", false,
		map[string]any{"email": email, "password": password, "returnSecureToken": true}, &out)
	checkTokenProject(tb, out.IDToken, project)
	return out.IDToken
}

func checkTokenProject(tb testing.TB, idToken, project string) {
	tb.Helper()
	claims, err := DecodeIDToken(idToken)
	if err != nil {
		tb.Fatalf("auth emulator: ID token: %v", err)
	}
	if aud, _ := claims["aud"].(string); aud != project {
		tb.Fatalf("auth emulator issues ID tokens for project %q, not %q: start it for that project "+
			"(StartAuth uses %q) or use UnsignedIDToken for a token of another project", aud, project, AuthProject)
	}
}

// DisableUser disables a user, as the Firebase console does: its ID tokens
// are refused by VerifyIDTokenAndCheckRevoked from then on.
func DisableUser(tb testing.TB, host, project, uid string) {
	tb.Helper()
	authCall(tb, host, http.MethodPost, "/identitytoolkit.googleapis.com/v1/projects/"+project+"/accounts:update", true,
		map[string]any{"localId": uid, "disableUser": true}, nil)
}

// DeleteUser deletes a user; its ID tokens are refused from then on.
func DeleteUser(tb testing.TB, host, project, uid string) {
	tb.Helper()
	authCall(tb, host, http.MethodPost, "/identitytoolkit.googleapis.com/v1/projects/"+project+"/accounts:delete", true,
		map[string]any{"localId": uid}, nil)
}

// RevokeTokens revokes every ID token of the user issued before the call, as
// the Admin SDK's RevokeRefreshTokens does. Revocation has one-second
// resolution, so it first waits for the next second to begin (at most 1 s);
// tokens issued after it returns are valid.
func RevokeTokens(tb testing.TB, host, project, uid string) {
	tb.Helper()
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
	validSince := strconv.FormatInt(time.Now().Unix(), 10)
	authCall(tb, host, http.MethodPost, "/identitytoolkit.googleapis.com/v1/projects/"+project+"/accounts:update", true,
		map[string]any{"localId": uid, "validSince": validSince}, nil)
}

// WipeAuth deletes every user of the project in the emulator.
func WipeAuth(tb testing.TB, host, project string) {
	tb.Helper()
	authCall(tb, host, http.MethodDelete, "/emulator/v1/projects/"+project+"/accounts", false, nil, nil)
}

// UnsignedIDToken returns an ID token shaped like the emulator's own (a JWT
// with "alg":"none" and the claims the Admin SDK checks in emulator mode:
// aud, iss, sub, iat, exp), for a project and times of the caller's choosing:
// a token of another project, or an expired one. In emulator mode the Admin
// SDK skips the signature, so these tokens test exactly the claim checks.
// To be accepted, the user named by uid must exist and issuedAt must not be
// before the user's creation or last revocation (whole seconds).
func UnsignedIDToken(project, uid string, issuedAt, expiresAt time.Time) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(IDTokenClaims(project, uid, issuedAt, expiresAt)) + "."
}

// IDTokenClaims are the claims of a Firebase ID token of an email/password
// user, as the Auth emulator and Google issue them: those the Admin SDK
// checks (aud, iss, sub, iat, exp, auth_time) and the firebase block.
func IDTokenClaims(project, uid string, issuedAt, expiresAt time.Time) map[string]any {
	return map[string]any{
		"iss":       "https://securetoken.google.com/" + project,
		"aud":       project,
		"sub":       uid,
		"user_id":   uid,
		"auth_time": issuedAt.Unix(),
		"iat":       issuedAt.Unix(),
		"exp":       expiresAt.Unix(),
		"firebase":  map[string]any{"identities": map[string]any{}, "sign_in_provider": "password"},
	}
}

// ExpiredIDToken returns an emulator-style ID token for uid that expired an
// hour ago (issued two hours ago).
func ExpiredIDToken(project, uid string) string {
	now := time.Now()
	return UnsignedIDToken(project, uid, now.Add(-2*time.Hour), now.Add(-time.Hour))
}

// DecodeIDToken returns the claims of a JWT without checking its signature,
// for assertions in tests.
func DecodeIDToken(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT: %d segments", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("JWT payload: %w", err)
	}
	return claims, nil
}

// authCallTimeout bounds one call to the emulator: slow on a loaded CI
// machine.
const authCallTimeout = 60 * time.Second

// authCall sends one request to the emulator's REST API and decodes a 2xx
// answer into out (when not nil); anything else fails tb. admin adds the
// emulator's owner credentials, which the admin endpoints require.
func authCall(tb testing.TB, host, method, path string, admin bool, in, out any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), authCallTimeout)
	defer cancel()
	if err := authRequest(ctx, http.DefaultClient, host, method, path, admin, in, out); err != nil {
		tb.Fatal(err)
	}
}

// authRequest is authCall returning its error.
func authRequest(ctx context.Context, client *http.Client, host, method, path string, admin bool, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("auth emulator %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+host+path, body)
	if err != nil {
		return fmt.Errorf("auth emulator %s: %w", path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("Authorization", "Bearer owner")
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("auth emulator %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("auth emulator %s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("auth emulator %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
