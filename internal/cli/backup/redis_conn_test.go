package backup

import (
	"errors"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/backup"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// TestRedisConn: the backup reaches the server redis.* describes, with its
// user, password and TLS; a Sentinel or Cluster deployment and a bad TLS
// file are usage errors that say why.
func TestRedisConn(t *testing.T) {
	t.Parallel()
	base := func(c *config.Config) {
		c.Redis.Enabled, c.Redis.Host, c.Redis.Port, c.Redis.DB, c.Redis.Username = true, "redis.internal", 6380, 5, "backup"
		c.Redis.Password = "env:REDIS_PW"
	}
	getenv := func(k string) string {
		if k == "REDIS_PW" {
			return "pw-from-env"
		}
		return ""
	}
	tests := []struct {
		name    string
		edit    func(*config.Config)
		want    string // String of the connection
		wantErr string
		// notStandalone: the error is backup.ErrUnsupported and
		// redisconn.ErrNotStandalone.
		notStandalone bool
	}{
		{name: "standalone", edit: func(*config.Config) {}, want: "redis://redis.internal:6380/5"},
		{name: "TLS", edit: func(c *config.Config) { c.Redis.TLS.Enabled = true }, want: "rediss://redis.internal:6380/5"},
		{name: "sentinel", edit: func(c *config.Config) { c.Redis.Mode, c.Redis.SentinelMaster = "sentinel", "mymaster" },
			wantErr: `redis.mode is sentinel (master "mymaster" via sentinel redis.internal:6380)`, notStandalone: true},
		{name: "cluster", edit: func(c *config.Config) { c.Redis.Mode, c.Redis.DB = "cluster", 0 },
			wantErr: "redis.mode is cluster (cluster redis.internal:6380)", notStandalone: true},
		{name: "bad CA file", edit: func(c *config.Config) { c.Redis.TLS.Enabled, c.Redis.TLS.CAFile = true, "/nonexistent/ca.pem" },
			wantErr: "redis.tls.ca_file"},
		{name: "disabled", edit: func(c *config.Config) { c.Redis.Enabled = false }, wantErr: "redis.enabled is false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, _, _ := testConfig(t, func(c *config.Config) { base(c); tt.edit(c) })()
			conn, err := redisConn(cfg, getenv)
			if tt.wantErr != "" {
				if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v (exit %d), want exit 2 with %q", err, cmdutil.ExitCode(err), tt.wantErr)
				}
				if tt.notStandalone && (!errors.Is(err, backup.ErrUnsupported) || !errors.Is(err, redisconn.ErrNotStandalone)) {
					t.Errorf("error %v: want backup.ErrUnsupported and redisconn.ErrNotStandalone", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if conn.String() != tt.want || conn.Server.Username != "backup" || conn.Server.Password != "pw-from-env" {
				t.Errorf("connection %s as %q (password set: %v), want %s as backup", conn, conn.Server.Username, conn.Server.Password != "", tt.want)
			}
		})
	}
}
