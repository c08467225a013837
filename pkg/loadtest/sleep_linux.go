package loadtest

import (
	"syscall"
	"time"
)

// preciseSleep blocks the calling thread in nanosleep. It is only used for
// the final millisecond of a wait, so few threads are ever parked in it.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var left syscall.Timespec
		if err := syscall.Nanosleep(&ts, &left); err != syscall.EINTR {
			return
		}
		ts = left
	}
}
