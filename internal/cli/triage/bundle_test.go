package triage

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestBundleRedactsPlantedSecrets plants secrets in the config file, the
// environment and the logs, and checks that none reaches the bundle.
func TestBundleRedactsPlantedSecrets(t *testing.T) {
	t.Parallel()
	const (
		redisPw   = "PlantedRedisPw-4417"
		pgPw      = "PlantedPgPw-5521"
		jwtSecret = "PlantedJWTSecret-abcdefghijklmnopqrstuvwxyz"
		envToken  = "PlantedEnvToken-9090"
		logPw     = "hunter2-in-a-log"
	)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "tars.yaml")
	dead := testenv.FreePort(t)
	yaml := fmt.Sprintf("redis:\n  enabled: true\n  host: 127.0.0.1\n  port: %d\n  password: %s\ndatabase:\n  url: postgres://tars:%s@127.0.0.1:%d/tars?sslmode=disable\n", dead, redisPw, pgPw, dead)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, "--config", cfgFile)
	s.env = []string{"TARS_JWT_SECRET=" + jwtSecret, "TARS_API_TOKEN=" + envToken}

	signer, err := auth.NewSigner([]byte(jwtSecret), time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := signer.Issue("alice", "admin")
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(s.home, "logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Format("2006-01-02 15:04:05")
	old := time.Now().Add(-48 * time.Hour).Format("2006-01-02 15:04:05")
	logText := strings.Join([]string{
		old + " INFO [dashboard-api] old line outside the window",
		ts + " INFO [dashboard-api] GET /api/agents 401 Unauthorized duration=0.4ms",
		ts + " ERROR [dashboard-api] redis: connect redis://:" + redisPw + "@127.0.0.1:6379/0 refused",
		ts + " ERROR [dashboard-api] database: postgres://tars:" + pgPw + "@db/tars failed",
		ts + " INFO [dashboard-api] request Authorization: Bearer " + tok,
		ts + " DEBUG [dashboard-api] login body password=" + logPw + " token=" + envToken,
		ts + " DEBUG [dashboard-api] secret " + jwtSecret,
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(logDir, "dashboard-api.log"), []byte(logText), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bundle.tar.gz")
	code, stdout, stderr := s.run("triage", "bundle", "--output", out, "--timeout", "2s")
	if code != 0 {
		t.Fatalf("bundle: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, sec := range []string{redisPw, pgPw, jwtSecret, envToken, logPw, tok} {
		if strings.Contains(stdout+stderr, sec) {
			t.Errorf("command output shows %q", sec)
		}
	}
	contents := readBundle(t, out)
	for _, want := range []string{"manifest.json", "config.json", "status.json", "checks.json", "version.json", "system.json", "logs/dashboard-api.log"} {
		if _, ok := contents[want]; !ok {
			t.Errorf("bundle lacks %s; has %v", want, keys(contents))
		}
	}
	for name, body := range contents {
		for _, sec := range []string{redisPw, pgPw, jwtSecret, envToken, logPw, tok, "eyJ"} {
			if strings.Contains(body, sec) {
				t.Errorf("%s contains secret %q", name, sec)
			}
		}
	}
	logOut := contents["logs/dashboard-api.log"]
	if strings.Contains(logOut, "old line") || !strings.Contains(logOut, "401 Unauthorized") || !strings.Contains(logOut, "[REDACTED]") {
		t.Errorf("bundled log:\n%s", logOut)
	}
	var m struct {
		Files []struct {
			Path       string
			Redactions int
		}
		Redacted   []string
		Redactions int
	}
	if err := json.Unmarshal([]byte(contents["manifest.json"]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Redactions < 6 || len(m.Redacted) == 0 || len(m.Files) != len(contents)-1 {
		t.Errorf("manifest: %+v", m)
	}
	if !strings.Contains(contents["checks.json"], `"check": "redis"`) {
		t.Errorf("checks.json:\n%s", contents["checks.json"])
	}
}

func readBundle(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = string(b)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
