package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// SchemaVersion is the version of the [Report] JSON format. Fields are only
// ever added within a version; a report with a higher version is refused
// by [ReadReport].
const SchemaVersion = 1

// Report is the result of a load test, and its JSON form is the report
// file format (documented in docs/loadtest.md): what `tarsctl loadtest run
// --output-json` writes and what --baseline and `loadtest compare` read.
// Durations are in milliseconds, rates in requests per second, and error
// rates are fractions from 0 to 1.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Tool          string    `json:"tool,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	EndedAt       time.Time `json:"ended_at"`
	// DurationSeconds is the attack's length, from its start to the end
	// of the last response.
	DurationSeconds float64 `json:"duration_seconds"`
	// Interrupted is true when the run was stopped early (Ctrl-C); the
	// report then covers what ran.
	Interrupted bool   `json:"interrupted"`
	Config      Config `json:"config"`
	// Summary covers every request; ByRequest each request name, sorted.
	Summary   RequestStats   `json:"summary"`
	ByRequest []RequestStats `json:"by_request"`
	Generator Generator      `json:"generator"`
	// Warnings say when the numbers may describe the load generator
	// rather than the server.
	Warnings []string `json:"warnings"`
	// Thresholds and Baseline are the verdicts, when any were asked for.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
	Baseline   *BaselineResult   `json:"baseline,omitempty"`
}

// Config is what the load test was asked to do.
type Config struct {
	URL      string `json:"url,omitempty"`
	Scenario string `json:"scenario,omitempty"`
	Mode     Mode   `json:"mode"`
	// Concurrency is the number of users (closed loop) or connections
	// (open loop).
	Concurrency     int     `json:"concurrency"`
	Rate            float64 `json:"rate_rps,omitempty"`
	SpawnRate       float64 `json:"spawn_rate,omitempty"`
	ThinkTimeMS     float64 `json:"think_time_ms,omitempty"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	MaxRequests     uint64  `json:"max_requests,omitempty"`
	TimeoutSeconds  float64 `json:"timeout_seconds"`
	Client          string  `json:"client"`
}

// RequestStats summarises a group of requests: all of them, or those of
// one name.
type RequestStats struct {
	Name      string `json:"name,omitempty"`
	Requests  int64  `json:"requests"`
	Succeeded int64  `json:"succeeded"`
	// Failed counts transport errors and responses with status 400 or
	// above; ErrorRate is Failed/Requests.
	Failed     int64   `json:"failed"`
	ErrorRate  float64 `json:"error_rate"`
	Throughput float64 `json:"throughput_rps"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	// Latency is measured from each request's intended send time.
	Latency LatencySummary `json:"latency"`
	// ServiceTime is measured from the actual send; open-loop only.
	ServiceTime *LatencySummary `json:"service_time,omitempty"`
	// StatusCodes counts responses by status code.
	StatusCodes map[string]int64 `json:"status_codes"`
	// Errors counts failures by kind: the [ErrorKind] names, plus
	// http_4xx and http_5xx for error statuses. They add up to Failed.
	Errors map[string]int64 `json:"errors"`
	// ErrorSamples holds the first message of each transport error kind.
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
}

// LatencySummary is a latency distribution in milliseconds.
type LatencySummary struct {
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// Generator describes the load generator's own side of the run.
type Generator struct {
	// TargetRate is the open-loop rate asked for; SendRate the rate
	// requests were started at; ShortfallPercent how far short of the
	// target that was, when it was flagged.
	TargetRate       float64 `json:"target_rate_rps,omitempty"`
	SendRate         float64 `json:"send_rate_rps"`
	ShortfallPercent float64 `json:"shortfall_percent,omitempty"`
	// SendLag is how late requests left after their intended time
	// (open loop): waiting for a free connection, or for CPU.
	SendLag *LatencySummary `json:"send_lag,omitempty"`
	// CPUSeconds is the process's CPU time during the run,
	// CPUUtilization that as a share of the GOMAXPROCS CPUs it could use,
	// and CPUPerRequestUS that per request sent, in microseconds.
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUUtilization  float64 `json:"cpu_utilization"`
	CPUPerRequestUS float64 `json:"cpu_per_request_us"`
	CPUNotMeasured  bool    `json:"cpu_not_measured,omitempty"`
	GOMAXPROCS      int     `json:"gomaxprocs"`
	// AbortedRequests were in flight when the run was interrupted; they
	// are not counted anywhere else.
	AbortedRequests uint64 `json:"aborted_requests,omitempty"`
}

// Thresholds for the generator warnings.
const (
	// ShortfallWarning: an open-loop attack that sent less than this share
	// of what was due is flagged.
	ShortfallWarning = 0.95
	// CPUWarning: a generator using more than this share of its CPUs is
	// flagged as a possible bottleneck.
	CPUWarning = 0.8
	// SendLagWarning: an open-loop p99 send lag above this is flagged.
	SendLagWarning = 10 * time.Millisecond
	// FailureWarning: an error rate above this is flagged.
	FailureWarning = 0.5
)

// NewReport builds the report of an attack from its recorded metrics and
// its stats. Tool, Config.URL and Config.Scenario are left for the caller.
func NewReport(m *Metrics, st *Stats) *Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	dur := st.End.Sub(st.Start)
	seconds := dur.Seconds()
	open := st.Mode == ModeOpen
	r := &Report{
		SchemaVersion:   SchemaVersion,
		StartedAt:       st.Start.UTC().Round(time.Millisecond),
		EndedAt:         st.End.UTC().Round(time.Millisecond),
		DurationSeconds: round3(seconds),
		Interrupted:     st.Interrupted,
		Config: Config{
			Mode:            st.Mode,
			Concurrency:     st.Workers,
			SpawnRate:       st.SpawnRate,
			ThinkTimeMS:     ms(st.ThinkTime),
			DurationSeconds: round3(st.Duration.Seconds()),
			MaxRequests:     st.MaxRequests,
			TimeoutSeconds:  round3(st.Timeout.Seconds()),
			Client:          st.Client,
		},
		Summary:   m.total.stats("", seconds, open),
		ByRequest: []RequestStats{},
		Warnings:  []string{},
	}
	if open {
		r.Config.Rate = round3(st.TargetRate())
	}
	names := make([]string, 0, len(m.byName))
	for n := range m.byName {
		names = append(names, n)
	}
	sortStrings(names)
	for _, n := range names {
		r.ByRequest = append(r.ByRequest, m.byName[n].stats(n, seconds, open))
	}
	g := &r.Generator
	g.SendRate = round3(st.SendRate())
	g.GOMAXPROCS = st.GOMAXPROCS
	g.AbortedRequests = st.Aborted
	if open {
		g.TargetRate = r.Config.Rate
		lag := m.sendLagSummary()
		g.SendLag = &lag
	}
	if st.CPUMeasured {
		g.CPUSeconds = round3(st.CPU.Seconds())
		g.CPUUtilization = round3(st.CPUUtilization())
		if st.Sent > 0 {
			g.CPUPerRequestUS = round3(float64(st.CPU) / float64(time.Microsecond) / float64(st.Sent))
		}
	} else {
		g.CPUNotMeasured = true
	}
	r.Warnings = warnings(r, st)
	return r
}

func (m *Metrics) sendLagSummary() LatencySummary {
	h := m.sendLag
	n := h.TotalCount()
	if n == 0 {
		return LatencySummary{}
	}
	// The lag histogram is only for percentiles: its min, mean and max
	// come from the histogram too, to within its precision.
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return summarise(h, n, time.Duration(h.Mean()*float64(n))*time.Microsecond, us(h.Min()), us(h.Max()))
}

// warnings explains when the numbers may describe the generator rather
// than the server.
func warnings(r *Report, st *Stats) []string {
	w := []string{}
	if st.Interrupted {
		w = append(w, fmt.Sprintf("the run was interrupted after %s: the report covers only what ran", fmtSeconds(r.DurationSeconds)))
	}
	if st.Mode == ModeOpen && st.Due > 0 {
		short := 1 - float64(st.Sent)/float64(st.Due)
		if float64(st.Sent) < ShortfallWarning*float64(st.Due) && st.Due-st.Sent > 1 && !st.Interrupted {
			r.Generator.ShortfallPercent = round3(short * 100)
			w = append(w, fmt.Sprintf(
				"achieved %s req/s of the %s req/s target (%.1f%% short): the load generator, not the server, may be the bottleneck; raise --concurrency if all %d connections were busy, or spread the load over more machines",
				fmtNumber(r.Generator.SendRate), fmtNumber(r.Generator.TargetRate), short*100, st.Workers))
		}
	}
	if lag := r.Generator.SendLag; lag != nil && lag.P99 > ms(SendLagWarning) {
		w = append(w, fmt.Sprintf(
			"requests left late: p99 %s after their intended send time, waiting for a free connection or for CPU; latency includes that wait, service time does not",
			FormatMS(lag.P99)))
	}
	// CPU time is counted in scheduler ticks: over less than a second the
	// share is too coarse to warn on.
	if u := r.Generator.CPUUtilization; u > CPUWarning && st.End.Sub(st.Start) >= time.Second {
		w = append(w, fmt.Sprintf(
			"the load generator used %.0f%% of its %d CPUs: it may be the bottleneck, and the server may be faster than measured",
			u*100, st.GOMAXPROCS))
	}
	if s := &r.Summary; s.Requests > 0 && s.ErrorRate > FailureWarning {
		msg := fmt.Sprintf("%s of requests failed: the latencies describe the failures, not the service", FormatPercent(s.ErrorRate))
		if n := s.StatusCodes["429"]; n*2 > s.Failed {
			msg += "; most were 429 Too Many Requests, so the server's rate limit is what was measured"
		}
		w = append(w, msg)
	}
	if r.Summary.Requests == 0 && !st.Interrupted {
		w = append(w, "no request completed")
	}
	return w
}

// ErrBadReport is wrapped by [ReadReport]'s errors for input that is not a
// report this version understands.
var ErrBadReport = errors.New("not a load-test report")

// maxReportSize caps what [ReadReport] reads: a report is a few kilobytes.
const maxReportSize = 16 << 20

// ReadReport parses a JSON report, as written by [JSONReporter]: a
// baseline, or either side of a comparison.
func ReadReport(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxReportSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxReportSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrBadReport, maxReportSize>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadReport)
	}
	var rep Report
	if err := json.Unmarshal(data, &rep); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w: invalid JSON at byte %d: %v", ErrBadReport, se.Offset, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
	}
	switch {
	case rep.SchemaVersion == 0:
		return nil, fmt.Errorf("%w: no schema_version", ErrBadReport)
	case rep.SchemaVersion > SchemaVersion:
		return nil, fmt.Errorf("%w: schema_version %d is newer than this tool understands (%d)", ErrBadReport, rep.SchemaVersion, SchemaVersion)
	case rep.SchemaVersion < 0:
		return nil, fmt.Errorf("%w: schema_version %d", ErrBadReport, rep.SchemaVersion)
	}
	s := &rep.Summary
	for _, v := range []float64{s.ErrorRate, s.Throughput, s.Latency.P50, s.Latency.P95, s.Latency.P99} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%w: negative or invalid summary value", ErrBadReport)
		}
	}
	if s.Requests < 0 || s.Failed < 0 || s.Failed > s.Requests || s.ErrorRate > 1 {
		return nil, fmt.Errorf("%w: inconsistent request counts", ErrBadReport)
	}
	return &rep, nil
}
