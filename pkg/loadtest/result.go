package loadtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Result is the outcome of one request. The [Attacker] hands results to a
// [Recorder] in batches; a Result holds no pointers into the response, so
// recording one copies nothing but the struct.
type Result struct {
	// Name is the request's name ([Target.Name]); results are grouped by it.
	Name string
	// Target is the index of the request in [Targeter.Targets].
	Target int
	// Timestamp is when the request was meant to be sent: its slot in the
	// pacer's schedule in open-loop mode, and the moment it was sent in
	// closed-loop mode.
	Timestamp time.Time
	// Latency runs from Timestamp to the end of the response. In open-loop
	// mode it includes any wait for a free connection, which is what keeps
	// coordinated omission from hiding a stall.
	Latency time.Duration
	// ServiceTime runs from the actual send (including a reconnect, if one
	// was needed) to the end of the response. It equals Latency in
	// closed-loop mode.
	ServiceTime time.Duration
	// Code is the HTTP status code, or 0 when no response arrived.
	Code int
	// Error classifies a transport failure; [ErrorNone] when a response
	// arrived (whatever its status).
	Error ErrorKind
	// Err is the transport error itself, nil when Error is ErrorNone.
	Err error
	// BytesIn counts the response body's bytes; BytesOut the request body's.
	BytesIn, BytesOut int64
}

// Failed reports whether r counts as a failed request: a transport error,
// or a status of 400 or above.
func (r *Result) Failed() bool { return r.Error != ErrorNone || r.Code >= 400 }

// ErrorKind classifies why a request got no response. Reports count
// failures by kind; the names are part of the JSON report.
type ErrorKind uint8

// Error kinds, from most to least specific.
const (
	ErrorNone              ErrorKind = iota
	ErrorTimeout                     // no complete response within the request timeout
	ErrorConnectionRefused           // nothing listening at the target address
	ErrorConnectionReset             // the peer reset the connection
	ErrorConnectionClosed            // the peer closed the connection mid-response
	ErrorDNS                         // the host name did not resolve
	ErrorTLS                         // TLS handshake or certificate failure
	ErrorProtocol                    // the response was not valid HTTP/1.x
	ErrorOther                       // anything else
	numErrorKinds
)

var errorKindNames = [numErrorKinds]string{
	ErrorNone:              "",
	ErrorTimeout:           "timeout",
	ErrorConnectionRefused: "connection_refused",
	ErrorConnectionReset:   "connection_reset",
	ErrorConnectionClosed:  "connection_closed",
	ErrorDNS:               "dns",
	ErrorTLS:               "tls",
	ErrorProtocol:          "protocol",
	ErrorOther:             "other",
}

// String returns the kind's name as it appears in reports: "timeout",
// "connection_refused", and so on; "" for [ErrorNone].
func (k ErrorKind) String() string {
	if k < numErrorKinds {
		return errorKindNames[k]
	}
	return "other"
}

// Failure keys for responses with an error status, next to the
// [ErrorKind] names in a report's errors map.
const (
	failureHTTP4xx = "http_4xx"
	failureHTTP5xx = "http_5xx"
)

// ProtocolError is a response that is not valid HTTP/1.x.
type ProtocolError struct{ Msg string }

// Error implements error.
func (e *ProtocolError) Error() string { return "malformed HTTP response: " + e.Msg }

// Classify sorts a transport error into an [ErrorKind].
func Classify(err error) ErrorKind {
	var (
		dnsErr   *net.DNSError
		protoErr *ProtocolError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		certErr  *tls.CertificateVerificationError
		unkAuth  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invErr   x509.CertificateInvalidError
		netErr   net.Error
	)
	switch {
	case err == nil:
		return ErrorNone
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return ErrorTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrorConnectionRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrorConnectionReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrorConnectionClosed
	case errors.As(err, &dnsErr):
		return ErrorDNS
	case errors.As(err, &recErr), errors.As(err, &alertErr), errors.As(err, &certErr),
		errors.As(err, &unkAuth), errors.As(err, &hostErr), errors.As(err, &invErr):
		return ErrorTLS
	case errors.As(err, &protoErr):
		return ErrorProtocol
	case errors.As(err, &netErr) && netErr.Timeout():
		return ErrorTimeout
	default:
		return ErrorOther
	}
}
