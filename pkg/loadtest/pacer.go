package loadtest

import (
	"fmt"
	"math"
	"time"
)

// A Pacer schedules an open-loop attack: requests are due at fixed times,
// whether or not earlier ones have been answered.
//
// Due returns when request n (0, 1, 2, ...) is due, as an offset from the
// start of the attack, and false when the pacer has no request n. Due must
// be non-decreasing in n and safe for concurrent use: every worker calls
// it for the requests it claims.
type Pacer interface {
	Due(n uint64) (time.Duration, bool)
}

// ConstantPacer sends Rate requests per second, evenly spaced.
type ConstantPacer struct {
	Rate float64 // requests per second; must be positive
}

var _ Pacer = ConstantPacer{}

// Due implements [Pacer]: request n is due at n/Rate seconds.
func (p ConstantPacer) Due(n uint64) (time.Duration, bool) {
	if !(p.Rate > 0) {
		return 0, false
	}
	d := float64(n) * float64(time.Second) / p.Rate
	if d >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(d), true
}

// String describes the pacer: "200 req/s".
func (p ConstantPacer) String() string { return fmt.Sprintf("%g req/s", p.Rate) }

// dueBy returns how many requests p has due strictly before elapsed: the
// number an on-time attack would have sent by then.
func dueBy(p Pacer, elapsed time.Duration) uint64 {
	if cp, ok := p.(ConstantPacer); ok && cp.Rate > 0 {
		n := math.Ceil(elapsed.Seconds() * cp.Rate)
		// Guard the float rounding at the boundary: request n is due at
		// exactly elapsed only when elapsed is a multiple of the interval.
		for n > 0 {
			if d, ok := cp.Due(uint64(n - 1)); ok && d < elapsed {
				break
			}
			n--
		}
		for {
			if d, ok := cp.Due(uint64(n)); !ok || d >= elapsed {
				break
			}
			n++
		}
		return uint64(n)
	}
	// Any other pacer: binary search on Due, which is non-decreasing.
	lo, hi := uint64(0), uint64(1)
	for {
		d, ok := p.Due(hi)
		if !ok || d >= elapsed || hi >= 1<<62 {
			break
		}
		lo, hi = hi, hi*2
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if d, ok := p.Due(mid); ok && d < elapsed {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
