package loadtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// stdSession sends requests with a net/http client: slower than the
// built-in client, but it speaks HTTP/2, honours proxy settings and
// follows redirects as the client is configured to.
type stdSession struct {
	client  *http.Client
	cancel  context.CancelFunc
	reqs    []*http.Request // one per target, reused for every request
	bodies  []*bytes.Reader
	discard []byte
}

var _ session = (*stdSession)(nil)

func newStdSession(ctx context.Context, client *http.Client, targets []prepared) *stdSession {
	ctx, cancel := context.WithCancel(ctx)
	s := &stdSession{client: client, cancel: cancel, discard: make([]byte, 32<<10)}
	for i := range targets {
		p := &targets[i]
		u := *p.url
		req := &http.Request{
			Method:     p.method,
			URL:        &u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     p.header.Clone(),
			Host:       p.host,
		}
		var body *bytes.Reader
		if len(p.body) > 0 {
			body = bytes.NewReader(p.body)
			req.ContentLength = int64(len(p.body))
			data := p.body
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		}
		s.reqs = append(s.reqs, req.WithContext(ctx))
		s.bodies = append(s.bodies, body)
	}
	return s
}

func (s *stdSession) do(p *prepared, deadline time.Time, r *Result) {
	_ = deadline // the client's own Timeout applies
	i := p.index
	req := s.reqs[i]
	if b := s.bodies[i]; b != nil {
		b.Reset(p.body)
		// net/http may read the body after Do returns only until the
		// response body is closed, which happens below, so the reader
		// can be reused by the next request.
		req.Body = io.NopCloser(b)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		r.Code, r.Error, r.Err = 0, Classify(err), err
		return
	}
	var n int64
	for {
		m, rerr := resp.Body.Read(s.discard)
		n += int64(m)
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	_ = resp.Body.Close()
	if err != nil {
		r.Code, r.Error, r.Err = 0, Classify(err), err
		return
	}
	r.Code, r.BytesIn, r.BytesOut = resp.StatusCode, n, int64(len(p.body))
}

func (s *stdSession) abort() { s.cancel() }

func (s *stdSession) close() { s.cancel() }
