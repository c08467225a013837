//go:build !linux

package backup

import "syscall"

// childAttr: only Linux can tie a child's life to its parent's; elsewhere a
// child notices when its output pipe closes.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
