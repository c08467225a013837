package compliance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
)

func TestEvaluate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hexKey := filepath.Join(dir, "hex.key")
	rawKey := filepath.Join(dir, "raw.key")
	shortKey := filepath.Join(dir, "short.key")
	for p, b := range map[string][]byte{hexKey: []byte(strings.Repeat("ab", 32) + "\n"), rawKey: make([]byte, 32), shortKey: []byte("short")} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		mutate    func(*config.Config)
		auditOpen bool
		want      map[string]string
	}{
		{"all pass", func(c *config.Config) {
			c.Encryption.Enabled, c.Encryption.KeyFile = true, hexKey
			c.API.TLS.CertFile = "cert.pem"
			c.Audit.Enabled = true
			c.Compliance.DataRetentionDays = 90
		}, true, map[string]string{"encryption_at_rest": ControlPass, "encryption_in_transit": ControlPass, "audit_logging": ControlPass, "data_retention": ControlPass}},
		{"raw 32-byte key", func(c *config.Config) { c.Encryption.Enabled, c.Encryption.KeyFile = true, rawKey },
			false, map[string]string{"encryption_at_rest": ControlPass, "audit_logging": ControlFail}},
		{"short key", func(c *config.Config) { c.Encryption.Enabled, c.Encryption.KeyFile = true, shortKey },
			false, map[string]string{"encryption_at_rest": ControlFail}},
		{"missing key", func(c *config.Config) { c.Encryption.Enabled, c.Encryption.KeyFile = true, filepath.Join(dir, "nope") },
			false, map[string]string{"encryption_at_rest": ControlFail}},
		{"nothing set", func(*config.Config) {}, false,
			map[string]string{"encryption_at_rest": ControlFail, "encryption_in_transit": ControlFail, "audit_logging": ControlFail, "data_retention": ControlFail}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &config.Config{}
			cfg.Compliance.EnforcementMode = "warn"
			cfg.Compliance.Controls = []string{"encryption_at_rest", "encryption_in_transit", "audit_logging", "data_retention"}
			tc.mutate(cfg)
			rep := Evaluate(cfg, tc.auditOpen, now)
			got := map[string]string{}
			for _, c := range rep.Controls {
				got[c.Name] = c.Status
			}
			compliant := true
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %s, want %s (%+v)", k, got[k], v, rep.Controls)
				}
			}
			for _, v := range got {
				compliant = compliant && v == ControlPass
			}
			if rep.Compliant != compliant || len(rep.Failed()) == 0 != compliant || !rep.CheckedAt.Equal(now) {
				t.Errorf("report %+v: compliant %v, %d failed", rep, rep.Compliant, len(rep.Failed()))
			}
		})
	}
}
