package loadtest

import (
	"context"
	"time"
)

// Go's timers wake a goroutine up to a millisecond late when the process is
// otherwise idle: the runtime waits for the next timer in epoll with a
// millisecond timeout. At a few hundred requests per second that lateness
// would be most of what we measure against a fast server, so the last
// stretch of a wait goes through preciseSleep (nanosleep on Linux), which
// is accurate to tens of microseconds.
const (
	coarseSlack  = time.Millisecond      // wake this early from a timer, then finish precisely
	preciseFloor = 20 * time.Microsecond // shorter waits are not worth a system call
)

// sleepUntil waits until t, or until ctx is done. It reports whether t was
// reached. timer is the caller's own, reused across calls.
func sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d > coarseSlack+coarseSlack/2 {
		timer.Reset(d - coarseSlack)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return false
		}
		d = time.Until(t)
	}
	if d > preciseFloor {
		preciseSleep(d)
	}
	return ctx.Err() == nil
}
