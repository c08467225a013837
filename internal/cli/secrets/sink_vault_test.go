package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// TestSinkFlags sets VAULT_ADDR, so it cannot run in parallel.
func TestSinkFlags(t *testing.T) {
	tests := []struct {
		args, env, wantErr string
	}{
		{args: "--sink vault --vault-addr http://127.0.0.1:1"},
		{args: "--sink vault", env: "http://127.0.0.1:1"},
		{args: "--sink vault", wantErr: "pass --vault-addr URL or set VAULT_ADDR"},
		{args: "--sink vault --vault-addr http://x --dir d", wantErr: "--dir is for --sink files"},
		{args: "--sink vault --vault-addr http://x --format env", wantErr: "--format is for --sink files"},
		{args: "--sink vault --vault-addr http://x --vault-path secret", wantErr: "--vault-path"},
		{args: "--vault-path secret/x", wantErr: "--vault-path is for --sink vault"},
		{args: "--vault-token-file f", wantErr: "--vault-token-file is for --sink vault"},
	}
	for _, tt := range tests {
		ios, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}
		var got *GenerateOptions
		cmd := NewCmdGenerate(f, func(_ context.Context, o *GenerateOptions) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(tt.args))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		t.Setenv("VAULT_ADDR", tt.env)
		err := cmd.Execute()
		if tt.wantErr != "" {
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err = %v, want usage error %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.args, err)
			continue
		}
		if got.Sink != sinkVault || got.Vault.Addr == "" || got.Vault.Path != "secret/tars" {
			t.Errorf("%s: opts %+v", tt.args, got)
		}
	}
}

// sinkRun runs the real tarsctl binary with env (and nothing of the
// developer's VAULT_*).
func sinkRun(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testenv.Tarsctl(t), args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "VAULT_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "NO_COLOR=1", "HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// TestSinkVault runs `tarsctl secrets generate --sink vault` against a
// real Vault dev server: the set lands as KV v2 entries, a second run is
// refused with nothing changed, --force writes new versions, and the
// failures get their exit codes. No secret value reaches stdout or stderr.
func TestSinkVault(t *testing.T) {
	t.Parallel()
	v := testenv.Vault(t)
	root, err := api.NewClient(&api.Config{Address: v.Addr})
	if err != nil {
		t.Fatal(err)
	}
	root.SetToken(v.Token)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "tars-cli-" + hex.EncodeToString(b)
	path := "secret/" + prefix
	env := []string{"VAULT_ADDR=" + v.Addr, "VAULT_TOKEN=" + v.Token}

	code, out, errOut := sinkRun(t, env, "secrets", "generate", "--sink", "vault", "--vault-path", path, "--rsa-bits", "2048")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "secret/data/"+prefix+"/jwt-secret\tversion 1\tvalue\n") || !strings.Contains(errOut, "Wrote 7 secret(s) to Vault") {
		t.Errorf("stdout %q\nstderr %q", out, errOut)
	}
	kv := root.KVv2("secret")
	read := func() map[string]string {
		m := map[string]string{}
		for _, e := range []struct{ name, field string }{{"jwt-secret", "value"}, {"aes-key", "value"}, {"rsa-private", "key"},
			{"rsa-public", "key"}, {"redis", "password"}, {"database", "password"}, {"admin", "password"}} {
			s, err := kv.Get(t.Context(), prefix+"/"+e.name)
			if err != nil {
				t.Fatalf("read %s: %v", e.name, err)
			}
			m[e.name], _ = s.Data[e.field].(string)
		}
		return m
	}
	first := read()
	noSecrets := func(s string) {
		t.Helper()
		for name, val := range first {
			if strings.Contains(s, strings.TrimSpace(val)) {
				t.Errorf("output holds the value of %s", name)
			}
		}
		if strings.Contains(s, v.Token) {
			t.Error("output holds the token")
		}
	}
	noSecrets(out + errOut)

	// Again: refused (exit 1), nothing changed.
	code, out, errOut = sinkRun(t, env, "secrets", "generate", "--sink", "vault", "--vault-path", path, "--rsa-bits", "2048")
	if code != 1 || !strings.Contains(errOut, "secret already exists") || !strings.Contains(errOut, "--force") {
		t.Errorf("second run: exit %d\n%s%s", code, out, errOut)
	}
	if read()["jwt-secret"] != first["jwt-secret"] {
		t.Error("a refused run changed jwt-secret")
	}

	// --force with the token from a file, -o json.
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(v.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = sinkRun(t, []string{"VAULT_ADDR=" + v.Addr}, "secrets", "generate", "--sink", "vault",
		"--vault-path", path, "--vault-token-file", tokFile, "--force", "--rsa-bits", "2048", "-o", "json")
	if code != 0 {
		t.Fatalf("--force: exit %d\n%s%s", code, out, errOut)
	}
	var res struct {
		Sink, Addr, Mount, Path string
		Secrets                 []struct {
			Path    string
			Version int
		}
		AESKeyID string `json:"aes_key_id"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Sink != "vault" || res.Mount != "secret" || res.Path != prefix || len(res.Secrets) != 7 || res.Secrets[0].Version != 2 || res.AESKeyID == "" {
		t.Errorf("json %+v", res)
	}
	noSecrets(out + errOut)
	second := read()
	if second["jwt-secret"] == first["jwt-secret"] || second["admin"] == first["admin"] {
		t.Error("--force did not write new values")
	}

	// Failures and their exit codes.
	if err := root.Sys().Mount(prefix+"-v1", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Sys().Unmount(prefix + "-v1") })
	closed := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t))
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"unreachable", []string{"VAULT_ADDR=" + closed, "VAULT_TOKEN=x"}, nil, cmdutil.ExitUnreachable, "vault unreachable"},
		{"bad token", []string{"VAULT_ADDR=" + v.Addr, "VAULT_TOKEN=wrong-token"}, nil, cmdutil.ExitPermission, "permission denied by vault"},
		{"no token", []string{"VAULT_ADDR=" + v.Addr}, nil, cmdutil.ExitPermission, "no Vault token"},
		{"kv v1", env, []string{"--vault-path", prefix + "-v1/tars"}, cmdutil.ExitUsage, "vault kv enable-versioning " + prefix + "-v1/"},
		{"no mount", env, []string{"--vault-path", prefix + "-none/tars"}, cmdutil.ExitFailure, "vault secrets enable -path=" + prefix + "-none kv-v2"},
		{"bad addr", env, []string{"--vault-addr", "vault.example:8200"}, cmdutil.ExitUsage, "want http(s)://HOST:PORT"},
	} {
		args := append([]string{"secrets", "generate", "--sink", "vault", "--rsa-bits", "2048", "--vault-path", path + "-" + strings.ReplaceAll(tt.name, " ", "-")}, tt.args...)
		code, out, errOut := sinkRun(t, tt.env, args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, want %d with %q\n%s%s", tt.name, code, tt.code, tt.want, out, errOut)
		}
		if strings.Contains(errOut, "wrong-token") || strings.Contains(errOut, "panic") {
			t.Errorf("%s: stderr %q", tt.name, errOut)
		}
	}
}
