package emulatortest

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestScratchStop(t *testing.T) {
	h, stop, err := StartAuth()
	if err != nil {
		t.Fatal(err)
	}
	os.Setenv(AuthEmulatorHostEnv, h)
	t0 := time.Now()
	stop()
	t.Logf("stop took %s", time.Since(t0))
	if authReady(context.Background(), h) == nil {
		t.Fatal("still answering")
	}
	if v, ok := os.LookupEnv(AuthEmulatorHostEnv); ok {
		t.Fatalf("env still %q", v)
	}
	h2, stop2, err := StartAuth()
	if err != nil || h2 == h {
		t.Fatal(err, h2)
	}
	// external reuse
	os.Setenv(AuthEmulatorHostEnv, h2)
	authEmu.host, authEmu.proc = "", nil
	p := authEmu.proc
	_ = p
	t.Log(h2)
	_ = stop2
}
