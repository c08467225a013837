package backup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// RedisConn says how to reach one Redis server: the standalone server
// (or one named node) of an endpoint that redisconn.FromConfig builds from
// the configuration — with its ACL user, password and TLS — and how long
// connecting may take.
type RedisConn struct {
	Server redisconn.Endpoint
	// Timeout bounds connecting; 0 means DefaultConnectTimeout.
	Timeout time.Duration
}

// String names the server and database, without the password:
// redis://HOST:PORT/DB, rediss:// over TLS, unix://PATH?db=DB.
func (c RedisConn) String() string {
	return c.url(true)
}

// url is String, with the database or without.
func (c RedisConn) url(db bool) string {
	addr := ""
	if len(c.Server.Addrs) > 0 {
		addr = c.Server.Addrs[0]
	}
	switch {
	case c.Server.Network == "unix" && db:
		return fmt.Sprintf("unix://%s?db=%d", addr, c.Server.DB)
	case c.Server.Network == "unix":
		return "unix://" + addr
	}
	scheme := "redis"
	if c.Server.TLS != nil {
		scheme = "rediss"
	}
	if !db {
		return scheme + "://" + addr
	}
	return fmt.Sprintf("%s://%s/%d", scheme, addr, c.Server.DB)
}

func (c RedisConn) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultConnectTimeout
}

// options are the client options of backups: long reads and writes (a
// DUMP or RESTORE of a large key, a slow server), no retries (a command is
// not sent twice), two connections.
func (c RedisConn) options() redisconn.Options {
	return redisconn.Options{
		DialTimeout:  c.timeout(),
		ReadTimeout:  time.Minute,
		WriteTimeout: time.Minute,
		PoolSize:     2,
	}
}

// client opens the go-redis client of the one server.
func (c RedisConn) client() (*redis.Client, error) {
	rc, _, err := redisconn.OpenNode(c.Server, c.options())
	if err != nil {
		return nil, redisFailure(err, c, "connect")
	}
	return rc, nil
}

// redisFailure classifies a failure talking to the server (a go-redis
// error or a reply of the replication handshake) with redisconn's one
// classification: refused credentials are [ErrAuth], no connection
// [ErrUnreachable], a configuration that names no single server
// [ErrUnsupported].
func redisFailure(err error, c RedisConn, what string) error {
	err = redisconn.Classify(err)
	switch {
	case errors.Is(err, redisconn.ErrPermission):
		return fmt.Errorf("%w: redis %s: %s: %w", ErrAuth, c.url(false), what, err)
	case errors.Is(err, redisconn.ErrUnreachable):
		return fmt.Errorf("%w: redis %s: %s: %w", ErrUnreachable, c.url(false), what, err)
	case errors.Is(err, redisconn.ErrNotStandalone), errors.Is(err, redisconn.ErrConfig):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return fmt.Errorf("redis %s: %s: %w", c.url(false), what, err)
}

// rdbIdleTimeout is how long a replication transfer may stay silent. While
// it prepares the snapshot, a master sends a newline every second.
const rdbIdleTimeout = 2 * time.Minute

// RedisRDBSource fetches a point-in-time RDB snapshot of the whole server
// the way `redis-cli --rdb` does: it opens a connection, asks to be an
// RDB-only replica (REPLCONF rdb-only 1, Redis 7 and later; older servers
// ignore it) and sends SYNC; the master forks, writes the snapshot and
// streams it over the connection. No access to the Redis host's disk is
// needed, and the snapshot's own CRC-64 is checked as it arrives. The user
// needs permission to run SYNC (the "replication" ACL category).
type RedisRDBSource struct {
	Conn RedisConn
}

var _ Source = (*RedisRDBSource)(nil)

// Spec describes the part.
func (s *RedisRDBSource) Spec() PartSpec {
	return PartSpec{Name: "redis-rdb", Kind: KindRedisRDB, Format: FormatRDB, Source: s.Conn.url(false), Ext: ".rdb", Compress: true}
}

// Dump streams the snapshot to w.
func (s *RedisRDBSource) Dump(ctx context.Context, w io.Writer) (DumpResult, error) {
	var res DumpResult
	conn, _, err := redisconn.Dial(ctx, s.Conn.Server, s.Conn.options())
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, redisFailure(err, s.Conn, "connect")
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	rc := &respConn{c: conn, r: bufio.NewReaderSize(deadlineReader{conn}, 64<<10)}

	if pw := s.Conn.Server.Password; pw != "" {
		auth := []string{"AUTH", pw}
		if u := s.Conn.Server.Username; u != "" {
			auth = []string{"AUTH", u, pw}
		}
		if err := rc.simple(auth...); err != nil {
			return res, redisFailure(err, s.Conn, "AUTH")
		}
	}
	info, err := rc.bulk("INFO", "server")
	if err != nil {
		return res, redisFailure(err, s.Conn, "INFO")
	}
	res.ServerVersion = infoField(info, "redis_version")
	// Redis 7+: send only the snapshot, do not treat us as a replica.
	if err := rc.simple("REPLCONF", "rdb-only", "1"); err != nil && !isRedisError(err) {
		return res, err
	}
	if err := rc.send("SYNC"); err != nil {
		return res, err
	}
	check := &rdbCheck{}
	if err := rc.readRDB(io.MultiWriter(w, check)); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, redisFailure(err, s.Conn, "SYNC")
	}
	if _, err := check.result(); err != nil {
		return res, err
	}
	return res, nil
}

// respConn speaks just enough RESP for the replication handshake.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

// deadlineReader renews the read deadline before each read, so a transfer
// that stalls fails instead of hanging.
type deadlineReader struct{ c net.Conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	_ = d.c.SetReadDeadline(time.Now().Add(rdbIdleTimeout))
	return d.c.Read(p)
}

// redisError is an error reply (-ERR ...). Its RedisError method makes it
// a go-redis reply error, which redisconn.Classify reads.
type redisError string

func (e redisError) Error() string { return string(e) }

// RedisError marks a reply error, as go-redis's redis.Error interface wants.
func (redisError) RedisError() {}

func isRedisError(err error) bool {
	var re redisError
	return errors.As(err, &re)
}

func (rc *respConn) send(args ...string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = rc.c.SetWriteDeadline(time.Now().Add(rdbIdleTimeout))
	_, err := rc.c.Write(b.Bytes())
	return err
}

func (rc *respConn) line() (string, error) {
	s, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	s = strings.TrimRight(s, "\r\n")
	if strings.HasPrefix(s, "-") {
		return "", redisError(strings.TrimPrefix(s, "-"))
	}
	return s, nil
}

// simple sends a command and reads a status reply.
func (rc *respConn) simple(args ...string) error {
	if err := rc.send(args...); err != nil {
		return err
	}
	s, err := rc.line()
	if err != nil {
		return err
	}
	if !strings.HasPrefix(s, "+") {
		return fmt.Errorf("%s: unexpected reply %q", args[0], s)
	}
	return nil
}

// bulk sends a command and reads a bulk-string reply.
func (rc *respConn) bulk(args ...string) (string, error) {
	if err := rc.send(args...); err != nil {
		return "", err
	}
	s, err := rc.line()
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, "$"))
	if !strings.HasPrefix(s, "$") || err != nil || n < 0 || n > 1<<20 {
		return "", fmt.Errorf("%s: unexpected reply %q", args[0], s)
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(rc.r, b); err != nil {
		return "", err
	}
	return string(b[:n]), nil
}

// readRDB reads the master's reply to SYNC: newlines while it prepares,
// then either "$LENGTH" and that many bytes (snapshot written to disk
// first), or "$EOF:MARK" and bytes up to the 40-byte MARK (diskless).
func (rc *respConn) readRDB(w io.Writer) error {
	for {
		b, err := rc.r.ReadByte()
		if err != nil {
			return err
		}
		if b != '\n' {
			_ = rc.r.UnreadByte()
			break
		}
	}
	s, err := rc.line()
	if err != nil {
		return err
	}
	if mark, ok := strings.CutPrefix(s, "$EOF:"); ok {
		if len(mark) != 40 {
			return fmt.Errorf("SYNC: bad end mark in %q", s)
		}
		return copyUntilMark(w, rc.r, []byte(mark))
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "$"), 10, 64)
	if !strings.HasPrefix(s, "$") || err != nil || n < 0 {
		return fmt.Errorf("SYNC: unexpected reply %q", s)
	}
	got, err := io.CopyN(w, rc.r, n)
	if err != nil {
		return fmt.Errorf("SYNC: the snapshot stopped after %d of %d bytes: %w", got, n, err)
	}
	return nil
}

// copyUntilMark copies r to w up to (not including) mark.
func copyUntilMark(w io.Writer, r io.Reader, mark []byte) error {
	buf := make([]byte, 0, 256<<10)
	chunk := make([]byte, 128<<10)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if i := bytes.Index(buf, mark); i >= 0 {
			_, werr := w.Write(buf[:i])
			return werr
		}
		if keep := len(mark) - 1; len(buf) > keep {
			if _, werr := w.Write(buf[:len(buf)-keep]); werr != nil {
				return werr
			}
			buf = append(buf[:0], buf[len(buf)-keep:]...)
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("SYNC: the snapshot stopped before its end mark: %w", err)
		}
	}
}

// infoField returns a field of an INFO reply.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// crcJones is the CRC-64 Redis puts at the end of an RDB file
// (crc-64-jones: reflected, polynomial 0xad93d23594c935a9, no initial or
// final xor), in hash/crc64's reversed form.
var crcJones = crc64.MakeTable(0x95ac9329ac4bc9b5)

// crcJonesUpdate continues a crc-64-jones. hash/crc64 inverts the value
// before and after; inverting around its call undoes that.
func crcJonesUpdate(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, crcJones, p)
}

// rdbCheck checks an RDB stream as it passes: the REDIS magic and version,
// the EOF opcode, and the CRC-64 in the last 8 bytes, which covers
// everything before it.
type rdbCheck struct {
	head    []byte
	pending []byte // the last bytes seen, at most 8: maybe the checksum
	last    byte   // the byte before pending: the EOF opcode, at the end
	crc     uint64
	n       int64
}

func (c *rdbCheck) Write(p []byte) (int, error) {
	if len(c.head) < 9 {
		c.head = append(c.head, p[:min(len(p), 9-len(c.head))]...)
	}
	c.n += int64(len(p))
	var scratch [16]byte
	all := p
	if len(p) < 8 {
		all = append(append(scratch[:0], c.pending...), p...)
	} else {
		c.crcAdd(c.pending)
	}
	if k := len(all) - 8; k > 0 {
		c.crcAdd(all[:k])
		c.pending = append(c.pending[:0], all[k:]...)
	} else {
		c.pending = append(c.pending[:0], all...)
	}
	return len(p), nil
}

func (c *rdbCheck) crcAdd(b []byte) {
	if len(b) > 0 {
		c.crc = crcJonesUpdate(c.crc, b)
		c.last = b[len(b)-1]
	}
}

// result returns the RDB version, or why the stream is not a whole RDB.
func (c *rdbCheck) result() (int, error) {
	if c.n < 9+9 || string(c.head[:5]) != "REDIS" {
		return 0, fmt.Errorf("%w: not an RDB file (it does not start with REDIS)", ErrCorrupt)
	}
	version, err := strconv.Atoi(string(c.head[5:9]))
	if err != nil {
		return 0, fmt.Errorf("%w: RDB version %q", ErrCorrupt, c.head[5:9])
	}
	if version < 5 {
		return version, nil // no checksum before RDB version 5
	}
	if c.last != 0xFF {
		return version, fmt.Errorf("%w: the RDB does not end with its EOF marker: it was cut short", ErrCorrupt)
	}
	stored := binary.LittleEndian.Uint64(c.pending)
	if stored == 0 {
		return version, nil // the server runs with rdbchecksum no
	}
	if stored != c.crc {
		return version, fmt.Errorf("%w: the RDB's CRC-64 is %016x, its footer says %016x", ErrCorrupt, c.crc, stored)
	}
	return version, nil
}

// checkRDB checks an RDB file's content.
func checkRDB(r io.Reader) (int, error) {
	c := &rdbCheck{}
	if _, err := io.Copy(c, r); err != nil {
		return 0, err
	}
	return c.result()
}
