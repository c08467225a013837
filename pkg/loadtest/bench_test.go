package loadtest

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"
)

// rawServer answers every HTTP/1.1 request with the same canned response,
// without allocating per request, so that a benchmark's allocs/op are the
// client's alone. It returns the server's URL.
func rawServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(line) <= 2 { // the blank line that ends a request
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

// BenchmarkAttack measures the generator's cost per request against a
// trivial loopback server that allocates nothing: one op is one request.
// allocs/op stays near zero however long the attack runs (the attack's
// fixed setup spread over b.N requests), which is what keeps memory flat
// over a long run; cpu-µs/op is the whole process's, server included.
func BenchmarkAttack(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"builtin", nil},
		{"net-http", []Option{HTTPClient(nil)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := mustTargeter(b, Target{URL: rawServer(b)})
			m := NewMetrics()
			a := NewAttacker(append(bc.opts, Workers(8), MaxRequests(uint64(b.N)))...)
			b.ReportAllocs()
			b.ResetTimer()
			st, err := a.Attack(context.Background(), tr, m)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if m.Requests() != int64(b.N) {
				b.Fatalf("recorded %d of %d", m.Requests(), b.N)
			}
			b.ReportMetric(float64(st.CPU)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkMetricsRecord is the recording side alone: a batch of 128
// results into HDR histograms.
func BenchmarkMetricsRecord(b *testing.B) {
	m := NewMetrics()
	batch := make([]Result, 128)
	for i := range batch {
		batch[i] = Result{Name: "x", Latency: time.Duration(i) * time.Millisecond, ServiceTime: time.Millisecond, Code: 200}
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Record(batch)
	}
}
