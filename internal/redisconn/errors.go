package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Errors, for errors.Is. [Classify] adds [ErrPermission] and
// [ErrUnreachable] to go-redis's errors; the others come from [FromConfig],
// [Open] and [OpenNode].
var (
	// ErrPermission: Redis refused the credentials (WRONGPASS, NOAUTH) or
	// the command (NOPERM).
	ErrPermission = errors.New("redis permission denied")
	// ErrUnreachable: no connection to Redis, or no answer in time.
	ErrUnreachable = errors.New("redis unreachable")
	// ErrConfig: the redis.* configuration cannot describe a connection
	// (no address, an unknown mode, an unreadable TLS file...).
	ErrConfig = errors.New("invalid redis configuration")
	// ErrNotStandalone: a single-server client was asked for while
	// redis.mode is sentinel or cluster, without naming the node.
	ErrNotStandalone = errors.New("this needs one standalone redis server")
)

// Classify returns err wrapped with [ErrPermission] when Redis refused the
// credentials or the command, with [ErrUnreachable] when there was no
// connection or no answer, and unchanged otherwise: a nil error, another
// reply error, an interruption (context.Canceled), and a TLS handshake
// that failed (the server was reached; its certificate or ours was not
// accepted, which more retries or another port do not fix). The message
// of the result is err's, after the sentinel's. Errors already classified
// are returned as they are.
//
// Any Redis error reply (a go-redis error, or any error type with
// go-redis's RedisError method) that starts with WRONGPASS, NOAUTH or
// NOPERM, or an old server's "ERR invalid password", is a permission
// error.
func Classify(err error) error {
	switch {
	case err == nil, errors.Is(err, ErrPermission), errors.Is(err, ErrUnreachable):
		return err
	case isRefused(err):
		return fmt.Errorf("%w: %w", ErrPermission, err)
	case isTLS(err), errors.Is(err, context.Canceled):
		return err
	case isUnreachable(err):
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// isRefused reports a reply that refuses the credentials or the command.
func isRefused(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"WRONGPASS", "NOAUTH", "NOPERM", "ERR invalid password", "ERR invalid username-password"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// isTLS reports a failed TLS handshake: our verification of the server's
// certificate, a server that does not speak TLS, or the server's alert
// (it refused our certificate, or asked for one we did not send).
func isTLS(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
		op       *net.OpError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &header) ||
		(errors.As(err, &op) && op.Op == "remote error")
}

// isUnreachable reports a failed dial, a dropped connection, or no answer
// in time.
func isUnreachable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) {
		return true
	}
	// go-redis's own words when no sentinel or cluster node answered; it
	// has no exported error for them.
	msg := err.Error()
	return strings.Contains(msg, "all sentinels specified in configuration are unreachable") ||
		strings.Contains(msg, "cluster has no nodes")
}
