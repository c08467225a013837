package loadtest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadResponse(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 3*readBufferSize)
	cases := []struct {
		name      string
		in        string
		head      bool
		wantCode  int
		wantN     int64
		wantKeep  bool
		wantErr   error // errors.Is; nil means success
		wantKind  ErrorKind
		wantAfter string // what must remain unread: the next response
	}{
		{name: "content length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", wantCode: 200, wantN: 5, wantKeep: true, wantAfter: "NEXT"},
		{name: "no reason phrase", in: "HTTP/1.1 204\r\n\r\n", wantCode: 204, wantKeep: true},
		{name: "case-insensitive headers", in: "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh:  3 \r\n\r\nabc", wantCode: 200, wantN: 3, wantKeep: true},
		{name: "chunked with trailers", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\nNEXT", wantCode: 200, wantN: 15, wantKeep: true, wantAfter: "NEXT"},
		{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\nall of it", wantCode: 200, wantN: 9, wantKeep: false},
		{name: "connection close", in: "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", wantCode: 503, wantKeep: false},
		{name: "http/1.0 default close", in: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", wantCode: 200, wantN: 2, wantKeep: false},
		{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", wantCode: 200, wantN: 2, wantKeep: true},
		{name: "head ignores length", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nNEXT", head: true, wantCode: 200, wantKeep: true, wantAfter: "NEXT"},
		{name: "304 has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\nNEXT", wantCode: 304, wantKeep: true, wantAfter: "NEXT"},
		{name: "1xx skipped", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", wantCode: 201, wantN: 1, wantKeep: true},
		{name: "long header line skipped", in: "HTTP/1.1 200 OK\r\nX-Big: " + long + "\r\nContent-Length: 2\r\n\r\nok", wantCode: 200, wantN: 2, wantKeep: true},
		{name: "large body", in: "HTTP/1.1 200 OK\r\nContent-Length: 12288\r\n\r\n" + long, wantCode: 200, wantN: 12288, wantKeep: true},
		{name: "closed before response", in: "", wantErr: io.EOF, wantKind: ErrorConnectionClosed},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantErr: io.ErrUnexpectedEOF, wantKind: ErrorConnectionClosed},
		{name: "truncated header", in: "HTTP/1.1 200 OK\r\nContent-", wantErr: io.ErrUnexpectedEOF, wantKind: ErrorConnectionClosed},
		{name: "not http", in: "SSH-2.0-OpenSSH\r\n", wantKind: ErrorProtocol},
		{name: "bad code", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantKind: ErrorProtocol},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantKind: ErrorProtocol},
		{name: "conflicting lengths", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", wantKind: ErrorProtocol},
		{name: "bad chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantKind: ErrorProtocol},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", wantKind: ErrorProtocol},
		{name: "switching protocols", in: "HTTP/1.1 101 Switching Protocols\r\n\r\n", wantKind: ErrorProtocol},
		{name: "status line too long", in: "HTTP/1.1 200 " + long + "\r\n\r\n", wantKind: ErrorProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.in), readBufferSize)
			code, n, keep, started, err := readResponse(br, tc.head)
			if tc.wantKind != ErrorNone || tc.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, got code %d", code)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Errorf("err = %v, want %v", err, tc.wantErr)
				}
				if k := Classify(err); tc.wantKind != ErrorNone && k != tc.wantKind {
					t.Errorf("kind = %v, want %v (err %v)", k, tc.wantKind, err)
				}
				if tc.in == "" && started {
					t.Error("started = true for an empty stream")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || n != tc.wantN || keep != tc.wantKeep || !started {
				t.Errorf("got code %d, n %d, keep %v, started %v; want %d, %d, %v", code, n, keep, started, tc.wantCode, tc.wantN, tc.wantKeep)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.wantAfter {
				t.Errorf("left %q unread, want %q", rest, tc.wantAfter)
			}
		})
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), false)
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), false)
	f.Add([]byte("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\n\r\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		br := bufio.NewReaderSize(strings.NewReader(string(in)), readBufferSize)
		code, n, _, _, err := readResponse(br, head)
		if err == nil && (code < 200 || code > 999 || n < 0 || n > int64(len(in))) {
			t.Fatalf("code %d, n %d from %d bytes", code, n, len(in))
		}
		if err != nil && Classify(err) == ErrorNone {
			t.Fatalf("error %v classified as none", err)
		}
	})
}

// TestFastSessionReconnects: a server that closes connections, whether it
// says so or not, costs a reconnect but never a failed request.
func TestFastSessionReconnects(t *testing.T) {
	t.Parallel()
	var conns int
	connCount := make(chan struct{}, 100)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			connCount <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()

	prep, eps, err := prepareTargets([]Target{{URL: srv.URL + "/close"}, {URL: srv.URL + "/keep"}}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	s := newFastSession(context.Background(), eps, &net.Dialer{}, nil)
	defer s.close()
	deadline := time.Now().Add(10 * time.Second)
	for i := range 3 {
		var r Result
		s.do(&prep[0], deadline, &r)
		if r.Code != 200 || r.Error != ErrorNone {
			t.Fatalf("request %d: code %d, err %v", i, r.Code, r.Err)
		}
	}
	// Keep-alive: three requests, one more connection.
	for range 3 {
		var r Result
		s.do(&prep[1], deadline, &r)
		if r.Code != 200 {
			t.Fatalf("code %d, err %v", r.Code, r.Err)
		}
	}
	// The server drops idle connections behind the client's back: the
	// next request must transparently reconnect.
	srv.CloseClientConnections()
	var r Result
	s.do(&prep[1], deadline, &r)
	if r.Code != 200 {
		t.Fatalf("after the server closed the connection: code %d, err %v", r.Code, r.Err)
	}
	close(connCount)
	for range connCount {
		conns++
	}
	if conns != 5 {
		t.Errorf("%d connections, want 5 (3 closed by the server, 1 kept alive, 1 after the drop)", conns)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want ErrorKind
	}{
		{nil, ErrorNone},
		{context.DeadlineExceeded, ErrorTimeout},
		{&net.OpError{Op: "read", Err: errors.New("i/o timeout")}, ErrorOther},
		{&net.DNSError{Err: "no such host", Name: "nowhere.invalid"}, ErrorDNS},
		{&ProtocolError{Msg: "x"}, ErrorProtocol},
		{io.EOF, ErrorConnectionClosed},
		{errors.New("something else"), ErrorOther},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if ErrorConnectionRefused.String() != "connection_refused" || ErrorKind(200).String() != "other" {
		t.Error("ErrorKind names")
	}
}
