package triage

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// Hints: the runbook's cause and remedy, shortened to one line each.
const (
	hintRedisDown    = `Redis is not answering ("Connection refused" in the runbook): start it (redis-server --port 6379 &, docker-compose up -d redis) and check redis.host/redis.port`
	hintRedisAuth    = "Redis refused the credentials or the command: check redis.username and redis.password, and the user's ACL rules"
	hintRedisLatency = "Redis is slow (high-latency playbook): check redis-cli --latency-history and the server's memory and clients"
	hintRateLimited  = "IPs are being rate limited: wait for the 60s window, or reset one with tarsctl triage ratelimit reset IP --yes (emergency only), or raise rate_limiting.requests_per_minute"
	hintPGDown       = "PostgreSQL is not answering: start it (docker-compose up -d postgres) and check database.url or database.host/port"
	hintPGSlow       = "long-running queries (high-latency playbook, Database slow queries): inspect pg_stat_activity, optimise or cancel them (SELECT pg_cancel_backend(pid))"
	hintDiskLow      = "disk almost full: remove old logs and local backups (keep 7 days), or grow the volume"
	hintCertExpiring = "certificate expires soon: renew it (cert-manager renews automatically; locally replace api.tls.cert_file and restart dashboard-api)"
	hintCertExpired  = "certificate has expired: clients will refuse TLS; renew it now and restart dashboard-api"
	hintKeyOld       = "key is older than the 90-day rotation policy: rotate it (runbook Key Rotation)"
	hintAPISlow      = "API above the 500ms p95 threshold (high-latency playbook): check CPU, Redis and PostgreSQL latency, scale out"
)

// HTTPCheck GETs url and fails on a transport error or a non-2xx status;
// it warns when the answer takes longer than slow.
func HTTPCheck(name, url string, slow time.Duration) Check {
	return Check{Name: name, Run: func(ctx context.Context) Result {
		start := time.Now()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fail("check the configured URL", "bad url: %v", err)
		}
		resp, err := http.DefaultClient.Do(req)
		d := time.Since(start)
		if err != nil {
			return fail("the daemon is not reachable: start it with tarsctl start --all and see tarsctl logs", "GET %s: %v", url, errors.Unwrap(err))
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fail("the daemon answers but is unhealthy: see tarsctl health and tarsctl logs", "GET %s: %s in %s", url, resp.Status, round(d))
		}
		if d > slow {
			return warn(hintAPISlow, "%s in %s", resp.Status, round(d))
		}
		return ok("%s in %s", resp.Status, round(d))
	}}
}

// ServiceState is what [ServiceCheck] needs to know about a local daemon.
type ServiceState struct {
	State  string // running, stopped, stale
	PID    int
	Health string // healthy, unhealthy, unreachable
	Uptime time.Duration
}

// ServiceCheck checks a local daemon's pidfile and /health through status.
func ServiceCheck(service string, status func(ctx context.Context) (ServiceState, error)) Check {
	return Check{Name: "service/" + service, Run: func(ctx context.Context) Result {
		st, err := status(ctx)
		if err != nil {
			return fail("check the run directory's permissions", "read pidfile: %v", err)
		}
		switch {
		case st.State == "stale":
			return fail("the daemon died and left its pidfile: see tarsctl logs "+service+", then tarsctl start "+service+" (start clears the stale pidfile)", "stale pidfile (process gone)")
		case st.State != "running":
			return fail("start it: tarsctl start "+service, "not running")
		case st.Health != "healthy":
			return fail("the daemon runs but /health says "+st.Health+": see tarsctl health "+service+" and tarsctl logs "+service, "pid %d, %s", st.PID, st.Health)
		}
		return ok("pid %d, healthy", st.PID)
	}}
}

// redisOptions tune triage's Redis clients: no retries and a short dial,
// so that a dead server fails fast.
var redisOptions = redisconn.Options{DialTimeout: 2 * time.Second}

// openRedis returns a client of the Redis e describes, in any mode
// (redisconn.Open), tuned for triage, and says where it connects.
func openRedis(e redisconn.Endpoint) (redis.UniversalClient, string, error) {
	return redisconn.Open(e, redisOptions)
}

// NewRedisClient returns a client of e's one server (redisconn.OpenNode),
// tuned for triage: the commands that scan or delete keys read one
// server, so Sentinel and Cluster are refused with
// redisconn.ErrNotStandalone.
func NewRedisClient(e redisconn.Endpoint) (*redis.Client, error) {
	c, _, err := redisconn.OpenNode(e, redisOptions)
	return c, err
}

// redisFail is the failing result of a Redis command: a refused password
// or command says so; anything else is Redis not answering.
func redisFail(err error, format string, args ...any) Result {
	hint := hintRedisDown
	if errors.Is(redisconn.Classify(err), redisconn.ErrPermission) {
		hint = hintRedisAuth
	}
	return fail(hint, format, args...)
}

// RedisCheck pings Redis, samples its latency like redis-cli --latency,
// reports memory and clients, and lists the most limited rate_limit keys.
// Sentinel mode is checked on the master; in Cluster mode PING and INFO
// reach one node and the rate_limit keys are not listed (they are spread
// over the nodes).
func RedisCheck(e redisconn.Endpoint) Check {
	return Check{Name: "redis", Run: func(ctx context.Context) Result {
		c, where, err := openRedis(e)
		if err != nil {
			return fail("check redis.* in the configuration", "%v", err)
		}
		defer c.Close()
		if err := c.Ping(ctx).Err(); err != nil {
			return redisFail(err, "PING %s: %v", where, err)
		}
		var worst, total time.Duration
		const samples = 10
		for range samples {
			t := time.Now()
			if err := c.Ping(ctx).Err(); err != nil {
				return redisFail(err, "PING %s: %v", where, err)
			}
			d := time.Since(t)
			total += d
			worst = max(worst, d)
		}
		info, _ := c.Info(ctx, "memory", "clients").Result()
		mem, clients := infoField(info, "used_memory_human"), infoField(info, "connected_clients")
		v := fmt.Sprintf("latency avg %s max %s, memory %s, %s clients", round(total/samples), round(worst), mem, clients)
		if node, ok := c.(*redis.Client); ok {
			limited, err := TopRateLimits(ctx, node, 3)
			if err != nil {
				return redisFail(err, "scan rate_limit keys: %v", err)
			}
			if len(limited) > 0 {
				var parts []string
				for _, l := range limited {
					parts = append(parts, fmt.Sprintf("%s=%d", l.Key, l.Count))
				}
				v += ", top rate limits: " + strings.Join(parts, " ")
			}
		} else {
			v += ", rate limits not listed (cluster mode)"
		}
		if worst > 50*time.Millisecond {
			return warn(hintRedisLatency, "%s", v)
		}
		return ok("%s", v)
	}}
}

// RateLimit is one rate_limit:* counter.
type RateLimit struct {
	Key   string        `json:"key"`
	Count int64         `json:"count"`
	TTL   time.Duration `json:"-"`
	TTLS  float64       `json:"ttl_seconds"`
}

// TopRateLimits returns up to n rate_limit:* counters, highest first
// (n <= 0: all).
func TopRateLimits(ctx context.Context, c *redis.Client, n int) ([]RateLimit, error) {
	var out []RateLimit
	iter := c.Scan(ctx, 0, "rate_limit:*", 500).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		v, err := c.Get(ctx, k).Result()
		if err != nil {
			continue // expired or not a counter (a sorted-set window)
		}
		cnt, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		ttl, _ := c.PTTL(ctx, k).Result()
		out = append(out, RateLimit{Key: k, Count: cnt, TTL: ttl, TTLS: ttl.Seconds()})
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b RateLimit) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Key, b.Key)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func infoField(info, key string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return "?"
}

// PostgresCheck connects to url and counts active and long-running
// (over 5 minutes) queries.
func PostgresCheck(url string) Check {
	return Check{Name: "postgres", Run: func(ctx context.Context) Result {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fail(hintPGDown, "connect: %v", pgErr(err))
		}
		defer conn.Close(context.Background())
		var active, long int
		err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'active'),
			count(*) FILTER (WHERE state = 'active' AND now() - query_start > interval '5 minutes')
			FROM pg_stat_activity WHERE pid <> pg_backend_pid()`).Scan(&active, &long)
		if err != nil {
			return fail(hintPGDown, "query pg_stat_activity: %v", pgErr(err))
		}
		var vacuum *time.Time
		_ = conn.QueryRow(ctx, `SELECT max(greatest(last_autovacuum, last_vacuum)) FROM pg_stat_user_tables`).Scan(&vacuum)
		v := fmt.Sprintf("%d active, %d running over 5m", active, long)
		if vacuum != nil {
			v += ", last vacuum " + vacuum.UTC().Format(time.RFC3339)
		}
		if long > 0 {
			return warn(hintPGSlow, "%s", v)
		}
		return ok("%s", v)
	}}
}

// pgErr keeps the cause of a connection error, without pgx's prefix that
// names the connection parameters.
func pgErr(err error) error {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	return err
}

// DiskCheck reports free space on the filesystem that holds dir: warn
// under 15% free, fail under 5%.
func DiskCheck(name, dir string) Check {
	return Check{Name: "disk/" + name, Run: func(context.Context) Result {
		var s syscall.Statfs_t
		if err := syscall.Statfs(dir, &s); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return ok("%s does not exist yet", dir)
			}
			return fail("check the path and its permissions", "statfs %s: %v", dir, err)
		}
		free := float64(s.Bavail) * float64(s.Bsize)
		totalB := float64(s.Blocks) * float64(s.Bsize)
		pct := 100 * free / totalB
		v := fmt.Sprintf("%.1f%% free (%.1f GiB) at %s", pct, free/(1<<30), dir)
		switch {
		case pct < 5:
			return fail(hintDiskLow, "%s", v)
		case pct < 15:
			return warn(hintDiskLow, "%s", v)
		}
		return ok("%s", v)
	}}
}

// CertFileCheck reads a PEM certificate and checks its expiry: fail when
// expired or under 7 days, warn under 30.
func CertFileCheck(name, path string, now func() time.Time) Check {
	return Check{Name: "tls/" + name, Run: func(context.Context) Result {
		b, err := os.ReadFile(path)
		if err != nil {
			return fail("check api.tls.cert_file", "read certificate: %v", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return fail("check api.tls.cert_file is a PEM certificate", "%s: no PEM block", path)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fail("check api.tls.cert_file is a PEM certificate", "parse %s: %v", path, err)
		}
		return certVerdict(cert.NotAfter, now())
	}}
}

func certVerdict(notAfter, now time.Time) Result {
	left := notAfter.Sub(now)
	v := fmt.Sprintf("expires %s (%s)", notAfter.UTC().Format(time.RFC3339), Relative(notAfter, now))
	switch {
	case left <= 0:
		return fail(hintCertExpired, "%s", v)
	case left < 7*24*time.Hour:
		return fail(hintCertExpiring, "%s", v)
	case left < 30*24*time.Hour:
		return warn(hintCertExpiring, "%s", v)
	}
	return ok("%s", v)
}

// KeyAgeCheck warns when the key file is older than the 90-day rotation
// policy (by modification time).
func KeyAgeCheck(name, path string, now func() time.Time) Check {
	return Check{Name: "key/" + name, Run: func(context.Context) Result {
		fi, err := os.Stat(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return ok("no key file at %s", path)
			}
			return fail("check the key file's permissions", "stat key: %v", err)
		}
		age := now().Sub(fi.ModTime())
		v := fmt.Sprintf("%d days old", int(age.Hours()/24))
		if age > 90*24*time.Hour {
			return warn(hintKeyOld, "%s", v)
		}
		return ok("%s", v)
	}}
}

// Relative says "in 3h" or "3h ago".
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	if d < 0 {
		return human(-d) + " ago"
	}
	return "in " + human(d)
}

func human(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// DNSCheck resolves the configured hosts (IP literals are skipped).
func DNSCheck(hosts []string) Check {
	return Check{Name: "dns", Run: func(ctx context.Context) Result {
		var parts, bad []string
		seen := map[string]bool{}
		for _, h := range hosts {
			if h == "" || net.ParseIP(h) != nil || seen[h] {
				continue
			}
			seen[h] = true
			t := time.Now()
			addrs, err := net.DefaultResolver.LookupHost(ctx, h)
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s: %v", h, err))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s=%s (%s)", h, addrs[0], round(time.Since(t))))
		}
		if len(bad) > 0 {
			return fail("check the host names in the configuration and /etc/resolv.conf (network playbook: nslookup)", "%s", strings.Join(bad, "; "))
		}
		if len(parts) == 0 {
			return ok("no host names to resolve")
		}
		return ok("%s", strings.Join(parts, ", "))
	}}
}
