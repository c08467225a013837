package config

import (
	"errors"
	"slices"
	"testing"
)

// TestRedisValidation: the redis.tls keys load from a file and the
// environment, and the combinations that cannot work are problems that
// name the key and point at the line that set it.
func TestRedisValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string
		env      []string
		wantKeys []string // keys of the problems, in order; nil: valid
	}{
		{name: "off", file: "redis:\n  host: r\n"},
		{name: "on with the system roots", file: "redis:\n  tls:\n    enabled: true\n"},
		{name: "on with everything", file: "redis:\n  tls:\n    enabled: true\n    ca_file: /ca.pem\n    cert_file: /c.pem\n    key_file: /k.pem\n    server_name: redis.internal\n"},
		{name: "from the environment", env: []string{"TARS_REDIS_TLS_ENABLED", "true", "TARS_REDIS_TLS_CA_FILE", "/ca.pem"}},
		{name: "files without enabled", file: "redis:\n  tls:\n    ca_file: /ca.pem\n    server_name: redis.internal\n",
			wantKeys: []string{"redis.tls.ca_file", "redis.tls.server_name"}},
		{name: "certificate without key", file: "redis:\n  tls:\n    enabled: true\n    cert_file: /c.pem\n",
			wantKeys: []string{"redis.tls.cert_file"}},
		{name: "key without certificate", file: "redis:\n  tls:\n    enabled: true\n    key_file: /k.pem\n",
			wantKeys: []string{"redis.tls.key_file"}},
		{name: "not a boolean", file: "redis:\n  tls:\n    enabled: maybe\n", wantKeys: []string{"redis.tls.enabled"}},
		{name: "standalone with seeds", file: "redis:\n  enabled: true\n  host: r\n  addrs: [a:1]\n", wantKeys: []string{"redis.addrs"}},
		{name: "cluster with seeds", file: "redis:\n  enabled: true\n  mode: cluster\n  host: r\n  addrs: [a:1]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := LoadOptions{Getenv: env(tt.env...), ReadFile: files(nil)}
			if tt.file != "" {
				opts.ConfigFile, opts.ReadFile = "f.yaml", files(map[string]string{"f.yaml": tt.file})
			}
			res, err := Load(opts)
			var keys []string
			var ve *ValidationError
			if errors.As(err, &ve) {
				for _, p := range ve.Problems {
					keys = append(keys, p.Key)
					if tt.file != "" && p.Source == "" {
						t.Errorf("problem %q does not say where it was set", p)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keys, tt.wantKeys) {
				t.Fatalf("problems %v (%v), want keys %v", keys, err, tt.wantKeys)
			}
			if tt.wantKeys == nil && tt.env != nil && (!res.Config.Redis.TLS.Enabled || res.Config.Redis.TLS.CAFile != "/ca.pem") {
				t.Errorf("redis.tls from the environment: %+v", res.Config.Redis.TLS)
			}
		})
	}
}
