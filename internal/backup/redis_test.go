package backup

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// redisAt is the connection to database db of the standalone server at
// addr, with password (none when empty).
func redisAt(addr string, db int, password string) RedisConn {
	return RedisConn{Server: redisconn.Endpoint{Addrs: []string{addr}, DB: db, Password: password}}
}

func TestCRCJones(t *testing.T) {
	t.Parallel()
	// The check value of crc-64-jones, from Redis's crc64.c.
	if got := crcJonesUpdate(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Errorf("crc-64-jones(123456789) = %016x", got)
	}
	// Streaming in pieces gives the same value.
	if got := crcJonesUpdate(crcJonesUpdate(0, []byte("1234")), []byte("56789")); got != 0xe9c6d914c4b8d9ca {
		t.Errorf("in two pieces: %016x", got)
	}
}

// fakeRDB builds a minimal RDB with a correct checksum.
func fakeRDB(body string) []byte {
	b := []byte("REDIS0010" + body + "\xff")
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], crcJonesUpdate(0, b))
	return append(b, sum[:]...)
}

func TestCheckRDB(t *testing.T) {
	t.Parallel()
	good := fakeRDB("\xfe\x00some keys")
	if v, err := checkRDB(iotest.OneByteReader(bytes.NewReader(good))); err != nil || v != 10 {
		t.Fatalf("good RDB one byte at a time: %d, %v", v, err)
	}
	flipped := bytes.Clone(good)
	flipped[12] ^= 1
	noSum := fakeRDB("x")
	copy(noSum[len(noSum)-8:], make([]byte, 8))
	for name, tc := range map[string]struct {
		data []byte
		msg  string
	}{
		"flipped":     {flipped, "CRC-64"},
		"cut short":   {good[:len(good)-5], "cut short"},
		"not an RDB":  {[]byte("hello world, this is not redis"), "not an RDB file"},
		"empty":       {nil, "not an RDB file"},
		"no checksum": {noSum, ""},
	} {
		_, err := checkRDB(bytes.NewReader(tc.data))
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", name, err, tc.msg)
		}
	}

	// A corrupt RDB with a matching manifest checksum: verify catches it,
	// and deep verification's redis-server refuses it too.
	r := newRepo(t)
	s := create(t, r, nil, &rawSource{spec: (&RedisRDBSource{}).Spec(), data: flipped})
	rep, err := r.Verify(t.Context(), s, VerifyOptions{})
	if err != nil || rep.OK() || !strings.Contains(rep.Problems()[0], "CRC-64") {
		t.Errorf("verify of a corrupt RDB: %v %v", err, rep.Problems())
	}
}

func TestCopyUntilMark(t *testing.T) {
	t.Parallel()
	mark := []byte(strings.Repeat("m", 40))
	payload := bytes.Repeat([]byte("payload-"), 50_000)
	var out bytes.Buffer
	src := iotest.HalfReader(bytes.NewReader(append(append(bytes.Clone(payload), mark...), "trailing replication stream"...)))
	if err := copyUntilMark(&out, src, mark); err != nil || !bytes.Equal(out.Bytes(), payload) {
		t.Errorf("copyUntilMark: %v, %d bytes, want %d", err, out.Len(), len(payload))
	}
	out.Reset()
	if err := copyUntilMark(&out, bytes.NewReader(payload), mark); err == nil || !strings.Contains(err.Error(), "before its end mark") {
		t.Errorf("no mark: %v", err)
	}
}

// TestRedisAuthAndUnreachable checks the password path of both Redis
// sources and how they fail.
func TestRedisAuthAndUnreachable(t *testing.T) {
	t.Parallel()
	srv := testenv.Redis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(t.Context(), "requirepass", "s3cret pass").Err(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()

	for _, src := range []Source{
		&RedisRDBSource{Conn: redisAt(srv.Addr, 0, "s3cret pass")},
		&RedisKeysSource{Conn: redisAt(srv.Addr, 0, "s3cret pass")},
	} {
		s := create(t, newRepo(t), nil, src)
		if p := s.Manifest.Parts[0]; !strings.HasPrefix(p.ServerVersion, "7.") || strings.Contains(p.Source, "s3cret") {
			t.Errorf("%s: part %+v", src.Spec().Name, p)
		}
	}
	for _, tt := range []struct {
		src  Source
		want error
	}{
		{&RedisRDBSource{Conn: redisAt(srv.Addr, 0, "wrong")}, ErrAuth},
		{&RedisRDBSource{Conn: redisAt(srv.Addr, 0, "")}, ErrAuth},
		{&RedisKeysSource{Conn: redisAt(srv.Addr, 0, "wrong")}, ErrAuth},
		{&RedisRDBSource{Conn: redisAt(closed, 0, "")}, ErrUnreachable},
		{&RedisKeysSource{Conn: redisAt(closed, 0, "")}, ErrUnreachable},
	} {
		_, err := newRepo(t).Create(t.Context(), CreateOptions{Sources: []Source{tt.src}})
		if !errors.Is(err, tt.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s %s: %v, want %v", tt.src.Spec().Name, tt.src.Spec().Source, err, tt.want)
		}
	}
}

// TestRedisTLSAndACLUser backs up a server that speaks TLS only and
// admits only an ACL user, through the endpoint the configuration gives:
// both sources authenticate as that user over TLS, and a restore goes the
// same way.
func TestRedisTLSAndACLUser(t *testing.T) {
	t.Parallel()
	certs := testenv.TLSCerts(t)
	srv := testenv.RedisWith(t, testenv.RedisOptions{
		Users: []string{"backup on >backup-pw ~* &* +@all", "default off"},
		TLS:   &testenv.RedisTLS{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
	})
	e, err := redisconn.FromConfig(config.RedisConfig{Host: "127.0.0.1", Port: srv.Port, Username: "backup", DB: 2,
		TLS: config.RedisTLSConfig{Enabled: true, CAFile: certs.CAFile}}, "backup-pw")
	if err != nil {
		t.Fatal(err)
	}
	conn := RedisConn{Server: e}
	c, err := conn.client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := conn.String(); got != "rediss://"+srv.Addr+"/2" {
		t.Errorf("String = %q", got)
	}
	r := newRepo(t)
	set := create(t, r, nil, &RedisRDBSource{Conn: conn}, &RedisKeysSource{Conn: conn})
	for _, p := range set.Manifest.Parts {
		if p.Entries == 0 && p.Kind == KindRedisKeys {
			t.Errorf("part %s: no keys", p.Name)
		}
		if !strings.HasPrefix(p.Source, "rediss://") || strings.Contains(p.Source, "backup-pw") {
			t.Errorf("part %s: source %q", p.Name, p.Source)
		}
	}
	// A wrong password over TLS is still a refused password.
	bad := conn
	bad.Server.Password = "wrong"
	for _, src := range []Source{&RedisRDBSource{Conn: bad}, &RedisKeysSource{Conn: bad}} {
		if _, err := newRepo(t).Create(ctx, CreateOptions{Sources: []Source{src}}); !errors.Is(err, ErrAuth) {
			t.Errorf("%s with a wrong password: %v, want ErrAuth", src.Spec().Name, err)
		}
	}
	// A Sentinel or Cluster endpoint names no single server.
	cluster := RedisConn{Server: redisconn.Endpoint{Mode: config.RedisCluster, Addrs: []string{srv.Addr}}}
	for _, src := range []Source{&RedisRDBSource{Conn: cluster}, &RedisKeysSource{Conn: cluster}} {
		if _, err := newRepo(t).Create(ctx, CreateOptions{Sources: []Source{src}}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s of a cluster: %v, want ErrUnsupported", src.Spec().Name, err)
		}
	}
}

// TestRedisKeysExpiredSinceBackup restores a key dump whose keys' expiry
// times have passed: they are not restored, and the result says so.
func TestRedisKeysExpiredSinceBackup(t *testing.T) {
	t.Parallel()
	src := testenv.Redis(t)
	c := redis.NewClient(&redis.Options{Addr: src.Addr})
	defer c.Close()
	ctx := t.Context()
	if err := c.Set(ctx, "live", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	payload, err := c.Dump(ctx, "live").Result()
	if err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	enc := json.NewEncoder(&dump)
	_ = enc.Encode(keyDumpHeader{Format: FormatRedisKeys, Version: 1})
	_ = enc.Encode(keyRecord{Key: []byte("live"), Value: []byte(payload)})
	_ = enc.Encode(keyRecord{Key: []byte("gone"), Value: []byte(payload), ExpireAt: 1000}) // 1970
	_ = enc.Encode(keyRecord{End: true, Keys: 2})
	r := newRepo(t)
	s := create(t, r, nil, &rawSource{spec: (&RedisKeysSource{}).Spec(), data: dump.Bytes(), entries: 2})
	tg := &RedisKeysTarget{Conn: redisAt(src.Addr, 3, "")}
	done, err := r.Restore(ctx, s, RestoreOptions{Targets: map[string]Target{"redis-keys": tg}})
	if err != nil {
		t.Fatal(err)
	}
	if done[0].Entries != 1 || !strings.Contains(done[0].Note, "1 keys had expired") {
		t.Errorf("restored %+v", done[0])
	}
	if rep, err := r.Verify(ctx, s, VerifyOptions{Deep: true}); err != nil || !rep.OK() {
		t.Errorf("deep verify: %v %v", err, rep.Problems())
	}
	// A dump cut before its end record is refused.
	cut := dump.Bytes()[:bytes.LastIndex(dump.Bytes()[:dump.Len()-1], []byte("\n"))+1]
	s2 := create(t, r, nil, &rawSource{spec: (&RedisKeysSource{}).Spec(), data: cut, entries: 2})
	_, err = r.Restore(ctx, s2, RestoreOptions{Targets: map[string]Target{"redis-keys": &RedisKeysTarget{Conn: redisAt(src.Addr, 4, "")}}})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "without its end record") {
		t.Errorf("cut dump: %v", err)
	}
	c4 := redis.NewClient(&redis.Options{Addr: src.Addr, DB: 4})
	defer c4.Close()
	if n, _ := c4.DBSize(context.Background()).Result(); n != 0 {
		t.Errorf("a refused restore wrote %d keys", n)
	}
}
