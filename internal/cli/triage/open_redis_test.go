package triage

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestOpenRedis: the ratelimit and sessions commands open the configured
// Redis through redisconn, and say why they cannot: one server only (exit
// 1), a refused password (4), nothing listening (3), a bad TLS file (2).
func TestOpenRedis(t *testing.T) {
	t.Parallel()
	srv := testenv.RedisWith(t, testenv.RedisOptions{Users: []string{"tars on >right-pw ~* &* +@all", "default off"}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr).Port
	l.Close()
	tests := []struct {
		name     string
		redis    config.RedisConfig
		wantCode int
		wantErr  string
	}{
		{"ACL user", config.RedisConfig{Host: "127.0.0.1", Port: srv.Port, Username: "tars", Password: "right-pw"}, 0, ""},
		{"wrong password", config.RedisConfig{Host: "127.0.0.1", Port: srv.Port, Username: "tars", Password: "wrong-pw"}, 4, "WRONGPASS"},
		{"unreachable", config.RedisConfig{Host: "127.0.0.1", Port: dead}, 3, "connection refused"},
		{"sentinel", config.RedisConfig{Mode: "sentinel", Host: "127.0.0.1", Port: dead, SentinelMaster: "mymaster"}, 1, "redis.mode is sentinel"},
		{"cluster", config.RedisConfig{Mode: "cluster", Host: "127.0.0.1", Port: dead}, 1, "use redis-cli"},
		{"bad TLS CA", config.RedisConfig{Host: "127.0.0.1", Port: srv.Port, TLS: config.RedisTLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, 2, "redis.tls.ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.redis.Enabled = true
			c, err := openRedis(context.Background(), &config.Config{Redis: tt.redis}, func(string) string { return "" })
			if c != nil {
				defer c.Close()
			}
			if code := cmdutil.ExitCode(err); code != tt.wantCode || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v (exit %d), want exit %d with %q", err, code, tt.wantCode, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "wrong-pw") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
