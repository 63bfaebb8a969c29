package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/<pid>/stat's CPU times: USER_HZ, which Linux
// fixes at 100 for user space whatever the kernel's tick.
const userHZ = 100

// procCPU returns the CPU time (user + system, all threads) that process
// pid has used so far, from /proc; ok is false where that cannot be read
// (not Linux, or the process is gone).
func procCPU(pid int) (d time.Duration, ok bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count fields after its closing one. utime and stime are fields 14
	// and 15, so the 12th and 13th after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * time.Second / userHZ, true
}

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
		m.start[i], m.ok[i] = procCPU(pid)
	}
	return m
}

func (m *cpuMeter) stop() cpuUse {
	var used [3]time.Duration
	for i, pid := range m.pids {
		if end, ok := procCPU(pid); ok && m.ok[i] {
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

// peakRSS returns process pid's peak resident set (VmHWM) in KiB, or 0
// where /proc cannot tell.
func peakRSS(pid int) int {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int
			_, _ = fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kib)
			return kib
		}
	}
	return 0
}
