package emulatortest

import (
	"fmt"
	"net"
	"strings"
	"sync"
)

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1, for
// emulators and servers that tests start beside each other.
func FreePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Output collects what a started process prints, on stdout and stderr at
// once, so that a test can read it while the process runs.
type Output struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p; it is safe to call from several goroutines.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
