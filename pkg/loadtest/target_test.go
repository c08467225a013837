package loadtest

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewTargeterInterleaves(t *testing.T) {
	t.Parallel()
	tr := mustTargeter(t, Target{Name: "a", Weight: 3}, Target{Name: "b", Weight: 1}, Target{Name: "c"})
	var got strings.Builder
	for seq := range uint64(10) {
		got.WriteString(tr.Targets()[tr.Next(seq)].Name)
	}
	// Weights 3:1:1, spread out rather than bunched, and periodic.
	if got.String() != "abacaabaca" {
		t.Errorf("sequence %q", got.String())
	}
	tr = mustTargeter(t, Target{Name: "x", Weight: 200}, Target{Name: "y", Weight: 100})
	if tr.Next(0) != 0 || tr.Next(1) != 1 || tr.Next(2) != 0 {
		t.Error("weights 200:100 should reduce to 2:1")
	}
	if _, err := NewTargeter(); err != ErrNoTargets {
		t.Errorf("no targets: err = %v", err)
	}
	if _, err := NewTargeter(Target{Weight: -1}); err == nil {
		t.Error("negative weight accepted")
	}
	if _, err := NewTargeter(Target{Weight: maxSchedule}, Target{Weight: 1}); err == nil {
		t.Error("huge schedule accepted")
	}
}

func TestPrepareTarget(t *testing.T) {
	t.Parallel()
	prep, eps, err := prepareTargets([]Target{
		{Method: http.MethodPost, URL: "http://example.com/api/x?q=1", Body: []byte(`{}`),
			Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer t"}}},
		{URL: "https://[::1]:8443"},
		{URL: "http://example.com:80/other", Header: http.Header{"Host": {"virtual.test"}, "User-Agent": {"mine"}}},
	}, "ua/1", true)
	if err != nil {
		t.Fatal(err)
	}
	want := "POST /api/x?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept-Encoding: gzip\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nUser-Agent: ua/1\r\nContent-Length: 2\r\n\r\n{}"
	if string(prep[0].wire) != want {
		t.Errorf("wire:\n%q\nwant\n%q", prep[0].wire, want)
	}
	if prep[0].name != "POST /api/x" || prep[1].name != "GET /" {
		t.Errorf("names %q, %q", prep[0].name, prep[1].name)
	}
	if !strings.HasPrefix(string(prep[1].wire), "GET / HTTP/1.1\r\nHost: [::1]:8443\r\n") {
		t.Errorf("wire %q", prep[1].wire)
	}
	if !strings.Contains(string(prep[2].wire), "Host: virtual.test\r\n") || !strings.Contains(string(prep[2].wire), "User-Agent: mine\r\n") {
		t.Errorf("wire %q", prep[2].wire)
	}
	if len(eps) != 2 || prep[0].endpoint != prep[2].endpoint || eps[1] != (endpoint{addr: "[::1]:8443", tls: true, serverName: "::1"}) {
		t.Errorf("endpoints %+v", eps)
	}

	for _, bad := range []Target{
		{Method: "FETCH", URL: "http://h/"},
		{URL: "h/"},
		{URL: "http:///nohost"},
		{URL: "http://user:secret@h/"},
		{URL: "http://h/", Header: http.Header{"Bad Name": {"v"}}},
		{URL: "http://h/", Header: http.Header{"X": {"a\r\nInjected: 1"}}},
		{URL: "http://h/", Header: http.Header{"Content-Length": {"3"}}},
	} {
		_, _, err := prepareTargets([]Target{bad}, "", false)
		if err == nil {
			t.Errorf("%+v accepted", bad)
		} else if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "Injected") {
			t.Errorf("error leaks a value: %v", err)
		}
	}
}

func TestConstantPacer(t *testing.T) {
	t.Parallel()
	p := ConstantPacer{Rate: 200}
	if d, ok := p.Due(0); d != 0 || !ok {
		t.Errorf("Due(0) = %v, %v", d, ok)
	}
	if d, _ := p.Due(200); d != time.Second {
		t.Errorf("Due(200) = %v", d)
	}
	if _, ok := (ConstantPacer{}).Due(1); ok {
		t.Error("zero rate should have no requests")
	}
	if _, ok := p.Due(math.MaxUint64); ok {
		t.Error("overflow should end the schedule")
	}
	for _, tc := range []struct {
		p       Pacer
		elapsed time.Duration
		want    uint64
	}{
		{p, 0, 0},
		{p, time.Nanosecond, 1},
		{p, time.Second, 200},
		{p, time.Second + time.Nanosecond, 201},
		{ConstantPacer{Rate: 3}, time.Second, 3},
		{ConstantPacer{Rate: 0.5}, 10 * time.Second, 5},
		// A pacer that is not a ConstantPacer takes the generic path.
		{stepPacer{}, 0, 0},
		{stepPacer{}, 3500 * time.Millisecond, 4},
		{stepPacer{}, 100 * time.Second, 100},
	} {
		if got := dueBy(tc.p, tc.elapsed); got != tc.want {
			t.Errorf("dueBy(%v, %v) = %d, want %d", tc.p, tc.elapsed, got, tc.want)
		}
	}
}

// stepPacer sends one request a second, 100 in all.
type stepPacer struct{}

func (stepPacer) Due(n uint64) (time.Duration, bool) {
	return time.Duration(n) * time.Second, n < 100
}
