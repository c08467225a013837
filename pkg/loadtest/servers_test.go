package loadtest

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// assertGolden compares got with testdata/<TestName>.golden, or rewrites
// it with -update. (pkg/ may not import internal/testenv.)
func assertGolden(t testing.TB, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_")+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file: %v (run go test -run '%s' -update to create it)", err, t.Name())
	}
	if string(want) != string(got) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// latencyServer is a real HTTP server with a known latency distribution:
// every slowEvery-th request (in arrival order) takes slow, the others
// fast. It measures how long each handler really took — time.Sleep
// overshoots — so tests compare the client's numbers with what the server
// actually injected.
type latencyServer struct {
	*httptest.Server
	fast, slow time.Duration
	slowEvery  int64

	n    atomic.Int64
	mu   sync.Mutex
	hist *hdrhistogram.Histogram
}

func newLatencyServer(t testing.TB, fast, slow time.Duration, slowEvery int64) *latencyServer {
	s := &latencyServer{fast: fast, slow: slow, slowEvery: slowEvery, hist: newHistogram()}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := s.fast
		if n := s.n.Add(1); s.slowEvery > 0 && n%s.slowEvery == 0 {
			d = s.slow
		}
		start := time.Now()
		if d > 0 {
			time.Sleep(d)
		}
		took := time.Since(start)
		s.mu.Lock()
		_ = s.hist.RecordValue(micros(took))
		s.mu.Unlock()
		_, _ = w.Write([]byte("ok\n"))
	}))
	t.Cleanup(s.Close)
	return s
}

// quantile is the q-th percentile of the injected latencies.
func (s *latencyServer) quantile(q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Duration(s.hist.ValueAtQuantile(q)) * time.Microsecond
}

// stallServer answers in `work`, except that request number stallAt makes
// the server stall: it and every request arriving in the next `stall`
// wait until the stall is over (a GC pause, a lock, a failover).
type stallServer struct {
	*httptest.Server
	n          atomic.Int64
	mu         sync.Mutex
	stallUntil time.Time
}

func newStallServer(t testing.TB, work, stall time.Duration, stallAt int64) *stallServer {
	s := &stallServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		s.mu.Lock()
		if s.n.Add(1) == stallAt {
			s.stallUntil = now.Add(stall)
		}
		until := s.stallUntil
		s.mu.Unlock()
		if d := until.Sub(now); d > 0 {
			time.Sleep(d)
		}
		time.Sleep(work)
		_, _ = w.Write([]byte("ok\n"))
	}))
	t.Cleanup(s.Close)
	return s
}
