package emulatortest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FakeGCSServerVersion is the fake-gcs-server (github.com/fsouza/fake-gcs-server)
// that scripts/test installs into the checkout's .bin: a Cloud Storage
// emulator the Go client reaches through STORAGE_EMULATOR_HOST.
const FakeGCSServerVersion = "v1.56.1"

// StorageEmulatorHostEnv is what the storage client reads to reach an
// emulator instead of Cloud Storage.
const StorageEmulatorHostEnv = "STORAGE_EMULATOR_HOST"

// StorageEmulator is a running fake-gcs-server started here, or the one
// STORAGE_EMULATOR_HOST named before the tests began.
type StorageEmulator struct {
	// Host is host:port, as STORAGE_EMULATOR_HOST wants it.
	Host string
	cmd  *exec.Cmd
}

var (
	gcsOnce sync.Once
	gcsEmu  *StorageEmulator
	gcsErr  error
)

// Storage returns the shared storage emulator's host, starting it on first
// use, and sets STORAGE_EMULATOR_HOST. It fails the test when the emulator
// cannot start (fake-gcs-server not installed: scripts/test installs it);
// with -short it skips the test without trying. Call StopStorage from
// TestMain (Main does) to stop what was started.
func Storage(tb testing.TB) string {
	tb.Helper()
	skipIfShort(tb, "Cloud Storage emulator (fake-gcs-server)")
	gcsOnce.Do(func() {
		gcsEmu, gcsErr = startStorage()
		if gcsErr == nil {
			gcsErr = os.Setenv(StorageEmulatorHostEnv, gcsEmu.Host)
		}
	})
	if gcsErr != nil {
		tb.Fatalf("Cloud Storage emulator unavailable: %v", gcsErr)
	}
	return gcsEmu.Host
}

// StopStorage stops the emulator this process started; a no-op otherwise.
func StopStorage() {
	if gcsEmu == nil || gcsEmu.cmd == nil || gcsEmu.cmd.Process == nil {
		return
	}
	pid := gcsEmu.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = gcsEmu.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}

// FakeGCSServer finds the emulator's binary: $FAKE_GCS_SERVER, else .bin/
// at the module's root (where scripts/test installs it), else PATH.
func FakeGCSServer() (string, error) {
	if p := os.Getenv("FAKE_GCS_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("FAKE_GCS_SERVER=%s: %w", p, err)
		}
		return p, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p := filepath.Join(dir, ".bin", "fake-gcs-server")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
	}
	if p, err := exec.LookPath("fake-gcs-server"); err == nil {
		return p, nil
	}
	return "", errors.New("fake-gcs-server is not installed: run scripts/test (it installs it into .bin/), or " +
		"GOBIN=$PWD/.bin go install github.com/fsouza/fake-gcs-server@" + FakeGCSServerVersion)
}

func startStorage() (*StorageEmulator, error) {
	if host := os.Getenv(StorageEmulatorHostEnv); host != "" {
		if err := storageReady(host, 5*time.Second); err != nil {
			return nil, fmt.Errorf("%s=%s does not answer: %w", StorageEmulatorHostEnv, host, err)
		}
		return &StorageEmulator{Host: host}, nil
	}
	bin, err := FakeGCSServer()
	if err != nil {
		return nil, err
	}
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(ports[0])
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(ports[0]),
		"-backend", "memory", "-public-host", host, "-log-level", "warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &limitedWriter{n: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	emu := &StorageEmulator{Host: host, cmd: cmd}
	if err := storageReady(host, 30*time.Second); err != nil {
		gcsEmu = emu
		StopStorage()
		gcsEmu = nil
		return nil, fmt.Errorf("fake-gcs-server on %s not ready: %w; output: %s", host, err, out.String())
	}
	return emu, nil
}

// storageReady polls the JSON API's bucket list until it answers 200.
func storageReady(host string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/storage/v1/b?project=emulatortest", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
