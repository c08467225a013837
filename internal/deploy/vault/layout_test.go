package vault

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestParseKVPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, mount string
		want      KVPath
		wantErr   string
	}{
		{in: "secret/tars", want: KVPath{"secret", "tars"}},
		{in: "/secret/tars/", want: KVPath{"secret", "tars"}},
		{in: "secret/data/tars", want: KVPath{"secret", "tars"}},
		{in: "secret/prod/tars", want: KVPath{"secret", "prod/tars"}},
		{in: "kv/prod/tars", mount: "kv/prod", want: KVPath{"kv/prod", "tars"}},
		{in: "kv/prod/data/tars", mount: "kv/prod/", want: KVPath{"kv/prod", "tars"}},
		{in: "", wantErr: "empty KV path"},
		{in: "secret", wantErr: "no path under the mount"},
		{in: "secret/data", wantErr: "no path under mount"},
		{in: "secret/data/", wantErr: "no path under mount"},
		{in: "secret/tars/*", wantErr: "no wildcards"},
		{in: "secret//tars", wantErr: "empty segments"},
		{in: "secret/../tars", wantErr: `".." segments`},
		{in: `secret/ta"rs`, wantErr: "quotes"},
		{in: "other/tars", mount: "kv", wantErr: `not under mount "kv"`},
	}
	for _, tt := range tests {
		got, err := ParseKVPath(tt.in, tt.mount)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseKVPath(%q, %q) err = %v, want %q", tt.in, tt.mount, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseKVPath(%q, %q) = %+v, %v; want %+v", tt.in, tt.mount, got, err, tt.want)
		}
	}
	p := KVPath{"secret", "tars"}
	if p.Data("redis") != "secret/data/tars/redis" || p.Metadata("redis") != "secret/metadata/tars/redis" || p.String() != "secret/tars" {
		t.Errorf("paths: %s %s %s", p.Data("redis"), p.Metadata("redis"), p)
	}
}

// TestValuesCoverEntries: every entry has a value, and the values are the
// bare forms the pods' files hold.
func TestValuesCoverEntries(t *testing.T) {
	t.Parallel()
	set, err := secrets.Generate(secrets.Options{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	v := Values(set)
	if len(v) != len(Entries()) {
		t.Fatalf("%d values for %d entries", len(v), len(Entries()))
	}
	for _, e := range Entries() {
		if v[e.Name] == "" {
			t.Errorf("entry %s has no value", e.Name)
		}
		if strings.HasSuffix(v[e.Name], "\n") && !strings.HasPrefix(e.Name, "rsa-") {
			t.Errorf("entry %s ends in a newline", e.Name)
		}
	}
	if k, err := hex.DecodeString(v["aes-key"]); err != nil || len(k) != 32 {
		t.Errorf("aes-key is not 64 hex digits: %d bytes, %v", len(k), err)
	}
	if !strings.HasPrefix(v["rsa-private"], "-----BEGIN PRIVATE KEY-----") || !strings.HasPrefix(v["rsa-public"], "-----BEGIN PUBLIC KEY-----") {
		t.Error("RSA entries are not PEM")
	}
}
