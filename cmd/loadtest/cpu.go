package main

import (
	"fmt"
	"os"
	"time"

	"github.com/telemed/videocalls/internal/procstat"
)

// cpuMeter records the CPU time the emulator, the server and this program
// spend in one phase, so that the report can say where a phase's time
// went: on a machine of few cores they all share, the emulator's CPU per
// write is what bounds every rate here.
type cpuMeter struct {
	pids  [3]int // emulator, server, self
	start [3]time.Duration
	ok    [3]bool
}

// cpuUse is the CPU time each process spent in a phase; a zero value
// means unknown.
type cpuUse struct{ emulator, server, self time.Duration }

func startCPU(emulatorPid, serverPid int) *cpuMeter {
	m := &cpuMeter{pids: [3]int{emulatorPid, serverPid, os.Getpid()}}
	for i, pid := range m.pids {
		m.start[i], m.ok[i] = procstat.CPUTime(pid)
	}
	return m
}

func (m *cpuMeter) stop() cpuUse {
	var used [3]time.Duration
	for i, pid := range m.pids {
		if end, ok := procstat.CPUTime(pid); ok && m.ok[i] {
			used[i] = end - m.start[i]
		}
	}
	return cpuUse{emulator: used[0], server: used[1], self: used[2]}
}

// per formats d divided among n items as milliseconds, or "?".
func per(d time.Duration, n int) string {
	if d <= 0 || n <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f ms", d.Seconds()*1000/float64(n))
}
