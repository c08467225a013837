package state

import (
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	RunSuite(t, func(t *testing.T) Backend {
		clock := newFakeClock()
		m := NewMemory(clock.Now)
		t.Cleanup(func() { _ = m.Close() })
		return Backend{
			Replicas: []Store{m, m, m},
			Now:      clock.Now,
			Advance:  clock.Advance,
			Short:    time.Minute,
		}
	})
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		remaining, want time.Duration
	}{
		{-time.Second, time.Second},
		{0, time.Second},
		{time.Millisecond, time.Second},
		{999 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{time.Second + time.Millisecond, 2 * time.Second},
		{29500 * time.Millisecond, 30 * time.Second},
		{time.Minute, time.Minute},
	} {
		if got := retryAfter(tc.remaining); got != tc.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tc.remaining, got, tc.want)
		}
	}
}

// TestMemoryRetryAfterRounding follows one window with a fake clock.
func TestMemoryRetryAfterRounding(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	t.Cleanup(func() { _ = m.Close() })
	allow := func() Decision {
		t.Helper()
		d, err := m.Allow(t.Context(), "rate_limit:10.0.0.1", 1, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := allow(); !d.Allowed {
		t.Fatalf("first call denied: %+v", d)
	}
	for _, step := range []struct {
		advance time.Duration
		want    time.Duration
	}{
		{0, time.Minute},
		{30200 * time.Millisecond, 30 * time.Second}, // 29.8s left
		{29 * time.Second, time.Second},              // 0.8s left
		{799 * time.Millisecond, time.Second},        // 1ms left
	} {
		clock.Advance(step.advance)
		if d := allow(); d.Allowed || d.RetryAfter != step.want {
			t.Fatalf("after %v more: %+v, want denied with RetryAfter %v", step.advance, d, step.want)
		}
	}
	clock.Advance(time.Millisecond) // the window ends
	if d := allow(); !d.Allowed || d.Count != 1 {
		t.Fatalf("new window: %+v, want allowed with count 1", d)
	}
}

// TestMemorySweep checks that expired entries go even when nobody touches
// them again, and live ones stay.
func TestMemorySweep(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := NewMemory(clock.Now)
	t.Cleanup(func() { _ = m.Close() })
	ctx := t.Context()
	for i := range 100 {
		if _, err := m.Allow(ctx, "rate_limit:"+string(rune('a'+i%26))+string(rune('0'+i/26)), 5, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	short := Refresh{Family: "f", Expires: clock.Now().Add(time.Minute)}
	long := Refresh{Family: "g", Expires: clock.Now().Add(time.Hour)}
	for _, err := range []error{
		m.SaveRefresh(ctx, "short", short),
		m.SaveRefresh(ctx, "long", long),
		m.RevokeFamily(ctx, "f", time.Minute),
		m.RevokeToken(ctx, "j1", time.Minute),
		m.RevokeToken(ctx, "j2", time.Hour),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := m.len(); n != 105 {
		t.Fatalf("%d entries, want 105", n)
	}
	clock.Advance(time.Minute)
	m.sweep()
	if n := m.len(); n != 2 {
		t.Fatalf("after the sweep: %d entries, want 2 (the hour-long token and revocation)", n)
	}
	clock.Advance(time.Hour)
	m.sweep()
	if n := m.len(); n != 0 {
		t.Fatalf("after the second sweep: %d entries, want 0", n)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory(nil)
	b.Cleanup(func() { _ = m.Close() })
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Allow(b.Context(), "rate_limit:bench", 1<<30, time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allows/s")
}
