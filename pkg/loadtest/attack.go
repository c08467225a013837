package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of an [Attacker].
const (
	// DefaultWorkers is how many workers (users in closed-loop mode,
	// connections in open-loop mode) an attack uses.
	DefaultWorkers = 10
	// DefaultTimeout bounds each request, from its send to the end of the
	// response.
	DefaultTimeout = 30 * time.Second
	// DefaultUserAgent is sent unless a target sets its own.
	DefaultUserAgent = "tarsctl-loadtest"
)

// Mode is how an attack paces its requests.
type Mode string

// Modes.
const (
	// ModeClosed: each worker is a user that sends a request, waits for
	// the response and an optional think time, and sends the next
	// (locust's model). The server's speed sets the rate.
	ModeClosed Mode = "closed"
	// ModeOpen: requests are due on a schedule set by a [Pacer], whether
	// or not earlier ones have been answered (wrk2's and vegeta's model).
	ModeOpen Mode = "open"
)

// Client names, as reported in [Stats.Client].
const (
	ClientBuiltin = "builtin"
	ClientNetHTTP = "net/http"
)

// ErrUnbounded is returned by [Attacker.Attack] when neither a duration nor
// a request count bounds the attack.
var ErrUnbounded = errors.New("attack is unbounded: set a duration or a request count")

// Attacker sends requests and hands their results to a [Recorder]. Build
// one with [NewAttacker]; an Attacker may run several attacks, one after
// another or at once.
type Attacker struct {
	workers     int
	pacer       Pacer
	spawnRate   float64
	thinkTime   time.Duration
	duration    time.Duration
	maxRequests uint64
	timeout     time.Duration
	userAgent   string
	compression bool
	tlsConfig   *tls.Config
	useNetHTTP  bool
	client      *http.Client
	batchSize   int
	flushEvery  time.Duration
}

// Option configures an [Attacker].
type Option func(*Attacker)

// NewAttacker returns an Attacker with the defaults, changed by opts. It
// runs a closed-loop attack with [DefaultWorkers] users unless [Rate] or
// [WithPacer] makes it open-loop.
func NewAttacker(opts ...Option) *Attacker {
	a := &Attacker{
		workers:    DefaultWorkers,
		timeout:    DefaultTimeout,
		userAgent:  DefaultUserAgent,
		tlsConfig:  &tls.Config{MinVersion: tls.VersionTLS12},
		batchSize:  128,
		flushEvery: 100 * time.Millisecond,
	}
	for _, opt := range opts {
		opt(a)
	}
	return a
}

// Workers sets how many requests may be in flight at once: the number of
// users in closed-loop mode, and of connections in open-loop mode.
func Workers(n int) Option { return func(a *Attacker) { a.workers = n } }

// Rate makes the attack open-loop at a constant rate, in requests per
// second. It is [WithPacer] with a [ConstantPacer].
func Rate(perSecond float64) Option {
	return func(a *Attacker) { a.pacer = ConstantPacer{Rate: perSecond} }
}

// WithPacer makes the attack open-loop, with requests due when p says.
func WithPacer(p Pacer) Option { return func(a *Attacker) { a.pacer = p } }

// SpawnRate starts closed-loop users gradually, perSecond at a time, instead
// of all at once.
func SpawnRate(perSecond float64) Option { return func(a *Attacker) { a.spawnRate = perSecond } }

// ThinkTime makes each closed-loop user pause for d after each response.
func ThinkTime(d time.Duration) Option { return func(a *Attacker) { a.thinkTime = d } }

// Duration bounds the attack in time: no request is sent after d.
// Requests in flight at d are allowed to finish.
func Duration(d time.Duration) Option { return func(a *Attacker) { a.duration = d } }

// MaxRequests bounds the attack to n requests.
func MaxRequests(n uint64) Option { return func(a *Attacker) { a.maxRequests = n } }

// Timeout bounds each request, from its send to the end of the response.
func Timeout(d time.Duration) Option { return func(a *Attacker) { a.timeout = d } }

// UserAgent sets the User-Agent header of targets that do not set one.
func UserAgent(ua string) Option { return func(a *Attacker) { a.userAgent = ua } }

// Compression asks for gzip responses (Accept-Encoding: gzip) on targets
// that do not set Accept-Encoding. Off by default: a load test should
// measure the server's work, not the client's decompression. Compressed
// bodies are counted, not decompressed.
func Compression(on bool) Option { return func(a *Attacker) { a.compression = on } }

// TLSConfig sets the TLS configuration for https targets. Certificates
// are verified unless c says otherwise.
func TLSConfig(c *tls.Config) Option { return func(a *Attacker) { a.tlsConfig = c } }

// HTTPClient sends requests with net/http instead of the built-in
// HTTP/1.1 client: for HTTP/2, proxies, or a client's own redirect policy,
// at a higher cost per request. With a nil c, the attacker builds a client
// with a transport tuned for load testing: as many idle connections per
// host as workers, proxies from the environment, HTTP/2 when TLS offers
// it, compression off unless [Compression] is on, and redirects not
// followed (like the built-in client, it reports the 3xx itself).
func HTTPClient(c *http.Client) Option {
	return func(a *Attacker) { a.useNetHTTP, a.client = true, c }
}

// Stats describes how an attack ran, as opposed to how the target
// behaved: what was asked of the generator and what it managed.
type Stats struct {
	Mode        Mode
	Workers     int
	SpawnRate   float64       // closed loop
	ThinkTime   time.Duration // closed loop
	Duration    time.Duration // the configured bound; 0 if none
	MaxRequests uint64        // the configured bound; 0 if none
	Timeout     time.Duration
	Client      string // ClientBuiltin or ClientNetHTTP

	Start, End time.Time
	// Sent counts requests started, including Aborted ones.
	Sent uint64
	// Aborted counts requests cut short when the attack's context was
	// cancelled. They are not recorded: they say nothing about the server.
	Aborted uint64
	// Due counts the requests an on-time open-loop attack would have sent
	// in the time the attack ran; 0 in closed-loop mode.
	Due uint64
	// Window is the time requests were being sent: the attack's length,
	// capped at the configured duration.
	Window time.Duration
	// Interrupted is true when the context was cancelled before the attack
	// reached its bound.
	Interrupted bool

	// CPU is the CPU time (user and system) the process used during the
	// attack; CPUMeasured is false where that is unknown.
	CPU         time.Duration
	CPUMeasured bool
	// GOMAXPROCS is how many CPUs the process could use.
	GOMAXPROCS int
}

// TargetRate is the open-loop rate asked for, in requests per second; 0 in
// closed-loop mode.
func (s *Stats) TargetRate() float64 {
	if s.Mode != ModeOpen || s.Window <= 0 {
		return 0
	}
	return float64(s.Due) / s.Window.Seconds()
}

// SendRate is the rate at which requests were started, in requests per
// second.
func (s *Stats) SendRate() float64 {
	if s.Window <= 0 {
		return 0
	}
	return float64(s.Sent) / s.Window.Seconds()
}

// CPUUtilization is the share of the CPUs the process could use that it
// did use during the attack, from 0 to 1.
func (s *Stats) CPUUtilization() float64 {
	wall := s.End.Sub(s.Start)
	if !s.CPUMeasured || wall <= 0 || s.GOMAXPROCS <= 0 {
		return 0
	}
	return math.Min(1, s.CPU.Seconds()/(wall.Seconds()*float64(s.GOMAXPROCS)))
}

func (a *Attacker) validate() error {
	switch {
	case a.workers < 1:
		return fmt.Errorf("workers must be at least 1, got %d", a.workers)
	case a.duration <= 0 && a.maxRequests == 0:
		return ErrUnbounded
	case a.duration < 0:
		return fmt.Errorf("duration must be positive, got %s", a.duration)
	case a.timeout <= 0:
		return fmt.Errorf("timeout must be positive, got %s", a.timeout)
	case a.spawnRate < 0 || math.IsNaN(a.spawnRate):
		return fmt.Errorf("spawn rate must be positive, got %g", a.spawnRate)
	case a.thinkTime < 0:
		return fmt.Errorf("think time must be positive, got %s", a.thinkTime)
	case a.pacer != nil && (a.spawnRate > 0 || a.thinkTime > 0):
		return errors.New("spawn rate and think time apply to closed-loop attacks; a pacer makes the attack open-loop")
	}
	if cp, ok := a.pacer.(ConstantPacer); ok && !(cp.Rate > 0 && !math.IsInf(cp.Rate, 0)) {
		return fmt.Errorf("rate must be positive, got %g", cp.Rate)
	}
	return nil
}

// Attack runs one attack on the targets of tr, handing results to rec,
// and returns when it is over: when its duration or request count is
// reached, or when ctx is cancelled. Cancelling ctx aborts requests in
// flight; what was recorded until then stays valid, and the returned
// [Stats] says the attack was interrupted. Attack returns an error, and
// sends nothing, only when the attack is misconfigured.
func (a *Attacker) Attack(ctx context.Context, tr Targeter, rec Recorder) (*Stats, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errors.New("no recorder")
	}
	targets := tr.Targets()
	if len(targets) == 0 {
		return nil, ErrNoTargets
	}
	prep, endpoints, err := prepareTargets(targets, a.userAgent, a.compression)
	if err != nil {
		return nil, err
	}
	st := &Stats{
		Mode:        ModeClosed,
		Workers:     a.workers,
		SpawnRate:   a.spawnRate,
		ThinkTime:   a.thinkTime,
		Duration:    a.duration,
		MaxRequests: a.maxRequests,
		Timeout:     a.timeout,
		Client:      ClientBuiltin,
		GOMAXPROCS:  runtime.GOMAXPROCS(0),
	}
	if a.pacer != nil {
		st.Mode = ModeOpen
	}
	client := a.client
	if a.useNetHTTP {
		st.Client = ClientNetHTTP
		if client == nil {
			client = a.tunedClient()
		}
	}

	r := &run{
		a:        a,
		open:     a.pacer != nil,
		targeter: tr,
		prepared: prep,
		rec:      rec,
	}
	dialer := &net.Dialer{Timeout: a.timeout, KeepAlive: 30 * time.Second}
	workers := make([]*worker, a.workers)
	for i := range workers {
		w := &worker{r: r, id: i, batch: make([]Result, a.batchSize)}
		if a.useNetHTTP {
			w.sess = newStdSession(ctx, client, prep)
		} else {
			w.sess = newFastSession(ctx, endpoints, dialer, a.tlsConfig)
		}
		workers[i] = w
	}
	// Cancelling ctx must not wait for a slow server: abort every
	// request in flight, which then fails at once and is not recorded.
	stopAbort := context.AfterFunc(ctx, func() {
		for _, w := range workers {
			w.sess.abort()
		}
	})
	defer stopAbort()

	cpu0, cpuOK := processCPU()
	r.start = time.Now()
	r.end = r.start.Add(a.duration)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	st.Start, st.End = r.start, time.Now()
	cpu1, cpuOK1 := processCPU()
	st.CPU, st.CPUMeasured = cpu1-cpu0, cpuOK && cpuOK1

	for _, w := range workers {
		st.Sent += w.sent
		st.Aborted += w.aborted
	}
	st.Window = st.End.Sub(st.Start)
	if a.duration > 0 && st.Window > a.duration {
		st.Window = a.duration
	}
	if r.open {
		st.Due = dueBy(a.pacer, st.Window)
		if a.maxRequests > 0 && st.Due > a.maxRequests {
			st.Due = a.maxRequests
		}
	}
	st.Interrupted = ctx.Err() != nil && !r.reachedBound(st)
	return st, nil
}

// tunedClient is the net/http client [HTTPClient] builds when given none.
func (a *Attacker) tunedClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = a.workers
	tr.DisableCompression = !a.compression
	tr.TLSClientConfig = a.tlsConfig
	tr.ResponseHeaderTimeout = a.timeout
	return &http.Client{
		Transport: tr,
		Timeout:   a.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// run is the shared state of one attack.
type run struct {
	a          *Attacker
	open       bool
	targeter   Targeter
	prepared   []prepared
	rec        Recorder
	start, end time.Time
	seq        atomic.Uint64 // next request number
}

// reachedBound reports whether the attack ended because it reached its
// duration or request count, even if ctx was cancelled just after.
func (r *run) reachedBound(st *Stats) bool {
	if r.a.maxRequests > 0 && st.Sent-st.Aborted >= r.a.maxRequests {
		return true
	}
	return r.a.duration > 0 && !st.End.Before(r.end) && st.Aborted == 0
}

// worker is one goroutine of an attack: a user in closed-loop mode, a
// connection in open-loop mode. It records results into its own batch and
// hands the batch to the recorder when it fills, when it is older than
// flushEvery, and before a long wait — so recording never contends for a
// lock per request, yet live progress stays current.
type worker struct {
	r         *run
	id        int
	sess      session
	timer     *time.Timer
	batch     []Result
	n         int
	lastFlush time.Time
	sent      uint64
	aborted   uint64
}

// longWait is a wait after which a worker flushes its batch first, so
// progress does not lag behind an idle worker.
const longWait = 50 * time.Millisecond

func (w *worker) loop(ctx context.Context) {
	r, a := w.r, w.r.a
	w.timer = time.NewTimer(time.Hour)
	w.timer.Stop()
	w.lastFlush = r.start
	defer func() {
		w.flush(time.Now())
		w.sess.close()
	}()
	if !r.open && a.spawnRate > 0 && w.id > 0 {
		at := r.start.Add(time.Duration(float64(w.id) / a.spawnRate * float64(time.Second)))
		if a.duration > 0 && !at.Before(r.end) {
			return
		}
		if !sleepUntil(ctx, w.timer, at) {
			return
		}
	}
	for {
		n := r.seq.Add(1) - 1
		if a.maxRequests > 0 && n >= a.maxRequests {
			return
		}
		var intended time.Time
		if r.open {
			due, ok := a.pacer.Due(n)
			if !ok || (a.duration > 0 && due >= a.duration) {
				return
			}
			intended = r.start.Add(due)
			if time.Until(intended) > longWait {
				w.flush(time.Now())
			}
			if !sleepUntil(ctx, w.timer, intended) {
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		sent := time.Now()
		// A worker that fell behind must not run past the end either.
		if a.duration > 0 && !sent.Before(r.end) {
			return
		}
		if !r.open {
			intended = sent
		}
		ti := r.targeter.Next(n)
		p := &r.prepared[ti]
		res := &w.batch[w.n]
		*res = Result{Name: p.name, Target: ti, Timestamp: intended}
		w.sess.do(p, sent.Add(a.timeout), res)
		done := time.Now()
		w.sent++
		if res.Error != ErrorNone && ctx.Err() != nil {
			// Cut short by the cancellation, not by the server.
			w.aborted++
			return
		}
		res.Latency, res.ServiceTime = done.Sub(intended), done.Sub(sent)
		w.n++
		if w.n == len(w.batch) || done.Sub(w.lastFlush) >= a.flushEvery {
			w.flush(done)
		}
		if !r.open && a.thinkTime > 0 {
			wake := done.Add(a.thinkTime)
			if a.duration > 0 && !wake.Before(r.end) {
				return
			}
			if a.thinkTime > longWait {
				w.flush(done)
			}
			if !sleepUntil(ctx, w.timer, wake) {
				return
			}
		}
	}
}

func (w *worker) flush(now time.Time) {
	if w.n > 0 {
		w.r.rec.Record(w.batch[:w.n])
		clear(w.batch[:w.n]) // drop references to errors
		w.n = 0
	}
	w.lastFlush = now
}
