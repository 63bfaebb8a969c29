package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/delayproxy"
	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
)

// project is the Auth emulator's project (its ID tokens name it), so the
// servers and the appointments use it too.
const project = emulatortest.AuthProject

// world is everything a measurement needs, started by setup.
type world struct {
	fsHost, authHost string // the emulators themselves (not delayed)
	fs, auth, hms    *delayproxy.Proxy
	fake             *fake100ms.Server
	a, b             *server // two instances of the functions
	webhookSecret    string
	logDir           string
	closers          []func()
}

func (w *world) close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func setup(ctx context.Context, o options) (*world, error) {
	w := &world{webhookSecret: randomHex(32)}
	ok := false
	defer func() {
		if !ok {
			w.close()
		}
	}()
	w.fsHost = strings.TrimSpace(os.Getenv("FIRESTORE_EMULATOR_HOST"))
	if w.fsHost == "" {
		return nil, setupErr("FIRESTORE_EMULATOR_HOST must name a Firestore emulator (scripts/rttbudget starts one)")
	}
	// An emulator named by FIREBASE_AUTH_EMULATOR_HOST, or one started
	// here on free ports and stopped at exit.
	authHost, stopAuth, err := emulatortest.StartAuth()
	if err != nil {
		return nil, setupErr("Auth emulator: %w", err)
	}
	w.closers = append(w.closers, stopAuth)
	w.authHost = authHost

	hmsSecret := randomHex(32)
	if w.fake, err = fake100ms.Listen("127.0.0.1:0", hmsSecret); err != nil {
		return nil, setupError{err}
	}
	w.closers = append(w.closers, w.fake.Close)
	for _, px := range []struct {
		p        **delayproxy.Proxy
		upstream string
		rtt      time.Duration
	}{{&w.fs, w.fsHost, o.rtt}, {&w.auth, w.authHost, o.rtt}, {&w.hms, strings.TrimPrefix(w.fake.URL, "http://"), o.hmsRTT}} {
		p, err := delayproxy.Listen("127.0.0.1:0", px.upstream, px.rtt)
		if err != nil {
			return nil, setupError{err}
		}
		*px.p = p
		w.closers = append(w.closers, func() { p.Close() })
	}

	if w.logDir, err = os.MkdirTemp("", "rttbudget-"); err != nil {
		return nil, setupError{err}
	}
	if !o.keepLogs {
		w.closers = append(w.closers, func() { os.RemoveAll(w.logDir) })
	}
	env := []string{
		"GOOGLE_CLOUD_PROJECT=" + project,
		"FIRESTORE_EMULATOR_HOST=" + w.fs.Addr(),
		"FIREBASE_AUTH_EMULATOR_HOST=" + w.auth.Addr(),
		"HMS_API_BASE=http://" + w.hms.Addr() + "/v2",
		"HMS_ACCESS_KEY=rttbudget-access-key",
		"HMS_SECRET=" + hmsSecret,
		"HMS_TEMPLATE_ID=rttbudget-template",
		"HMS_WEBHOOK_SECRET=" + w.webhookSecret,
		"HMS_WEBHOOK_HEADER=X-Webhook-Secret",
	}
	for _, name := range []string{"a", "b"} {
		s, err := startServer(ctx, o.server, env, filepath.Join(w.logDir, "server-"+name+".log"))
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, s.stop)
		if name == "a" {
			w.a = s
		} else {
			w.b = s
		}
	}
	ok = true
	return w, nil
}

// server is one running cmd/local/server: one function instance.
type server struct {
	url string
	cmd *exec.Cmd
	log string
}

// startServer starts the server binary on a free port with env (and
// nothing else of ours: no emulator variable of this process leaks in),
// in its own process group, killed if this process dies.
func startServer(ctx context.Context, bin string, env []string, logPath string) (*server, error) {
	ports, err := emulatortest.FreePorts(1)
	if err != nil {
		return nil, setupError{err}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, setupError{err}
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"HOST=127.0.0.1", fmt.Sprintf("PORT=%d", ports[0])}, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, setupErr("start %s: %w", bin, err)
	}
	s := &server{url: "http://" + addr, cmd: cmd, log: logPath}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-exited:
			return nil, setupErr("the server exited during start; its log: %s", tail(logPath))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, setupErr("the server is not listening on %s after 60 s; its log: %s", addr, tail(logPath))
		}
	}
}

func (s *server) stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// signUp makes an email/password user in the Auth emulator with
// internal/emulatortest's helper, which reports failure through a
// testing.TB: fatalTB turns its Fatalf into an error.
func signUp(authHost, email string) (uid, idToken string, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(tbFailure)
			if !ok {
				panic(r)
			}
			err = f.err
		}
	}()
	uid, idToken = emulatortest.SignUp(fatalTB{}, authHost, project, email, "rttbudget-"+randomHex(8))
	return uid, idToken, nil
}

// fatalTB is the part of testing.TB the sign-up helper uses (Helper,
// Fatalf); any other method would panic on the nil embedded TB.
type fatalTB struct{ testing.TB }

type tbFailure struct{ err error }

func (fatalTB) Helper() {}

func (fatalTB) Fatalf(format string, args ...any) { panic(tbFailure{fmt.Errorf(format, args...)}) }
