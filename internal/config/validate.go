package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Validate checks the configuration's values and their combinations and
// returns a [*ValidationError] listing every problem, or nil.
func (c *Config) Validate() error {
	if p := c.validate(nil); len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	return nil
}

// validate checks values; origin maps keys to where their value came from,
// so each problem points at the line that set it.
func (c *Config) validate(origin map[string]string) []Problem {
	var problems []Problem
	add := func(key, format string, args ...any) {
		problems = append(problems, Problem{Source: origin[key], Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	for _, f := range Fields() {
		if len(f.Enum) == 0 {
			continue
		}
		switch v := c.Value(f).(type) {
		case string:
			if !enumContains(f, v) {
				add(f.Key, "expected one of %s, got %q", strings.Join(f.Enum, ", "), v)
			}
		case []string:
			for _, item := range v {
				if !enumContains(f, item) {
					add(f.Key, "expected items from %s, got %q", strings.Join(f.Enum, ", "), item)
				}
			}
		}
	}

	port := func(key string, p int) {
		if p < 1 || p > 65535 {
			add(key, "expected a port between 1 and 65535, got %d", p)
		}
	}
	port("api.port", c.API.Port)
	for _, key := range ServiceSectionKeys() {
		sec, _ := c.Services.Section(key)
		port("services."+key+".port", sec.Port)
		if sec.HasPeerPort {
			port("services."+key+".peer_port", sec.PeerPort)
		}
	}
	if c.API.Host == "" {
		add("api.host", "expected a host or address to listen on, got an empty string")
	}
	if c.API.Workers < 1 {
		add("api.workers", "expected at least 1, got %d", c.API.Workers)
	}

	for key, d := range map[string]time.Duration{
		"api.read_timeout": c.API.ReadTimeout, "api.write_timeout": c.API.WriteTimeout,
		"api.idle_timeout": c.API.IdleTimeout, "api.drain_timeout": c.API.DrainTimeout,
	} {
		if d <= 0 {
			add(key, "expected a positive duration such as 30s, got %s", d)
		}
	}
	if (c.API.TLS.CertFile == "") != (c.API.TLS.KeyFile == "") {
		add("api.tls.cert_file", "TLS needs both api.tls.cert_file and api.tls.key_file")
	}
	if c.API.TLS.ClientCAFile != "" && c.API.TLS.CertFile == "" {
		add("api.tls.client_ca_file", "mTLS needs TLS; set api.tls.cert_file and api.tls.key_file too")
	}
	if c.Paths.Home == "" {
		add("paths.home", "expected a directory, got an empty string")
	}

	port("redis.port", c.Redis.Port)
	if c.Redis.DB < 0 || c.Redis.DB > 15 {
		add("redis.db", "expected a database number between 0 and 15, got %d", c.Redis.DB)
	}
	if c.Redis.Enabled && c.Redis.Host == "" && len(c.Redis.Addrs) == 0 {
		add("redis.enabled", "is true but neither redis.host nor redis.addrs is set")
	}
	if c.Redis.Enabled && (c.Redis.Mode == "" || c.Redis.Mode == RedisStandalone) && len(c.Redis.Addresses()) > 1 {
		// The mode says how to connect, never the number of addresses.
		add("redis.addrs", "is for sentinel and cluster modes; standalone mode connects to redis.host:redis.port alone (set redis.mode, or leave redis.addrs empty)")
	}
	if c.Redis.Mode == RedisSentinel && c.Redis.SentinelMaster == "" {
		add("redis.mode", "is sentinel but redis.sentinel_master is not set; set it to the Sentinel master name")
	}
	if c.Redis.Mode == RedisCluster && c.Redis.DB != 0 {
		add("redis.db", "Redis Cluster has only database 0, got %d", c.Redis.DB)
	}
	if t := c.Redis.TLS; !t.Enabled {
		// A TLS setting without TLS is a forgotten switch: the password
		// would travel in clear while the file says otherwise.
		for _, kv := range [][2]string{{"redis.tls.ca_file", t.CAFile}, {"redis.tls.cert_file", t.CertFile},
			{"redis.tls.key_file", t.KeyFile}, {"redis.tls.server_name", t.ServerName}} {
			if kv[1] != "" {
				add(kv[0], "is set but redis.tls.enabled is false; set redis.tls.enabled: true to connect over TLS")
			}
		}
	} else if t.CertFile != "" && t.KeyFile == "" {
		add("redis.tls.cert_file", "a client certificate needs its key; set redis.tls.key_file too")
	} else if t.KeyFile != "" && t.CertFile == "" {
		add("redis.tls.key_file", "a client key needs its certificate; set redis.tls.cert_file too")
	}

	switch c.Database.Driver {
	case DatabasePostgres:
		port("database.port", c.Database.Port)
		if c.Database.Host == "" {
			add("database.driver", "is postgres but database.host is not set")
		}
		if c.Database.Name == "" {
			add("database.driver", "is postgres but database.name is not set")
		}
	case DatabaseSQLite:
		if c.Database.Path == "" {
			add("database.driver", "is sqlite but database.path is not set")
		}
	}

	if c.Auth.JWTExpiry < 1 {
		add("auth.jwt_expiry", "expected a lifetime of at least 1 second, got %d", c.Auth.JWTExpiry)
	}
	if c.Auth.RefreshExpiry < c.Auth.JWTExpiry {
		add("auth.refresh_expiry", "expected at least auth.jwt_expiry (%d), got %d", c.Auth.JWTExpiry, c.Auth.RefreshExpiry)
	}
	if c.Auth.RBAC && !c.Auth.Enabled {
		add("auth.rbac", "RBAC needs authentication; set auth.enabled to true")
	}
	if c.Auth.RequireMFA && !c.Auth.Enabled {
		add("auth.require_mfa", "MFA needs authentication; set auth.enabled to true")
	}

	if c.RateLimiting.Enabled && c.RateLimiting.LoginRequestsPerMinute < 1 {
		add("rate_limiting.login_requests_per_minute", "expected at least 1 when rate limiting is enabled, got %d", c.RateLimiting.LoginRequestsPerMinute)
	}
	if c.RateLimiting.GlobalRequestsPerMinute < 0 {
		add("rate_limiting.global_requests_per_minute", "expected 0 (no global limit) or more, got %d", c.RateLimiting.GlobalRequestsPerMinute)
	}
	if c.RateLimiting.Enabled && c.RateLimiting.RequestsPerMinute < 1 {
		add("rate_limiting.requests_per_minute", "expected at least 1 when rate limiting is enabled, got %d", c.RateLimiting.RequestsPerMinute)
	}
	if c.Compliance.DataRetentionDays < 0 {
		add("compliance.data_retention_days", "expected 0 or more days, got %d", c.Compliance.DataRetentionDays)
	}
	if c.Encryption.Enabled && c.Encryption.KeyFile == "" {
		add("encryption.enabled", "is true but encryption.key_file is not set; set it to the AES-256 key file")
	}
	if c.Signing.Enabled && c.Signing.KeyFile == "" {
		add("signing.enabled", "is true but signing.key_file is not set; set it to the RSA private key (PEM)")
	}
	return problems
}

// enumContains matches case-insensitively: the runbook writes log levels in
// upper case, operators often type them in lower.
func enumContains(f Field, v string) bool {
	return slices.ContainsFunc(f.Enum, func(e string) bool { return strings.EqualFold(e, v) })
}
