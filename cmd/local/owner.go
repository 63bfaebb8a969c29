package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownsPort reports whether a process of the process group pgid listens on
// TCP port: on Linux from /proc, elsewhere from lsof. Where neither can
// tell, it trusts the port (true).
func ownsPort(pgid, port int) (bool, error) {
	inodes, err := listenInodes(port)
	if err == nil {
		return groupHoldsSocket(pgid, inodes)
	}
	if _, lerr := exec.LookPath("lsof"); lerr != nil {
		return true, nil
	}
	out, err := exec.Command("lsof", "-nP", fmt.Sprintf("-iTCP:%d", port), "-sTCP:LISTEN", "-t").Output()
	if err != nil && len(out) == 0 {
		return false, nil // lsof exits 1 when nothing matches
	}
	for _, f := range strings.Fields(string(out)) {
		pid, _ := strconv.Atoi(f)
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			return true, nil
		}
	}
	return false, nil
}

// listenInodes returns the socket inodes listening on port, from
// /proc/net/tcp and tcp6.
func listenInodes(port int) (map[string]bool, error) {
	inodes := map[string]bool{}
	found := false
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		found = true
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if p, err := strconv.ParseInt(fields[1][i+1:], 16, 32); err == nil && int(p) == port {
				inodes[fields[9]] = true
			}
		}
		f.Close()
	}
	if !found {
		return nil, fmt.Errorf("no /proc/net/tcp")
	}
	return inodes, nil
}

// groupHoldsSocket reports whether a process of group pgid has one of the
// socket inodes open.
func groupHoldsSocket(pgid int, inodes map[string]bool) (bool, error) {
	if len(inodes) == 0 {
		return false, nil
	}
	pids, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return false, err
	}
	for _, dir := range pids {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(ino, "]")] {
				return true, nil
			}
		}
	}
	return false, nil
}
