package triage

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// closedAddr returns an address nothing listens on: a stopped server.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr returns an address that accepts connections and never answers.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func runCheck(t *testing.T, c Check, timeout time.Duration) Result {
	t.Helper()
	return Run(context.Background(), []Check{c}, timeout)[0]
}

func want(t *testing.T, r Result, status, valueHas, hintHas string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Value, valueHas) || !strings.Contains(r.Hint, hintHas) {
		t.Errorf("%s: got %s %q hint %q; want %s with value containing %q and hint containing %q",
			r.Check, r.Status, r.Value, r.Hint, status, valueHas, hintHas)
	}
}

func TestSilentDependencyDoesNotHang(t *testing.T) {
	t.Parallel()
	addr := silentAddr(t)
	checks := []Check{
		RedisCheck(redisconn.Endpoint{Addrs: []string{addr}}),
		PostgresCheck("postgres://u@" + addr + "/db?sslmode=disable&connect_timeout=30"),
		HTTPCheck("api-latency", "http://"+addr+"/health", time.Second),
	}
	start := time.Now()
	res := Run(context.Background(), checks, 300*time.Millisecond)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("triage took %s with a 300ms timeout", d)
	}
	for _, r := range res {
		if r.Status != Fail {
			t.Errorf("%s: status %s, want fail: %s", r.Check, r.Status, r.Value)
		}
	}
}

func TestRedisStopped(t *testing.T) {
	t.Parallel()
	r := runCheck(t, RedisCheck(redisconn.Endpoint{Addrs: []string{closedAddr(t)}}), 5*time.Second)
	want(t, r, Fail, "connection refused", "redis-server --port 6379")
}

func TestRedisRateLimitedIP(t *testing.T) {
	t.Parallel()
	srv := testenv.SharedRedis(t)
	e := redisconn.Endpoint{Addrs: []string{srv.Addr}, DB: 7}
	c, err := NewRedisClient(e)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ip := fmt.Sprintf("rate_limit:10.9.%d.7", time.Now().UnixNano()%250)
	if err := c.Set(ctx, ip, 150, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Del(context.Background(), ip); c.Close() })
	r := runCheck(t, RedisCheck(e), 5*time.Second)
	want(t, r, OK, ip+"=150", "")
	top, err := TopRateLimits(ctx, c, 0)
	if err != nil || !hasKey(top, ip, 150) {
		t.Fatalf("TopRateLimits = %+v, %v", top, err)
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	pg := testenv.SharedPostgres(t)
	r := runCheck(t, PostgresCheck(pg.URL(pg.CreateDB(t))), 10*time.Second)
	want(t, r, OK, "active", "")
}

func TestPostgresStopped(t *testing.T) {
	t.Parallel()
	r := runCheck(t, PostgresCheck("postgres://tars:s3cretpw@"+closedAddr(t)+"/tars?sslmode=disable"), 5*time.Second)
	want(t, r, Fail, "connect", "PostgreSQL is not answering")
	if strings.Contains(r.Value, "s3cretpw") {
		t.Errorf("value shows the password: %s", r.Value)
	}
}

func writeCert(t *testing.T, notAfter time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tars.test"},
		NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCertExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name   string
		left   time.Duration
		status string
		value  string
		hint   string
	}{
		{"5 days", 5 * 24 * time.Hour, Fail, "in 5d", "renew it"},
		{"20 days", 20 * 24 * time.Hour, Warn, "in 20d", "renew it"},
		{"expired", -3 * time.Hour, Fail, "h ago", "has expired"},
		{"a year", 365 * 24 * time.Hour, OK, "in 365d", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCheck(t, CertFileCheck("api", writeCert(t, now.Add(tc.left).Add(time.Minute)), clock), 5*time.Second)
			want(t, r, tc.status, tc.value, tc.hint)
		})
	}
}

func TestKeyAge(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(p, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(100 * 24 * time.Hour)
	want(t, runCheck(t, KeyAgeCheck("signing", p, func() time.Time { return now }), time.Second), Warn, "100 days", "90-day")
}

func TestLogBurstOf401s(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	var b strings.Builder
	old := now.Add(-3 * time.Hour).Format("2006-01-02 15:04:05")
	for range 100 {
		fmt.Fprintf(&b, "%s INFO [dashboard-api] GET /api/agents 401 Unauthorized duration=0.4ms\n", old)
	}
	ts := now.Add(-time.Minute).Format("2006-01-02 15:04:05")
	for range 40 {
		fmt.Fprintf(&b, "%s INFO [dashboard-api] GET /api/agents 401 Unauthorized duration=0.4ms\n", ts)
	}
	fmt.Fprintf(&b, "%s INFO [dashboard-api] JWT issued user=admin\n", ts)
	fmt.Fprintf(&b, `{"timestamp":%q,"level":"INFO","service":"hypersync","message":"HyperSync applied agent=a1 latency=12ms"}`+"\n", now.UTC().Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(dir, "dashboard-api.log"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCheck(t, LogCheck(dir, time.Hour, func() time.Time { return now }), 5*time.Second)
	want(t, r, Warn, "401=40 ", `"401 Unauthorized"`)
	want(t, r, Warn, "jwt_issued=1 ", "jwt decode")
	want(t, r, Warn, "hypersync_applied=1", "")
}

func TestExpiredJWT(t *testing.T) {
	t.Parallel()
	issued := time.Now().Add(-4 * time.Hour)
	s, err := auth.NewSigner([]byte(strings.Repeat("k", 32)), time.Hour, func() time.Time { return issued })
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue("admin", "admin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d, err := DecodeJWT(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Expired || d.Claims["sub"] != "admin" || Relative(*d.ExpiresAt, now) != "3h ago" {
		t.Fatalf("decoded %+v, relative %q", d, Relative(*d.ExpiresAt, now))
	}
	if _, err := DecodeJWT("not.a-jwt", now); err == nil {
		t.Fatal("malformed token decoded")
	}
}

func TestDNS(t *testing.T) {
	t.Parallel()
	want(t, runCheck(t, DNSCheck([]string{"localhost", "127.0.0.1", "localhost"}), 5*time.Second), OK, "localhost=", "")
	want(t, runCheck(t, DNSCheck([]string{"no-such-host.invalid"}), 5*time.Second), Fail, "no-such-host.invalid", "resolv.conf")
}

func hasKey(rl []RateLimit, key string, count int64) bool {
	for _, r := range rl {
		if r.Key == key && r.Count == count {
			return true
		}
	}
	return false
}
