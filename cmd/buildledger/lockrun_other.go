//go:build !linux

package main

import "syscall"

// childAttrs: only Linux tells a child that its parent died.
func childAttrs() *syscall.SysProcAttr { return nil }
