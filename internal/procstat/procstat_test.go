package procstat

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestCPUTime spins until /proc says this process used 200 ms more CPU
// (within 20 s of wall time, however busy the machine): the reading must
// grow by that, and stay plausible.
func TestCPUTime(t *testing.T) {
	before, ok := CPUTime(os.Getpid())
	if !ok {
		t.Fatal("no CPU time for this process")
	}
	var now time.Duration
	for giveUp := time.Now().Add(20 * time.Second); time.Now().Before(giveUp); {
		for n := 0; n < 1e6; n++ {
			_ = n * n
		}
		if now, _ = CPUTime(os.Getpid()); now-before >= 200*time.Millisecond {
			break
		}
	}
	if used := now - before; used < 200*time.Millisecond || used > time.Minute {
		t.Errorf("spun for 200 ms of CPU, /proc says %v", used)
	}
}

func TestUnknownProcess(t *testing.T) {
	for _, pid := range []int{0, -1, 1 << 30} {
		if _, ok := CPUTime(pid); ok {
			t.Errorf("pid %d has a CPU time", pid)
		}
		if kib := PeakRSS(pid); kib != 0 {
			t.Errorf("pid %d has a peak RSS of %d KiB", pid, kib)
		}
	}
}

func TestPeakRSSAndLoadAvg(t *testing.T) {
	if kib := PeakRSS(os.Getpid()); kib < 1024 || kib > 4<<20 {
		t.Errorf("this process's peak RSS: %d KiB", kib)
	}
	if f := strings.Fields(LoadAvg()); len(f) != 3 {
		t.Errorf("load average %q, want three figures", LoadAvg())
	}
}
