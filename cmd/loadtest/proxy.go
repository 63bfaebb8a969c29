package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// proxy forwards TCP connections from its address to the emulator, and
// can go down as a killed emulator does for its clients: every open
// connection is cut and new ones are refused, until it comes up again on
// the same address. Killing the emulator itself would lose every document
// it holds (it keeps them in memory), which real Firestore never does when
// it cannot be reached, and the run could no longer check that nothing
// was lost.
type proxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener // nil while down
	conns map[net.Conn]struct{}
}

// startProxy listens on addr and forwards to target.
func startProxy(addr, target string) (*proxy, error) {
	p := &proxy{addr: addr, target: target, conns: map[net.Conn]struct{}{}}
	if err := p.up(); err != nil {
		return nil, err
	}
	return p, nil
}

// up listens again. The address was just released by down, so it is free
// unless another program took it meanwhile.
func (p *proxy) up() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("proxy to the emulator: %w", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.accept(ln)
	return nil
}

// down stops listening and cuts every connection, both ways.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by down
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		return // went down meanwhile
	}
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, err := io.Copy(dst, src) // splice(2) between TCP sockets on Linux
		if err != nil && !errors.Is(err, net.ErrClosed) {
			_ = src.Close()
		}
		// Pass the half-close on; the other direction may still be busy.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(server, client)
	go pipe(client, server)
	wg.Wait()
	p.untrack(client, server)
}

func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
		delete(p.conns, c)
	}
}
