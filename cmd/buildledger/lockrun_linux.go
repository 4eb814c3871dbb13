package main

import "syscall"

// childAttrs makes the command get SIGTERM when run dies (even by SIGKILL): a command whose
// runner is gone no longer renews the lease, and must not go on after it runs out.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
