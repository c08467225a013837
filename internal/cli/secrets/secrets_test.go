package secrets

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/secrets"
)

func TestNewCmdGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    string
		want    string // "dir format stdout force"
		wantErr string
	}{
		{name: "defaults", args: "--dir d", want: "d files false false"},
		{name: "env force", args: "--dir d --format env --force", want: "d env false true"},
		{name: "k8s stdout", args: "--format k8s --stdout", want: " k8s true false"},
		{name: "stdout needs k8s", args: "--stdout", wantErr: "--stdout is for --format k8s"},
		{name: "small rsa", args: "--rsa-bits 1024", wantErr: "too small"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}
			var got *GenerateOptions
			cmd := NewCmdGenerate(f, func(_ context.Context, o *GenerateOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join([]string{got.Dir, got.Format, boolStr(got.Stdout), boolStr(got.Force)}, " "); s != tt.want {
				t.Errorf("opts %q, want %q", s, tt.want)
			}
		})
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func Test_generateRun(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "s")
	ios, _, out, errOut := iostreams.Test()
	if err := generateRun(context.Background(), &GenerateOptions{IO: ios, Dir: dir, Format: "files", RSABits: 2048}); err != nil {
		t.Fatal(err)
	}
	secret, _ := os.ReadFile(filepath.Join(dir, secrets.JWTSecretFile))
	pw, _ := os.ReadFile(filepath.Join(dir, secrets.AdminPasswordFile))
	all := out.String() + errOut.String()
	if strings.Contains(all, strings.TrimSpace(string(secret))) || strings.Contains(all, strings.TrimSpace(string(pw))) {
		t.Error("a secret value was printed")
	}
	if !strings.Contains(out.String(), filepath.Join(dir, "rsa_private.pem")+"\t0600\n") || !strings.Contains(errOut.String(), "✓ Wrote 7 file(s)") {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}

	ios, _, _, _ = iostreams.Test()
	err := generateRun(context.Background(), &GenerateOptions{IO: ios, Dir: dir, Format: "files", RSABits: 2048})
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || len(cmdutil.Hints(err)) == 0 {
		t.Fatalf("second run: %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, secrets.JWTSecretFile)); !bytes.Equal(again, secret) {
		t.Error("secret overwritten without --force")
	}

	ios, _, out, _ = iostreams.Test()
	if err := generateRun(context.Background(), &GenerateOptions{IO: ios, Format: "k8s", Stdout: true, Namespace: "tars-prod", RSABits: 2048}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "kind: Secret") != 6 {
		t.Errorf("k8s stdout %q", out)
	}
}
