package delayproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// TestProxyDownAndUp: the proxy forwards both ways; Down cuts an open
// connection and refuses new ones, as a killed server would; Up serves
// again on the same address (the load test's Firestore outage).
func TestProxyDownAndUp(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	p, err := Listen("127.0.0.1:0", echo.Addr().String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addr := p.Addr()

	roundTrip := func(c net.Conn, msg string) error {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg + "\n")); err != nil {
			return err
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && got != msg+"\n" {
			t.Errorf("echo through the proxy: %q, want %q", got, msg)
		}
		return err
	}
	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := roundTrip(open, "before"); err != nil {
		t.Fatalf("before the outage: %v", err)
	}

	p.Down()
	if err := roundTrip(open, "during"); err == nil {
		t.Error("a connection opened before the outage still works during it")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted during the outage")
	}

	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	again, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("after the outage: %v", err)
	}
	defer again.Close()
	if err := roundTrip(again, "after"); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}
