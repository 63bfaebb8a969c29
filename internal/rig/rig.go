// Package rig starts what the measuring tools (rttbudget, cost) run the
// functions in: the Firestore emulator named by FIRESTORE_EMULATOR_HOST
// and an Auth emulator, the fake 100ms, an internal/delayproxy proxy in
// front of each, and instances of cmd/local/server that reach all three
// through the proxies. Measuring-tool support only.
package rig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/delayproxy"
	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/fakefcm"
)

// Project is the Auth emulator's project (its ID tokens name it), so the
// servers and the appointments use it too.
const Project = emulatortest.AuthProject

// Options say how the rig is built.
type Options struct {
	// RTT is added to every Firestore and Auth connection, HMSRTT to the
	// fake 100ms's.
	RTT, HMSRTT time.Duration
	// Server is the cmd/local/server binary; Servers how many instances
	// (at least 1).
	Server  string
	Servers int
	// Env is added to the servers' settings (WAITING_ROOM_ROLE, say).
	Env []string
	// KeepLogs keeps the servers' logs (in LogDir) after Close.
	KeepLogs bool
}

// World is everything a measurement needs, started by Setup.
type World struct {
	FSHost, AuthHost string // the emulators themselves (not delayed)
	FS, Auth, HMS    *delayproxy.Proxy
	Fake             *fake100ms.Server
	// FCM is the fake FCM the servers send notifications to (FCM_API_BASE),
	// behind FCMProxy with the 100ms RTT: both are services on the internet.
	FCM           *fakefcm.Server
	FCMProxy      *delayproxy.Proxy
	Servers       []*Server // instances of the functions
	WebhookSecret string
	LogDir        string
	closers       []func()
}

// Close stops everything Setup started.
func (w *World) Close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
}

// RandomHex is n random bytes in hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SetupError is a failure to build the rig (not a measurement's).
type SetupError struct{ error }

func (e SetupError) Unwrap() error { return e.error }

func setupErr(format string, args ...any) error { return SetupErrorf(format, args...) }

// SetupErrorf is a SetupError of its own.
func SetupErrorf(format string, args ...any) error { return SetupError{fmt.Errorf(format, args...)} }

// Main runs a measuring tool until it ends or is interrupted (Ctrl-C,
// SIGTERM), and exits 1 when the measurement failed and 2 when the rig
// could not be built (a SetupError), so that a script tells the two apart.
func Main(run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err == nil {
		return
	}
	log.Print(err)
	var se SetupError
	if errors.As(err, &se) {
		os.Exit(2)
	}
	os.Exit(1)
}

// Setup builds the rig; Close it when done.
func Setup(ctx context.Context, o Options) (*World, error) {
	w := &World{WebhookSecret: RandomHex(32)}
	ok := false
	defer func() {
		if !ok {
			w.Close()
		}
	}()
	w.FSHost = strings.TrimSpace(os.Getenv("FIRESTORE_EMULATOR_HOST"))
	if w.FSHost == "" {
		return nil, setupErr("FIRESTORE_EMULATOR_HOST must name a Firestore emulator (the scripts start one)")
	}
	// An emulator named by FIREBASE_AUTH_EMULATOR_HOST, or one started
	// here on free ports and stopped at exit.
	authHost, stopAuth, err := emulatortest.StartAuth()
	if err != nil {
		return nil, setupErr("Auth emulator: %w", err)
	}
	w.closers = append(w.closers, stopAuth)
	w.AuthHost = authHost

	hmsSecret := RandomHex(32)
	if w.Fake, err = fake100ms.Listen("127.0.0.1:0", hmsSecret); err != nil {
		return nil, SetupError{err}
	}
	w.closers = append(w.closers, w.Fake.Close)
	w.FCM = fakefcm.New()
	w.closers = append(w.closers, w.FCM.Close)
	fcmHost := strings.TrimSuffix(strings.TrimPrefix(w.FCM.URL, "http://"), "/v1")
	for _, px := range []struct {
		p        **delayproxy.Proxy
		upstream string
		rtt      time.Duration
	}{{&w.FS, w.FSHost, o.RTT}, {&w.Auth, w.AuthHost, o.RTT}, {&w.HMS, strings.TrimPrefix(w.Fake.URL, "http://"), o.HMSRTT},
		{&w.FCMProxy, fcmHost, o.HMSRTT}} {
		p, err := delayproxy.Listen("127.0.0.1:0", px.upstream, px.rtt)
		if err != nil {
			return nil, SetupError{err}
		}
		*px.p = p
		w.closers = append(w.closers, func() { p.Close() })
	}

	if w.LogDir, err = os.MkdirTemp("", "rig-"); err != nil {
		return nil, SetupError{err}
	}
	if !o.KeepLogs {
		w.closers = append(w.closers, func() { os.RemoveAll(w.LogDir) })
	}
	env := append([]string{
		"GOOGLE_CLOUD_PROJECT=" + Project,
		"FIRESTORE_EMULATOR_HOST=" + w.FS.Addr(),
		"FIREBASE_AUTH_EMULATOR_HOST=" + w.Auth.Addr(),
		"HMS_API_BASE=http://" + w.HMS.Addr() + "/v2",
		"HMS_ACCESS_KEY=rig-access-key",
		"HMS_SECRET=" + hmsSecret,
		"HMS_TEMPLATE_ID=rig-template",
		"HMS_WEBHOOK_SECRET=" + w.WebhookSecret,
		"HMS_WEBHOOK_HEADER=X-Webhook-Secret",
		"FCM_API_BASE=http://" + w.FCMProxy.Addr() + "/v1",
	}, o.Env...)
	for i := range max(o.Servers, 1) {
		s, err := startServer(ctx, o.Server, env, filepath.Join(w.LogDir, fmt.Sprintf("server-%d.log", i)))
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, s.stop)
		w.Servers = append(w.Servers, s)
	}
	ok = true
	return w, nil
}

// Server is one running cmd/local/server: one function instance.
type Server struct {
	URL string
	cmd *exec.Cmd
	log string
}

// PID is the server's process id (its CPU time: internal/procstat).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// startServer starts the server binary on a free port with env (and
// nothing else of ours: no emulator variable of this process leaks in),
// in its own process group, killed if this process dies.
func startServer(ctx context.Context, bin string, env []string, logPath string) (*Server, error) {
	ports, err := emulatortest.FreePorts(1)
	if err != nil {
		return nil, SetupError{err}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, SetupError{err}
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
	s := &Server{URL: "http://" + addr, cmd: cmd, log: logPath}
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

func (s *Server) stop() {
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

// SignUp makes an email/password user in the Auth emulator with
// internal/emulatortest's helper, which reports failure through a
// testing.TB: fatalTB turns its Fatalf into an error.
func SignUp(authHost, email string) (uid, idToken string, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(tbFailure)
			if !ok {
				panic(r)
			}
			err = f.err
		}
	}()
	uid, idToken = emulatortest.SignUp(fatalTB{}, authHost, Project, email, "rig-"+RandomHex(8))
	return uid, idToken, nil
}

// fatalTB is the part of testing.TB the sign-up helper uses (Helper,
// Fatalf); any other method would panic on the nil embedded TB.
type fatalTB struct{ testing.TB }

type tbFailure struct{ err error }

func (fatalTB) Helper() {}

func (fatalTB) Fatalf(format string, args ...any) { panic(tbFailure{fmt.Errorf(format, args...)}) }
