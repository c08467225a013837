package loadtest

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fixedMetrics records a known set of results: 100 "list agents" with
// latencies 1..100 ms (every 25th a 500, one a timeout), and 10 "login"
// at 7 ms.
func fixedMetrics(open bool) *Metrics {
	m := NewMetrics()
	var batch []Result
	for i := 1; i <= 100; i++ {
		lat := time.Duration(i) * time.Millisecond
		r := Result{Name: "list agents", Timestamp: t0.Add(time.Duration(i) * 100 * time.Millisecond), Latency: lat, ServiceTime: lat, Code: 200, BytesIn: 100}
		if open {
			r.ServiceTime = lat - time.Duration(i%10)*100*time.Microsecond
		}
		switch {
		case i%25 == 0:
			r.Code = 500
		case i == 42:
			r.Code, r.Error, r.Err, r.BytesIn = 0, ErrorTimeout, errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout"), 0
		}
		batch = append(batch, r)
	}
	for i := range 10 {
		batch = append(batch, Result{Name: "login", Target: 1, Timestamp: t0.Add(time.Duration(i) * time.Second), Latency: 7 * time.Millisecond, ServiceTime: 7 * time.Millisecond, Code: 200, BytesOut: 40})
	}
	// Record in uneven batches from several goroutines, as workers do.
	var wg sync.WaitGroup
	for i := 0; i < len(batch); i += 16 {
		chunk := batch[i:min(i+16, len(batch))]
		wg.Go(func() { m.Record(chunk) })
	}
	wg.Wait()
	return m
}

func fixedStats(mode Mode) *Stats {
	st := &Stats{
		Mode: mode, Workers: 10, Duration: 10 * time.Second, Timeout: 30 * time.Second, Client: ClientBuiltin,
		Start: t0, End: t0.Add(10 * time.Second), Sent: 110, Window: 10 * time.Second,
		CPU: 550 * time.Millisecond, CPUMeasured: true, GOMAXPROCS: 2,
	}
	if mode == ModeOpen {
		st.Due = 110
	}
	return st
}

func TestNewReport(t *testing.T) {
	t.Parallel()
	rep := NewReport(fixedMetrics(false), fixedStats(ModeClosed))
	s := rep.Summary
	if s.Requests != 110 || s.Failed != 5 || s.Succeeded != 105 {
		t.Errorf("requests %d failed %d succeeded %d", s.Requests, s.Failed, s.Succeeded)
	}
	if s.Errors["http_5xx"] != 4 || s.Errors["timeout"] != 1 || s.StatusCodes["500"] != 4 || s.StatusCodes["200"] != 105 {
		t.Errorf("errors %v, status codes %v", s.Errors, s.StatusCodes)
	}
	if s.Throughput != 11 || s.ErrorRate != 0.045455 {
		t.Errorf("throughput %v, error rate %v", s.Throughput, s.ErrorRate)
	}
	list := rep.ByRequest[0]
	// Percentiles are the highest value of their histogram bucket: never
	// under-reported, and within 0.1% (three significant digits).
	near := func(got, want float64) bool { return got >= want && got <= want*1.001 }
	l := list.Latency
	if list.Name != "list agents" || !near(l.P50, 50) || !near(l.P90, 90) || !near(l.P99, 99) || l.Max != 100 || l.Min != 1 || l.Mean != 50.5 {
		t.Errorf("list agents latency %+v", l)
	}
	if rep.Summary.ServiceTime != nil || rep.Generator.SendLag != nil {
		t.Error("closed-loop report has service time or send lag")
	}
	if rep.Generator.CPUPerRequestUS != 5000 || rep.Generator.CPUUtilization != 0.028 {
		t.Errorf("generator %+v", rep.Generator)
	}
	var buf bytes.Buffer
	if err := (JSONReporter{}).Report(&buf, rep); err != nil {
		t.Fatal(err)
	}
	assertGolden(t, buf.Bytes())

	back, err := ReadReport(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Summary.Latency != rep.Summary.Latency || back.Summary.Requests != rep.Summary.Requests || len(back.ByRequest) != 2 {
		t.Error("report changed in a JSON round trip")
	}
}

func TestNewReportOpenLoop(t *testing.T) {
	t.Parallel()
	st := fixedStats(ModeOpen)
	st.Due, st.Sent = 200, 110 // the generator fell short
	st.CPU = 19 * time.Second  // and was saturated
	rep := NewReport(fixedMetrics(true), st)
	if rep.Summary.ServiceTime == nil || rep.Generator.SendLag == nil || rep.Config.Rate != 20 {
		t.Fatalf("open-loop report: service %v, lag %v, rate %v", rep.Summary.ServiceTime, rep.Generator.SendLag, rep.Config.Rate)
	}
	if rep.Generator.SendLag.Max != 0.9 || rep.Summary.ServiceTime.Max != 100 {
		t.Errorf("send lag %+v, service time %+v", rep.Generator.SendLag, rep.Summary.ServiceTime)
	}
	joined := strings.Join(rep.Warnings, "\n")
	for _, want := range []string{"achieved 11.0 req/s of the 20.0 req/s target (45.0% short)", "used 95% of its 2 CPUs"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q lack %q", rep.Warnings, want)
		}
	}
}

func TestMetricsSnapshotAndQuantile(t *testing.T) {
	t.Parallel()
	m := fixedMetrics(false)
	snap := m.Snapshot()
	if snap.Requests != 110 || snap.Failed != 5 || snap.P95 < 90*time.Millisecond || snap.P95 > 96*time.Millisecond {
		t.Errorf("snapshot %+v", snap)
	}
	if q, ok := m.Quantile("login", 99); !ok || q != 7*time.Millisecond {
		t.Errorf("login p99 = %v, %v", q, ok)
	}
	if _, ok := m.Quantile("nope", 50); ok {
		t.Error("quantile of an unknown name")
	}
	if got := m.Names(); len(got) != 2 || got[0] != "list agents" {
		t.Errorf("names %v", got)
	}
	// Latencies beyond the histogram's range are clamped, not lost.
	m = NewMetrics()
	m.Record([]Result{{Name: "x", Latency: 2 * time.Hour, ServiceTime: -time.Second, Code: 200}})
	if m.Requests() != 1 {
		t.Error("out-of-range latency dropped")
	}
}

func TestReadReportErrors(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"empty":        "  \n",
		"not json":     "hello",
		"no version":   `{"summary":{}}`,
		"newer":        `{"schema_version": 99}`,
		"negative":     `{"schema_version": 1, "summary": {"throughput_rps": -1}}`,
		"inconsistent": `{"schema_version": 1, "summary": {"requests": 1, "failed": 2}}`,
		"wrong type":   `{"schema_version": "1"}`,
	} {
		if _, err := ReadReport(strings.NewReader(in)); !errors.Is(err, ErrBadReport) {
			t.Errorf("%s: err = %v, want ErrBadReport", name, err)
		}
	}
}

func FuzzReadReport(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"summary":{"requests":10,"latency":{"p50_ms":1}}}`))
	f.Add([]byte(`{"schema_version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := ReadReport(bytes.NewReader(data))
		if (err == nil) == (rep == nil) {
			t.Fatalf("report %v with error %v", rep, err)
		}
		if err == nil {
			// Anything accepted can be compared without trouble.
			_ = Compare(rep, rep, 0.1)
		}
	})
}

func TestErrorSamplesCarryNoSecrets(t *testing.T) {
	t.Parallel()
	// Samples are transport errors: addresses, never request contents.
	m := NewMetrics()
	m.Record([]Result{{Name: "x", Error: ErrorConnectionRefused, Err: syscall.ECONNREFUSED}})
	rep := NewReport(m, fixedStats(ModeClosed))
	if rep.Summary.ErrorSamples["connection_refused"] != "connection refused" {
		t.Errorf("samples %v", rep.Summary.ErrorSamples)
	}
}

func TestFailureWarning(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	batch := make([]Result, 10)
	for i := range batch {
		batch[i] = Result{Name: "x", Latency: time.Millisecond, Code: 429}
	}
	batch[0].Code = 200
	m.Record(batch)
	rep := NewReport(m, fixedStats(ModeClosed))
	want := "90.00% of requests failed: the latencies describe the failures, not the service; most were 429 Too Many Requests, so the server's rate limit is what was measured"
	if len(rep.Warnings) != 1 || rep.Warnings[0] != want {
		t.Errorf("warnings %q", rep.Warnings)
	}
}
