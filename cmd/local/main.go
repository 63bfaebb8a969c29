// Command local is what scripts/dev runs: it starts the Firestore and Auth
// emulators (unless FIRESTORE_EMULATOR_HOST / FIREBASE_AUTH_EMULATOR_HOST
// name running ones), optionally the fake 100ms, and then the functions
// server (cmd/local/server, built beside this binary), prints where
// everything is, and stops all of it on Ctrl-C, SIGTERM or a closed
// terminal (SIGHUP), at any moment, also during start-up.
//
// The orchestration is in Go rather than bash because signals are simple
// here: they arrive on a channel, never interrupt a half-done step, and a
// write to a terminal that is gone fails quietly instead of aborting the
// clean-up. Every process started here runs in its own process group (so
// that a Ctrl-C reaches only this process, which stops them in order) and,
// on Linux, dies with this process if it is killed outright.
//
// Settings come from the environment (scripts/dev has loaded .env): HOST,
// PORT, GOOGLE_CLOUD_PROJECT, FUNCTION_REGION, DEV_FIRESTORE_PORT,
// DEV_AUTH_PORT, FIRESTORE_EMULATOR_JAR, VIDEOCALLS_ROOT.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// firestoreJars are where the Google Cloud SDK installs the emulator.
var firestoreJars = []string{
	"/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
	"/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
	"/opt/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
	"$HOME/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
}

// Dummy 100ms settings for --fake-100ms: the fake checks tokens against
// whatever secret the functions use, so any value works offline.
var fakeDefaults = map[string]string{
	"HMS_ACCESS_KEY":     "fake-access-key",
	"HMS_SECRET":         "fake-app-secret-for-local-runs-only",
	"HMS_TEMPLATE_ID":    "fake-template",
	"HMS_WEBHOOK_SECRET": "local-webhook-secret", // scripts/simulate assumes the same when unset
	// Offline, the waiting room is on, so that scripts/simulate shows it.
	"WAITING_ROOM_ROLE": "waiting-room",
}

// startTimeout bounds each emulator's start: the Auth emulator takes 15 s
// on an idle machine and far more on a loaded one.
const startTimeout = 3 * time.Minute

func main() {
	os.Exit(run())
}

// exitCode is the status for a stop by signal, as a shell reports it.
func exitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

func run() int {
	// First of all, so that no signal from here on can kill this process
	// before it has stopped what it started. SIGPIPE too: a write to a
	// closed pipe must fail, not end this process before its clean-up.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)

	fs := flag.NewFlagSet("scripts/dev", flag.ContinueOnError)
	fake := fs.Bool("fake-100ms", false, "serve against the offline fake 100ms (internal/fake100ms) instead of 100ms's API")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}

	d := &dev{fake: *fake, stopSig: make(chan os.Signal, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGPIPE {
				continue
			}
			select {
			case d.stopSig <- sig:
			default:
			}
			cancel()
		}
	}()

	err := d.start(ctx)
	if err == nil {
		err = d.wait(ctx)
	}
	d.stop()
	var sig os.Signal
	select {
	case sig = <-d.stopSig:
	default:
	}
	if sig != nil {
		// The terminal may be gone (SIGHUP): the write fails and is ignored.
		fmt.Fprintf(os.Stderr, "\nstopped (%s): everything scripts/dev started is gone\n", sig)
		return exitCode(sig)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// proc is a process group started here.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it has exited
}

type dev struct {
	fake    bool
	stopSig chan os.Signal

	root, project, region, host, port string
	work                              string // temp dir: configs, logs
	lock                              *os.File
	procs                             []*proc
	fsHost, authHost                  string
	fsStarted, authStarted            bool
	fsProc, authProc                  *proc
	fakeAddr                          string
	ready                             readyInfo
}

func (d *dev) start(ctx context.Context) error {
	started := time.Now()
	var err error
	if d.root, err = repoRoot(); err != nil {
		return err
	}
	d.project = envOr("GOOGLE_CLOUD_PROJECT", "demo-videocalls")
	d.region = envOr("FUNCTION_REGION", "us-central1")
	d.host = envOr("HOST", "127.0.0.1")
	d.port = envOr("PORT", "8080")
	if _, err := strconv.Atoi(d.port); err != nil {
		return fmt.Errorf("PORT must be a number, not %q", d.port)
	}
	if err := d.takeLock(); err != nil {
		return err
	}
	if k := os.Getenv("K_SERVICE"); k != "" {
		warn("K_SERVICE is set (%s): the functions refuse emulators in a deployment; unsetting it here", k)
		os.Unsetenv("K_SERVICE")
	}
	if !strings.HasPrefix(d.project, "demo-") {
		warn("GOOGLE_CLOUD_PROJECT=%s is not a demo- project: the emulators hold the data, but anything not emulated would reach the real project", d.project)
	}
	// The functions' port is bound here and handed to the server, so that
	// nothing can take it between this check and the server's start.
	l, err := net.Listen("tcp", net.JoinHostPort(d.host, d.port))
	if err != nil {
		return fmt.Errorf("port %s is in use (or HOST=%s is not an address of this machine): stop what runs there, or choose another with PORT=... (%v)", d.port, d.host, err)
	}
	defer l.Close()
	if d.work, err = os.MkdirTemp("", "videocalls-dev-"); err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	taken := map[int]bool{}
	if p, err := strconv.Atoi(d.port); err == nil {
		taken[p] = true
	}
	if err := d.startFirestore(ctx, taken); err != nil {
		return err
	}
	if err := d.startAuth(ctx, taken); err != nil {
		return err
	}
	if d.fake {
		p := pickPort(20000, taken)
		d.fakeAddr = fmt.Sprintf("127.0.0.1:%d", p)
	}
	if d.fsStarted {
		if err := d.waitFor(ctx, d.fsProc, d.fsHost, firestoreReady); err != nil {
			return err
		}
	}
	if d.authStarted {
		if err := d.waitFor(ctx, d.authProc, d.authHost, authReady); err != nil {
			return err
		}
	}
	if err := d.startServer(ctx, l); err != nil {
		return err
	}
	d.banner(time.Since(started))
	return nil
}

// takeLock makes a second scripts/dev in this checkout stop at once with
// one clear message, instead of racing the first for ports. The lock is an
// flock on tmp/dev.lock: the kernel drops it when this process dies, however
// it dies, and Go opens files close-on-exec, so no child inherits it.
func (d *dev) takeLock() error {
	dir := filepath.Join(d.root, "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lock dir: %w", err)
	}
	path := filepath.Join(dir, "dev.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 64))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(b))
			if holder == "" {
				holder = "?"
			}
			return fmt.Errorf("another scripts/dev is already running in this checkout (pid %s, lock %s): stop it first (Ctrl-C in its terminal), or use it", holder, path)
		}
		return fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	d.lock = f
	return nil
}

// spawn starts a command in its own process group, output to log.
func (d *dev) spawn(name, logName string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	if logName != "" {
		p.log = filepath.Join(d.work, logName)
		f, err := os.Create(p.log)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d.procs = append(d.procs, p)
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (d *dev) bindHost() string {
	if d.host == "0.0.0.0" || d.host == "::" {
		return d.host // a phone needs the emulators as much as the functions
	}
	return "127.0.0.1"
}

func (d *dev) startFirestore(ctx context.Context, taken map[int]bool) error {
	if h := os.Getenv("FIRESTORE_EMULATOR_HOST"); h != "" {
		if !firestoreReady(ctx, h) {
			return fmt.Errorf("FIRESTORE_EMULATOR_HOST=%s does not answer as a Firestore emulator (GET / should say Ok): start it, or unset the variable to let scripts/dev start one", h)
		}
		d.fsHost = h
		rules, err := os.ReadFile(filepath.Join(d.root, "firestore.rules"))
		if err != nil {
			return fmt.Errorf("firestore rules: %w", err)
		}
		return putRules(ctx, h, d.project, string(rules))
	}
	jar := os.Getenv("FIRESTORE_EMULATOR_JAR")
	if jar == "" {
		for _, c := range firestoreJars {
			c = os.ExpandEnv(c)
			if _, err := os.Stat(c); err == nil {
				jar = c
				break
			}
		}
	}
	if jar == "" {
		jar = firestoreJars[0]
	}
	if _, err := os.Stat(jar); err != nil {
		return fmt.Errorf("the Firestore emulator jar is missing: %s\n"+
			"  Install it with the Google Cloud SDK (gcloud components install cloud-firestore-emulator,\n"+
			"  or the Debian package google-cloud-cli-firestore-emulator), set FIRESTORE_EMULATOR_JAR to it,\n"+
			"  or start an emulator yourself and set FIRESTORE_EMULATOR_HOST", jar)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return errors.New("java is not installed: the Firestore emulator needs Java 17 or later")
	}
	port := pickPort(atoiOr(os.Getenv("DEV_FIRESTORE_PORT"), 8180), taken)
	cmd := exec.Command(java, "-Duser.language=en", "-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
		"--host="+d.bindHost(), fmt.Sprintf("--port=%d", port), "--rules="+filepath.Join(d.root, "firestore.rules"))
	if d.fsProc, err = d.spawn("Firestore emulator", "firestore.log", cmd); err != nil {
		return err
	}
	d.fsHost, d.fsStarted = fmt.Sprintf("127.0.0.1:%d", port), true
	return ctx.Err()
}

func (d *dev) startAuth(ctx context.Context, taken map[int]bool) error {
	if h := os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"); h != "" {
		if !authReady(ctx, h) {
			return fmt.Errorf("FIREBASE_AUTH_EMULATOR_HOST=%s does not answer as an Auth emulator: start it, or unset the variable to let scripts/dev start one", h)
		}
		d.authHost = h
		return nil
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("node is not installed: the Auth emulator (firebase-tools) needs Node.js 20 or later")
	}
	bin := filepath.Join(d.root, "node_modules", ".bin", "firebase")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("firebase-tools is not installed (%s): run npm ci at the repository root", bin)
	}
	auth := pickPort(atoiOr(os.Getenv("DEV_AUTH_PORT"), 9099), taken)
	hub := pickPort(4400, taken)
	logging := pickPort(4500, taken)
	dir := filepath.Join(d.work, "auth")
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`{"emulators":{"auth":{"host":%q,"port":%d},"hub":{"host":"127.0.0.1","port":%d},`+
		`"logging":{"host":"127.0.0.1","port":%d},"ui":{"enabled":false},"singleProjectMode":true}}`,
		d.bindHost(), auth, hub, logging)
	if err := os.WriteFile(filepath.Join(dir, "firebase.json"), []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "emulators:start", "--only", "auth", "--project", d.project, "--config", filepath.Join(dir, "firebase.json"))
	cmd.Dir = dir
	// Its own HOME: firebase-tools writes its config there, and must not
	// prompt or look for updates.
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"CI=true", "FIREBASE_CLI_DISABLE_UPDATE_CHECK=true", "NO_UPDATE_NOTIFIER=1")
	var err error
	if d.authProc, err = d.spawn("Auth emulator", "auth.log", cmd); err != nil {
		return err
	}
	d.authHost, d.authStarted = fmt.Sprintf("127.0.0.1:%d", auth), true
	return ctx.Err()
}

// waitFor polls until the emulator answers on host and the socket there
// belongs to the process group started here: an emulator leaked by an
// earlier run, answering on the same port, is not taken for this one.
func (d *dev) waitFor(ctx context.Context, p *proc, host string, ready func(context.Context, string) bool) error {
	_, portS, _ := net.SplitHostPort(host)
	port, _ := strconv.Atoi(portS)
	deadline := time.After(startTimeout)
	for {
		if ready(ctx, host) {
			owned, err := ownsPort(p.cmd.Process.Pid, port)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			if owned {
				return nil
			}
			return fmt.Errorf("%s: another process answers on %s, not the one started here (a leaked emulator?): stop it, or choose other ports (DEV_FIRESTORE_PORT, DEV_AUTH_PORT)", p.name, host)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("%s exited during start:\n%s\n(log: %s)", p.name, tail(p.log, 20), p.log)
		case <-deadline:
			return fmt.Errorf("%s not ready after %s:\n%s\n(log: %s)", p.name, startTimeout, tail(p.log, 20), p.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readyInfo is the server's /_local/ready answer.
type readyInfo struct {
	PID       int      `json:"pid"`
	Functions []string `json:"functions"`
	Fake100ms string   `json:"fake100ms"`
	FakeFCM   string   `json:"fakeFcm"`
}

func (d *dev) startServer(ctx context.Context, l net.Listener) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	bin := filepath.Join(filepath.Dir(exe), "server")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the functions server is not built beside %s (scripts/dev builds ./cmd/local/server there): %w", exe, err)
	}
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	defer f.Close()
	env := append(os.Environ(), "GOOGLE_CLOUD_PROJECT="+d.project, "FUNCTION_REGION="+d.region,
		"FIRESTORE_EMULATOR_HOST="+d.fsHost, "FIREBASE_AUTH_EMULATOR_HOST="+d.authHost, "LISTEN_FD=3")
	if d.fake {
		env = append(env, "HMS_API_BASE=http://"+d.fakeAddr, "FAKE_100MS_ADDR="+d.fakeAddr,
			// The fake FCM is served by the functions server itself.
			"FAKE_FCM=on", "FCM_API_BASE=http://"+net.JoinHostPort("127.0.0.1", d.port)+"/_local/fakefcm/v1")
		for k, v := range fakeDefaults {
			if os.Getenv(k) == "" {
				env = append(env, k+"="+v)
			}
		}
	} else {
		for _, v := range []string{"HMS_ACCESS_KEY", "HMS_SECRET", "HMS_TEMPLATE_ID", "HMS_WEBHOOK_SECRET"} {
			if os.Getenv(v) == "" {
				warn("%s is not set (.env or environment): the functions start, but answer 500 naming it until it is set (see .env_example), or use --fake-100ms", v)
			}
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	p, err := d.spawn("functions server", "", cmd)
	if err != nil {
		return err
	}
	probe := d.host
	if probe == "0.0.0.0" || probe == "::" || probe == "localhost" {
		probe = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(probe, d.port) + "/_local/ready"
	deadline := time.After(startTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := client.Get(url); err == nil {
			var info readyInfo
			err = json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if err == nil && info.PID == p.cmd.Process.Pid {
				d.ready = info
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return errors.New("the functions server exited during start (its output is above)")
		case <-deadline:
			return fmt.Errorf("the functions server did not answer %s within %s", url, startTimeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *dev) banner(took time.Duration) {
	shown := d.host
	if shown == "127.0.0.1" || shown == "0.0.0.0" || shown == "::" {
		shown = "localhost"
	}
	base := "http://" + net.JoinHostPort(shown, d.port)
	var b strings.Builder
	fmt.Fprintf(&b, "\nReady in %.1fs. Project %s, region %s.\n", took.Seconds(), d.project, d.region)
	for _, fn := range d.ready.Functions {
		fmt.Fprintf(&b, "  %-16s %s/%s\n  %-16s %s/%s/%s/%s\n", fn, base, fn, "", base, d.project, d.region, fn)
	}
	if d.fake {
		fmt.Fprintf(&b, "  100ms            FAKE, offline: internal/fake100ms at %s (HMS_API_BASE; rooms, sessions, recordings in memory)\n", d.ready.Fake100ms)
		fmt.Fprintf(&b, "  FCM              FAKE, offline: internal/fakefcm at %s (FCM_API_BASE; each notification is printed here)\n", d.ready.FakeFCM)
	} else {
		fmt.Fprintf(&b, "  100ms            %s (the real API; --fake-100ms runs offline)\n", envOr("HMS_API_BASE", "https://api.100ms.live/v2"))
	}
	mark := func(started bool, log string) string {
		if started {
			return " (started here; log " + log + ")"
		}
		return ""
	}
	fmt.Fprintf(&b, "  Firestore        FIRESTORE_EMULATOR_HOST=%s%s\n", d.fsHost, mark(d.fsStarted, filepath.Join(d.work, "firestore.log")))
	fmt.Fprintf(&b, "  Auth             FIREBASE_AUTH_EMULATOR_HOST=%s%s\n", d.authHost, mark(d.authStarted, filepath.Join(d.work, "auth.log")))
	_, fsPort, _ := net.SplitHostPort(d.fsHost)
	_, authPort, _ := net.SplitHostPort(d.authHost)
	fmt.Fprintf(&b, "\nFlutter (Firebase project id %s):\n", d.project)
	fmt.Fprintf(&b, "  FirebaseFunctions.instance.useFunctionsEmulator('localhost', %s);\n", d.port)
	fmt.Fprintf(&b, "  FirebaseAuth.instance.useAuthEmulator('localhost', %s);\n", authPort)
	fmt.Fprintf(&b, "  FirebaseFirestore.instance.useFirestoreEmulator('localhost', %s);\n", fsPort)
	if d.fake {
		b.WriteString("A consultation: scripts/simulate APPOINTMENT_ID (in another terminal). Ctrl-C stops everything.\n\n")
	} else {
		b.WriteString("Webhook events: scripts/replay (in another terminal). Ctrl-C stops everything.\n\n")
	}
	fmt.Fprint(os.Stdout, b.String())
}

// wait runs until a signal, or until something started here exits.
func (d *dev) wait(ctx context.Context) error {
	cases := make(chan *proc, len(d.procs))
	for _, p := range d.procs {
		go func() {
			select {
			case <-p.done:
				cases <- p
			case <-ctx.Done():
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case p := <-cases:
		if p.log != "" {
			return fmt.Errorf("%s exited; stopping the rest:\n%s\n(log: %s)", p.name, tail(p.log, 20), p.log)
		}
		return fmt.Errorf("%s exited; stopping the rest", p.name)
	}
}

// stop ends every process group started here, newest first, politely and
// then for good, and removes the temp dir. It prints nothing before the
// processes are gone: the terminal may be closed.
func (d *dev) stop() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		pgid := d.procs[i].cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGCONT)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
	}
	deadline := time.After(15 * time.Second)
	for _, p := range d.procs {
		select {
		case <-p.done:
		case <-deadline:
		}
	}
	// Whatever is left, including children the leaders left behind.
	for _, p := range d.procs {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, p := range d.procs {
		<-p.done
	}
	if d.work != "" {
		os.RemoveAll(d.work)
	}
	// scripts/dev built this run's binaries there; they are not needed
	// once everything has stopped.
	if dir := os.Getenv("DEV_BIN_DIR"); dir != "" && strings.Contains(filepath.Base(dir), "videocalls-dev-bin") {
		os.RemoveAll(dir)
	}
	if d.lock != nil {
		d.lock.Close()
	}
}

func firestoreReady(ctx context.Context, host string) bool {
	body, ok := get(ctx, "http://"+host+"/")
	return ok && strings.TrimSpace(body) == "Ok"
}

func authReady(ctx context.Context, host string) bool {
	body, ok := get(ctx, "http://"+host+"/")
	var v struct {
		AuthEmulator struct {
			Ready bool `json:"ready"`
		} `json:"authEmulator"`
	}
	return ok && json.Unmarshal([]byte(body), &v) == nil && v.AuthEmulator.Ready
}

func get(ctx context.Context, url string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return string(b), err == nil && resp.StatusCode == http.StatusOK
}

// putRules loads the project's rules into an emulator not started here
// (one started here got them with --rules).
func putRules(ctx context.Context, host, project, rules string) error {
	body, _ := json.Marshal(map[string]any{"rules": map[string]any{"files": []map[string]string{{"name": "firestore.rules", "content": rules}}}})
	url := fmt.Sprintf("http://%s/emulator/v1/projects/%s:securityRules", host, project)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("load firestore.rules into %s: %w", host, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || strings.Contains(string(answer), `"issues"`) && strings.Contains(string(answer), `"ERROR"`) {
		return fmt.Errorf("load firestore.rules into %s: %s: %s", host, resp.Status, answer)
	}
	return nil
}

// pickPort returns the first port from preferred up that is free on
// 127.0.0.1 and not taken, and marks it taken.
func pickPort(preferred int, taken map[int]bool) int {
	for p := preferred; ; p++ {
		if taken[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		taken[p] = true
		return p
	}
}

func repoRoot() (string, error) {
	if r := os.Getenv("VIDEOCALLS_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not in the repository (no go.mod above the working directory); run scripts/dev")
		}
		dir = parent
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func warn(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "warning: "+format+"\n", args...)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return def
}
