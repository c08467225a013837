package loadtest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// session sends one worker's requests. A session is used by one worker
// goroutine only, except for abort, which any goroutine may call to make a
// blocked request return at once.
type session interface {
	// do sends p and reads the whole response, giving up at deadline. It
	// fills r's Code, Error, Err, BytesIn and BytesOut.
	do(p *prepared, deadline time.Time, r *Result)
	abort()
	close()
}

// readBufferSize is each connection's read buffer. Longer header lines are
// skipped, not rejected, so it only needs to hold the lines we parse.
const readBufferSize = 4096

// fastSession is the built-in HTTP/1.1 client: one keep-alive connection
// per endpoint, requests written from their prepared bytes, responses
// parsed just enough to find their end. It is what lets one process keep
// up with wrk on the same machine, where net/http spends most of its time
// building and tearing down per-request objects.
type fastSession struct {
	ctx       context.Context
	endpoints []endpoint
	dialer    *net.Dialer
	tlsConfig *tls.Config

	// mu guards conns and aborted against abort. The owning worker reads
	// conns without it: only the owner ever writes them.
	mu      sync.Mutex
	conns   []*fastConn
	aborted bool
}

var _ session = (*fastSession)(nil)

type fastConn struct {
	nc   net.Conn
	br   *bufio.Reader
	used bool // has carried a request
}

func newFastSession(ctx context.Context, endpoints []endpoint, dialer *net.Dialer, tlsConfig *tls.Config) *fastSession {
	return &fastSession{
		ctx:       ctx,
		endpoints: endpoints,
		dialer:    dialer,
		tlsConfig: tlsConfig,
		conns:     make([]*fastConn, len(endpoints)),
	}
}

func (s *fastSession) do(p *prepared, deadline time.Time, r *Result) {
	retried := false
	for {
		c := s.conns[p.endpoint]
		if c == nil {
			var err error
			if c, err = s.dial(p.endpoint, deadline); err != nil {
				r.Code, r.Error, r.Err = 0, Classify(err), err
				return
			}
		}
		// A kept-alive connection the server has meanwhile closed fails
		// before any byte of the response arrives. That says nothing about
		// the server's health, so retry once on a fresh connection, as
		// net/http does.
		stale := c.used
		c.used = true
		err := c.nc.SetDeadline(deadline)
		if err == nil {
			_, err = c.nc.Write(p.wire)
		}
		if err == nil {
			var (
				keep, started bool
				n             int64
			)
			r.Code, n, keep, started, err = readResponse(c.br, p.head)
			if err == nil {
				r.BytesIn, r.BytesOut = n, int64(len(p.body))
				if !keep {
					s.drop(p.endpoint)
				}
				return
			}
			if started {
				stale = false
			}
		}
		s.drop(p.endpoint)
		if stale && !retried && Classify(err) != ErrorTimeout && s.ctx.Err() == nil {
			retried = true
			continue
		}
		r.Code, r.Error, r.Err = 0, Classify(err), err
		return
	}
}

func (s *fastSession) dial(i int, deadline time.Time) (*fastConn, error) {
	ep := s.endpoints[i]
	d := *s.dialer
	d.Deadline = deadline
	nc, err := d.DialContext(s.ctx, "tcp", ep.addr)
	if err != nil {
		return nil, err
	}
	if ep.tls {
		cfg := s.tlsConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = ep.serverName
		}
		// HTTP/1.1 only: this client does not speak HTTP/2.
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		if err := tc.SetDeadline(deadline); err != nil {
			_ = nc.Close()
			return nil, err
		}
		if err := tc.HandshakeContext(s.ctx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	c := &fastConn{nc: nc, br: bufio.NewReaderSize(nc, readBufferSize)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		_ = nc.Close()
		return nil, context.Canceled
	}
	s.conns[i] = c
	return c, nil
}

func (s *fastSession) drop(i int) {
	s.mu.Lock()
	c := s.conns[i]
	s.conns[i] = nil
	s.mu.Unlock()
	if c != nil {
		_ = c.nc.Close()
	}
}

// abort makes any request in flight fail at once, by moving its
// connection's deadline into the past.
func (s *fastSession) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
	for _, c := range s.conns {
		if c != nil {
			_ = c.nc.SetDeadline(time.Unix(1, 0))
		}
	}
}

func (s *fastSession) close() {
	for i := range s.conns {
		s.drop(i)
	}
}

var (
	errStatusLine  = &ProtocolError{Msg: "bad status line"}
	errLongStatus  = &ProtocolError{Msg: "status line too long"}
	errSwitching   = &ProtocolError{Msg: "unexpected 101 Switching Protocols"}
	errLength      = &ProtocolError{Msg: "bad Content-Length"}
	errChunk       = &ProtocolError{Msg: "bad chunk"}
	errHeaderField = &ProtocolError{Msg: "bad header line"}
)

// readResponse reads one HTTP/1.x response from br and discards its body.
// It returns the final status code, the body's length, whether the
// connection may carry another request, and whether any byte of the
// response arrived. Informational (1xx) responses are skipped.
func readResponse(br *bufio.Reader, head bool) (code int, n int64, keep, started bool, err error) {
	var (
		length  int64
		chunked bool
	)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			started = true
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return 0, 0, false, started, errLongStatus
			}
			if started && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, false, started, err
		}
		// "HTTP/1.1 200 OK\r\n": the reason phrase may be empty.
		if len(line) < 13 || string(line[:7]) != "HTTP/1." || line[8] != ' ' ||
			(line[12] != ' ' && line[12] != '\r' && line[12] != '\n') {
			return 0, 0, false, started, errStatusLine
		}
		code = 0
		for _, c := range line[9:12] {
			if c < '0' || c > '9' {
				return 0, 0, false, started, errStatusLine
			}
			code = code*10 + int(c-'0')
		}
		keep = line[7] != '0' // HTTP/1.1 keeps the connection unless told not to
		length, chunked = -1, false
		for {
			name, value, end, err := readHeader(br)
			if err != nil {
				return 0, 0, false, started, err
			}
			if end {
				break
			}
			switch {
			case name == nil: // a header line too long to hold; none we need
			case equalFold(name, "content-length"):
				v, ok := parseLength(value)
				if !ok || (length >= 0 && v != length) {
					return 0, 0, false, started, errLength
				}
				length = v
			case equalFold(name, "transfer-encoding"):
				chunked = containsTokenFold(value, "chunked")
				if !chunked {
					length = -1 // some other coding: the body runs to the close
				}
			case equalFold(name, "connection"):
				if containsTokenFold(value, "close") {
					keep = false
				} else if containsTokenFold(value, "keep-alive") {
					keep = true
				}
			}
		}
		if code == 101 {
			return 0, 0, false, started, errSwitching
		}
		if code >= 200 {
			break
		}
	}
	switch {
	case head || code == 204 || code == 304:
		return code, 0, keep, started, nil
	case chunked:
		n, err = discardChunked(br)
	case length >= 0:
		var d int
		d, err = br.Discard(int(length))
		n = int64(d)
	default:
		// No length: the body ends when the server closes the connection.
		n, err = io.Copy(io.Discard, br)
		keep = false
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return code, n, keep, started, err
}

// readHeader reads one header line. end is true at the blank line that
// ends the header. name is nil for a line too long for the buffer, which
// is skipped: the headers we parse are short.
func readHeader(br *bufio.Reader) (name, value []byte, end bool, err error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			return nil, nil, false, unexpected(err)
		}
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, unexpected(err)
	}
	line = trimCRLF(line)
	if len(line) == 0 {
		return nil, nil, true, nil
	}
	for i, c := range line {
		if c == ':' {
			if i == 0 {
				return nil, nil, false, errHeaderField
			}
			return line[:i], trimSpace(line[i+1:]), false, nil
		}
	}
	return nil, nil, false, errHeaderField
}

// discardChunked reads a chunked body and its trailers, returning the
// body's length.
func discardChunked(br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return total, errChunk
			}
			return total, unexpected(err)
		}
		line = trimCRLF(line)
		var size int64
		digits := 0
		for _, c := range line {
			var v byte
			switch {
			case '0' <= c && c <= '9':
				v = c - '0'
			case 'a' <= c && c <= 'f':
				v = c - 'a' + 10
			case 'A' <= c && c <= 'F':
				v = c - 'A' + 10
			default:
				v = 0xff
			}
			if v == 0xff {
				if c != ';' && c != ' ' && c != '\t' {
					return total, errChunk
				}
				break
			}
			if size > (1<<62)>>4 {
				return total, errChunk
			}
			size = size<<4 | int64(v)
			digits++
		}
		if digits == 0 {
			return total, errChunk
		}
		if size == 0 {
			for { // trailers, up to the blank line
				_, _, end, err := readHeader(br)
				if err != nil || end {
					return total, err
				}
			}
		}
		d, err := br.Discard(int(size))
		total += int64(d)
		if err != nil {
			return total, unexpected(err)
		}
		crlf, err := br.ReadSlice('\n')
		if err != nil {
			return total, unexpected(err)
		}
		if len(trimCRLF(crlf)) != 0 {
			return total, errChunk
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func trimCRLF(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares b with the lower-case ASCII string s, ignoring case,
// without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// containsTokenFold reports whether the comma-separated list v holds the
// lower-case token tok, ignoring case.
func containsTokenFold(v []byte, tok string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if equalFold(trimSpace(v[:i]), tok) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}
