package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	dvault "github.com/tars-ops/tarsctl/internal/deploy/vault"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

func newCmd(t *testing.T, output string, runF func(context.Context, *RenderOptions) error) (*iostreams.IOStreams, *bytes.Buffer, *bytes.Buffer, func(args ...string) error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: output}}
	return ios, out, errOut, func(args ...string) error {
		cmd := NewCmdRender(f, runF)
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		return cmd.Execute()
	}
}

func TestNewCmdRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args    string
		want    string // kv role namespace policy
		wantErr string
	}{
		{args: "", want: "secret/tars tars tars-prod tars-read"},
		{args: "--kv-path kv/data/tars-staging --role tars-staging --namespace tars-staging --policy tars-staging-read",
			want: "kv/tars-staging tars-staging tars-staging tars-staging-read"},
		{args: "--kv-path team/kv/tars --kv-mount team/kv", want: "team/kv/tars tars tars-prod tars-read"},
		{args: "--kv-path secret", wantErr: "--kv-path"},
		{args: "--namespace Prod", wantErr: "--namespace"},
		{args: "--ttl forever", wantErr: "--ttl"},
		{args: "--force", wantErr: "--force is for --output-dir"},
		{args: "extra", wantErr: "takes no arguments"},
	}
	for _, tt := range tests {
		var got *RenderOptions
		_, _, _, run := newCmd(t, "text", func(_ context.Context, o *RenderOptions) error { got = o; return nil })
		err := run(strings.Fields(tt.args)...)
		if tt.wantErr != "" {
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want usage error %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		p := got.Params
		if s := strings.Join([]string{p.KV.String(), p.Role, p.Namespace, p.Policy}, " "); s != tt.want {
			t.Errorf("%q: params %q, want %q", tt.args, s, tt.want)
		}
	}
}

func TestRenderStdout(t *testing.T) {
	t.Parallel()
	_, out, _, run := newCmd(t, "text", nil)
	if err := run("--namespace", "tars-staging"); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"# ==> tars-read.hcl <==\n", "path \"secret/data/tars/*\" {\n  capabilities = [\"read\"]\n}",
		"# ==> tars-role.json <==\n", `"tars-staging"`,
		"# ==> vault-setup.sh <==\n", "vault write auth/kubernetes/role/tars @tars-role.json\n",
		"# ==> pod-annotations.yaml <==\n", "vault.hashicorp.com/agent-inject: \"true\"\n",
		"# ==> values-vault.yaml <==\n", "  enabled: true\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}

	_, out, _, run = newCmd(t, "json", nil)
	if err := run(); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Policy      string
		Role        map[string]any
		Commands    []string
		Annotations map[string]string
		HelmValues  string   `json:"helm_values"`
		Secrets     []string `json:"secret_paths"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Policy, "secret/metadata/tars/*") || r.Role["ttl"] != "24h" || len(r.Commands) != 4 ||
		r.Annotations["vault.hashicorp.com/role"] != "tars" || len(r.Secrets) != 6 || !strings.Contains(r.HelmValues, "vault:") {
		t.Errorf("json: %+v", r)
	}
}

func TestRenderOutputDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "vault")
	_, out, errOut, run := newCmd(t, "text", nil)
	if err := run("--output-dir", dir); err != nil {
		t.Fatal(err)
	}
	modes := map[string]os.FileMode{"tars-read.hcl": 0o644, "tars-role.json": 0o644, dvault.SetupFile: 0o755,
		dvault.AnnotationsFile: 0o644, dvault.ValuesFile: 0o644}
	for name, mode := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", name, fi.Mode().Perm(), mode)
		}
		if !strings.Contains(out.String(), filepath.Join(dir, name)+"\n") {
			t.Errorf("stdout does not list %s", name)
		}
	}
	if !strings.Contains(errOut.String(), "Wrote 5 file(s)") {
		t.Errorf("stderr %q", errOut)
	}

	// A second run refuses, and changes nothing; --force replaces.
	before, _ := os.ReadFile(filepath.Join(dir, "tars-role.json"))
	_, _, _, run = newCmd(t, "text", nil)
	err := run("--output-dir", dir, "--namespace", "other")
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != cmdutil.ExitFailure || !strings.Contains(err.Error(), "already exists; nothing was written") {
		t.Fatalf("second run: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "tars-role.json")); !bytes.Equal(before, after) {
		t.Error("a refused run changed tars-role.json")
	}
	_, _, _, run = newCmd(t, "text", nil)
	if err := run("--output-dir", dir, "--namespace", "other", "--force"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "tars-role.json")); !bytes.Contains(after, []byte(`"other"`)) {
		t.Errorf("--force did not replace tars-role.json: %s", after)
	}
}
