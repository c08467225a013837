package loadtest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Target is one kind of request an attack sends.
//
// Targets are prepared once, before an attack starts: the method, URL,
// headers and body are validated and serialised, and every request reuses
// the result. Nothing about a Target is rebuilt per request.
type Target struct {
	// Name groups results in reports ("list agents"); the default is
	// "METHOD /path".
	Name string
	// Method is the HTTP method; the default is GET.
	Method string
	// URL is absolute: http:// or https://, with a host.
	URL string
	// Header holds extra request headers. Host may be set to override the
	// URL's host; Content-Length and Transfer-Encoding are computed and may
	// not be set.
	Header http.Header
	// Body is sent with every request; nil for none.
	Body []byte
	// Weight is the target's share of requests relative to the others'; 0
	// counts as 1.
	Weight int
}

// Targeter chooses what each request of an attack is.
//
// Targets returns the fixed set of requests to choose from; the attacker
// calls it once, before the attack, and prepares each target. Next returns
// the index, in that set, of request number seq (0, 1, 2, ... in the order
// requests are started). Next is called from every worker at once and must
// be safe for concurrent use; it is on the hot path, so it should not
// allocate or lock.
type Targeter interface {
	Targets() []Target
	Next(seq uint64) int
}

// ErrNoTargets is returned when a [Targeter] has no targets.
var ErrNoTargets = errors.New("no targets")

// maxSchedule bounds the weighted round-robin table of [NewTargeter].
const maxSchedule = 1 << 16

// NewTargeter returns a [Targeter] that interleaves targets in proportion to
// their weights, deterministically: with weights 3 and 1, every run of four
// consecutive requests holds three of the first and one of the second,
// spread out (smooth weighted round robin) rather than bunched.
func NewTargeter(targets ...Target) (Targeter, error) {
	if len(targets) == 0 {
		return nil, ErrNoTargets
	}
	weights := make([]int, len(targets))
	total, g := 0, 0
	for i, t := range targets {
		w := t.Weight
		if w < 0 {
			return nil, fmt.Errorf("target %q: weight %d is negative", t.displayName(), w)
		}
		if w == 0 {
			w = 1
		}
		weights[i] = w
		g = gcd(g, w)
	}
	for i := range weights {
		weights[i] /= g
		total += weights[i]
	}
	if total > maxSchedule {
		return nil, fmt.Errorf("target weights add up to %d after reduction; the most is %d", total, maxSchedule)
	}
	// Smooth weighted round robin (as in nginx): each step every target
	// gains its weight, the richest is chosen and pays the total.
	schedule := make([]int32, total)
	current := make([]int, len(weights))
	for s := range schedule {
		best := 0
		for i, w := range weights {
			current[i] += w
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		schedule[s] = int32(best)
	}
	return &weighted{targets: targets, schedule: schedule}, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

type weighted struct {
	targets  []Target
	schedule []int32
}

var _ Targeter = (*weighted)(nil)

func (w *weighted) Targets() []Target { return w.targets }

func (w *weighted) Next(seq uint64) int {
	return int(w.schedule[seq%uint64(len(w.schedule))])
}

func (t *Target) method() string {
	if t.Method == "" {
		return http.MethodGet
	}
	return t.Method
}

// displayName is the target's name, or "METHOD URL" before preparation.
func (t *Target) displayName() string {
	if t.Name != "" {
		return t.Name
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		return t.method() + " (unparsable URL)"
	}
	return t.method() + " " + u.Redacted()
}

// knownMethods are the methods a target may use. Others are almost always
// typos, and an unusual method is better sent with a custom [Targeter]
// over net/http than guessed at.
var knownMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// ValidMethod reports whether m is an HTTP method a [Target] may use.
func ValidMethod(m string) bool {
	for _, k := range knownMethods {
		if m == k {
			return true
		}
	}
	return false
}

// KnownMethods returns the methods [ValidMethod] accepts, for messages.
func KnownMethods() string { return strings.Join(knownMethods, ", ") }
