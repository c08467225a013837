package loadtest

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Recorder receives an attack's results.
//
// Record is called from every worker at once, with a batch of results each
// time. It must not keep batch, whose array the worker reuses, and it
// should return quickly: the worker waits for it. [*Metrics] is the
// Recorder reports are built from; write your own to keep raw results.
type Recorder interface {
	Record(batch []Result)
}

// Histogram bounds. Latencies are recorded in microseconds with three
// significant digits (a 5 ms latency is known to within 4 µs), up to an
// hour; longer ones are recorded as an hour.
const (
	histMin    = 1
	histMax    = int64(time.Hour / time.Microsecond)
	histDigits = 3
)

// Metrics aggregates results: latency and service-time HDR histograms,
// overall and per request name, with status-code and error counts. Its
// memory does not grow with the number of requests, so an attack of any
// length can be recorded. Metrics is safe for concurrent use; the zero
// value is not ready, use [NewMetrics].
type Metrics struct {
	mu      sync.Mutex
	total   *series
	byName  map[string]*series
	sendLag *hdrhistogram.Histogram
	first   time.Time // earliest Timestamp
	last    time.Time // latest end of a response
}

var _ Recorder = (*Metrics)(nil)

// NewMetrics returns empty Metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		total:   newSeries(),
		byName:  map[string]*series{},
		sendLag: newHistogram(),
	}
}

// series is what Metrics keeps for one group of results.
type series struct {
	latency, service *hdrhistogram.Histogram
	count, failed    int64
	latSum, svcSum   time.Duration
	latMin, latMax   time.Duration
	svcMin, svcMax   time.Duration
	bytesIn          int64
	bytesOut         int64
	codes            map[int]int64
	kinds            [numErrorKinds]int64
	http4xx, http5xx int64
	samples          [numErrorKinds]string // the first error message of each kind
}

func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histDigits) }

func newSeries() *series {
	return &series{
		latency: newHistogram(),
		service: newHistogram(),
		codes:   map[int]int64{},
		latMin:  math.MaxInt64,
		svcMin:  math.MaxInt64,
	}
}

func micros(d time.Duration) int64 {
	us := int64(d / time.Microsecond)
	switch {
	case us < 0:
		return 0
	case us > histMax:
		return histMax
	default:
		return us
	}
}

func (s *series) add(r *Result) {
	s.count++
	if r.Failed() {
		s.failed++
	}
	_ = s.latency.RecordValue(micros(r.Latency))
	_ = s.service.RecordValue(micros(r.ServiceTime))
	s.latSum += r.Latency
	s.svcSum += r.ServiceTime
	s.latMin, s.latMax = min(s.latMin, r.Latency), max(s.latMax, r.Latency)
	s.svcMin, s.svcMax = min(s.svcMin, r.ServiceTime), max(s.svcMax, r.ServiceTime)
	s.bytesIn += r.BytesIn
	s.bytesOut += r.BytesOut
	switch {
	case r.Error != ErrorNone:
		k := min(r.Error, ErrorOther)
		s.kinds[k]++
		if s.samples[k] == "" && r.Err != nil {
			s.samples[k] = r.Err.Error()
		}
	case r.Code >= 500:
		s.http5xx++
	case r.Code >= 400:
		s.http4xx++
	}
	if r.Code > 0 {
		s.codes[r.Code]++
	}
}

// Record implements [Recorder].
func (m *Metrics) Record(batch []Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		name string
		s    *series
	)
	for i := range batch {
		r := &batch[i]
		if s == nil || r.Name != name {
			name, s = r.Name, m.byName[r.Name]
			if s == nil {
				s = newSeries()
				m.byName[name] = s
			}
		}
		s.add(r)
		m.total.add(r)
		_ = m.sendLag.RecordValue(micros(r.Latency - r.ServiceTime))
		if m.first.IsZero() || r.Timestamp.Before(m.first) {
			m.first = r.Timestamp
		}
		if end := r.Timestamp.Add(r.Latency); end.After(m.last) {
			m.last = end
		}
	}
}

// Snapshot is a cheap summary of what has been recorded so far, for live
// progress.
type Snapshot struct {
	Requests int64
	Failed   int64
	P95      time.Duration // of latency
}

// Snapshot returns the counts and the 95th percentile latency recorded so
// far. It may be called while an attack runs.
func (m *Metrics) Snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Snapshot{
		Requests: m.total.count,
		Failed:   m.total.failed,
		P95:      time.Duration(m.total.latency.ValueAtQuantile(95)) * time.Microsecond,
	}
}

// Requests returns how many results have been recorded.
func (m *Metrics) Requests() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total.count
}

// Names returns the request names recorded, sorted.
func (m *Metrics) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.byName))
	for n := range m.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Quantile returns the q-th percentile (0 to 100) of latency, of every
// request when name is "" and of the requests named name otherwise; false
// when there is no such request.
func (m *Metrics) Quantile(name string, q float64) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.total
	if name != "" {
		s = m.byName[name]
	}
	if s == nil || s.count == 0 {
		return 0, false
	}
	return min(time.Duration(s.latency.ValueAtQuantile(q))*time.Microsecond, s.latMax), true
}

// summaryQuantiles are the percentiles a [LatencySummary] holds.
var summaryQuantiles = []float64{50, 90, 95, 99, 99.9}

func summarise(h *hdrhistogram.Histogram, count int64, sum, lo, hi time.Duration) LatencySummary {
	if count == 0 {
		return LatencySummary{}
	}
	q := h.ValueAtPercentilesSlice(summaryQuantiles)
	us := func(v int64) float64 { return ms(time.Duration(v) * time.Microsecond) }
	// The histogram reports a bucket's highest value; a percentile can
	// never exceed the exact maximum, so clamp to it.
	clamp := func(v float64) float64 { return math.Min(v, ms(hi)) }
	return LatencySummary{
		Min:  ms(lo),
		Mean: ms(sum / time.Duration(count)),
		P50:  clamp(us(q[0])),
		P90:  clamp(us(q[1])),
		P95:  clamp(us(q[2])),
		P99:  clamp(us(q[3])),
		P999: clamp(us(q[4])),
		Max:  ms(hi),
	}
}

// ms converts d to milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func (s *series) stats(name string, seconds float64, service bool) RequestStats {
	rs := RequestStats{
		Name:        name,
		Requests:    s.count,
		Succeeded:   s.count - s.failed,
		Failed:      s.failed,
		BytesIn:     s.bytesIn,
		BytesOut:    s.bytesOut,
		Latency:     summarise(s.latency, s.count, s.latSum, s.latMin, s.latMax),
		StatusCodes: map[string]int64{},
		Errors:      map[string]int64{},
	}
	if s.count > 0 {
		rs.ErrorRate = round6(float64(s.failed) / float64(s.count))
	}
	if seconds > 0 {
		rs.Throughput = round3(float64(s.count) / seconds)
	}
	if service {
		sv := summarise(s.service, s.count, s.svcSum, s.svcMin, s.svcMax)
		rs.ServiceTime = &sv
	}
	codes := make([]int, 0, len(s.codes))
	for c := range s.codes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		rs.StatusCodes[strconv.Itoa(c)] = s.codes[c]
	}
	for k := ErrorKind(1); k < numErrorKinds; k++ {
		if n := s.kinds[k]; n > 0 {
			rs.Errors[k.String()] = n
			if s.samples[k] != "" {
				if rs.ErrorSamples == nil {
					rs.ErrorSamples = map[string]string{}
				}
				rs.ErrorSamples[k.String()] = s.samples[k]
			}
		}
	}
	if s.http4xx > 0 {
		rs.Errors[failureHTTP4xx] = s.http4xx
	}
	if s.http5xx > 0 {
		rs.Errors[failureHTTP5xx] = s.http5xx
	}
	return rs
}

func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
