//go:build !linux

package main

import "syscall"

// procAttr puts a child in its own process group, so that a Ctrl-C reaches
// only cmd/local, which stops the children in order.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
