package main

import "syscall"

// procAttr puts a child in its own process group (a Ctrl-C reaches only
// cmd/local, which stops the children in order) and has the kernel kill it
// if cmd/local dies without cleaning up (SIGKILL, a crash).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
