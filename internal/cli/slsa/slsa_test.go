package slsa

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

const (
	keys     = "../../../testdata/keys"
	artifact = "../../../testdata/provenance/artifact.txt"
)

func testFactory(ios *iostreams.IOStreams) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Globals:   &cmdutil.GlobalFlags{Output: "text"},
		Getenv:    func(string) string { return "" },
		Now:       func() time.Time { return time.Unix(1764288000, 0) },
	}
}

func TestNewCmdVerify(t *testing.T) {
	t.Parallel()
	digest := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name    string
		args    []string
		want    VerifyOptions
		wantErr string
	}{
		{name: "minimal", args: []string{"--provenance", "p.json", "--public-key", "k.pem"}, want: VerifyOptions{Provenance: "p.json", PublicKey: "k.pem"}},
		{name: "policy", args: []string{"--provenance", "p.json", "--public-key", "k.pem", "--artifact", "a", "--artifact", "b", "--digest", digest, "--builder-id", "B", "--source-uri", "S"},
			want: VerifyOptions{Provenance: "p.json", PublicKey: "k.pem", Artifacts: []string{"a", "b"}, Digests: []string{digest}, BuilderID: "B", SourceURI: "S"}},
		{name: "no provenance", args: []string{"--public-key", "k.pem"}, wantErr: "--provenance FILE is required"},
		{name: "no key", args: []string{"--provenance", "p.json"}, wantErr: "--public-key KEY is required"},
		{name: "bad digest", args: []string{"--provenance", "p.json", "--public-key", "k.pem", "--digest", "md5:abc"}, wantErr: "only sha256"},
		{name: "positional", args: []string{"p.json"}, wantErr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			var got *VerifyOptions
			cmd := NewCmdVerify(testFactory(ios), func(_ context.Context, o *VerifyOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
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
			if got.Provenance != tt.want.Provenance || got.PublicKey != tt.want.PublicKey || strings.Join(got.Artifacts, ",") != strings.Join(tt.want.Artifacts, ",") ||
				strings.Join(got.Digests, ",") != strings.Join(tt.want.Digests, ",") || got.BuilderID != tt.want.BuilderID || got.SourceURI != tt.want.SourceURI {
				t.Fatalf("opts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNewCmdGenerate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ok", []string{"a.tar.gz", "--output", "p.json"}, ""},
		{"no artifact", []string{"--output", "p.json"}, "at least one ARTIFACT"},
		{"no output", []string{"a.tar.gz"}, "--output FILE is required"},
		{"key without sign", []string{"a", "--output", "p", "--signing-key", "k"}, "--signing-key needs --sign"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			var got *GenerateOptions
			cmd := NewCmdGenerate(testFactory(ios), func(_ context.Context, o *GenerateOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tt.wantErr == "" {
				if err != nil || got.OutputFile != "p.json" || len(got.Artifacts) != 1 {
					t.Fatalf("err %v opts %+v", err, got)
				}
				return
			}
			if !strings.Contains(errString(err), tt.wantErr) || cmdutil.ExitCode(err) != 2 {
				t.Fatalf("err = %v, want usage error %q", err, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// generate writes signed provenance for the artifact fixture.
func generate(t *testing.T, key string) string {
	t.Helper()
	ios, _, _, stderr := iostreams.Test()
	out := filepath.Join(t.TempDir(), "tars-v1.0.2.provenance.json")
	err := generateRun(t.Context(), &GenerateOptions{
		IO: ios, Getenv: func(k string) string {
			return map[string]string{"SOURCE_DATE_EPOCH": "1764288000"}[k]
		}, Now: time.Now, Dir: t.TempDir(),
		Artifacts: []string{artifact}, OutputFile: out, Sign: true, SigningKey: testenv.PrivateCopy(t, filepath.Join(keys, key)),
		BuilderID: "https://ci.example/builder", SourceURI: "git+https://github.com/tars-ops/tarsctl", SourceCommit: "0123456789abcdef0123456789abcdef01234567",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stderr.String(), "✓ Wrote signed provenance "+out+" for 1 artifact(s) (key SHA256:") {
		t.Fatalf("stderr = %q", stderr.String())
	}
	return out
}

// TestVerifyRun checks the runbook's exact lines on success and a clear
// error, with the right exit code, for each failure.
func TestVerifyRun(t *testing.T) {
	t.Parallel()
	prov := generate(t, "rsa_private.pem")
	tampered := filepath.Join(t.TempDir(), "artifact.txt")
	data, _ := os.ReadFile(artifact)
	data[0] ^= 1
	_ = os.WriteFile(tampered, data, 0o644)

	tests := []struct {
		name       string
		opts       VerifyOptions
		wantStderr string
		wantCode   int
		wantErr    string
	}{
		{name: "ok", opts: VerifyOptions{Artifacts: []string{artifact}, BuilderID: "https://ci.example/builder", SourceURI: "github.com/tars-ops/tarsctl"},
			wantStderr: "✓ Signature valid\n✓ Provenance integrity verified\n"},
		{name: "wrong key", opts: VerifyOptions{PublicKey: filepath.Join(keys, "rsa_other_public.pem")}, wantCode: 1, wantErr: "signed with a different key"},
		{name: "artifact", opts: VerifyOptions{Artifacts: []string{tampered}}, wantStderr: "✓ Signature valid\n", wantCode: 1, wantErr: "is not a subject"},
		{name: "builder", opts: VerifyOptions{BuilderID: "https://evil"}, wantStderr: "✓ Signature valid\n", wantCode: 1, wantErr: "builder id does not match"},
		{name: "source", opts: VerifyOptions{SourceURI: "github.com/evil/x"}, wantStderr: "✓ Signature valid\n", wantCode: 1, wantErr: "source does not match"},
		{name: "digest", opts: VerifyOptions{Digests: []string{"sha256:" + strings.Repeat("0", 64)}}, wantStderr: "✓ Signature valid\n", wantCode: 1, wantErr: "no subject has digest"},
		{name: "missing provenance", opts: VerifyOptions{Provenance: "nope.json"}, wantCode: 2, wantErr: "nope.json"},
		{name: "missing key", opts: VerifyOptions{PublicKey: "nope.pem"}, wantCode: 2, wantErr: "nope.pem"},
		{name: "private key given", opts: VerifyOptions{PublicKey: filepath.Join(keys, "rsa_private.pem")}, wantCode: 2, wantErr: "holds a private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, stdout, stderr := iostreams.Test()
			o := tt.opts
			o.IO = ios
			if o.Provenance == "" {
				o.Provenance = prov
			}
			if o.PublicKey == "" {
				o.PublicKey = filepath.Join(keys, "rsa_public.pem")
			}
			err := verifyRun(t.Context(), &o)
			if code := cmdutil.ExitCode(err); code != tt.wantCode || !strings.Contains(errString(err), tt.wantErr) {
				t.Fatalf("err = %v (exit %d), want exit %d containing %q", err, code, tt.wantCode, tt.wantErr)
			}
			if stderr.String() != tt.wantStderr || stdout.Len() != 0 {
				t.Fatalf("stderr = %q, stdout = %q; want stderr %q", stderr.String(), stdout.String(), tt.wantStderr)
			}
		})
	}
}

func TestVerifyRunJSON(t *testing.T) {
	t.Parallel()
	prov := generate(t, "ecdsa_private.pem")
	ios, _, stdout, stderr := iostreams.Test()
	err := verifyRun(t.Context(), &VerifyOptions{IO: ios, Provenance: prov, PublicKey: filepath.Join(keys, "ecdsa_public.pem"), Artifacts: []string{artifact}, Output: "json"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"verified": true`, `"builder_id": "https://ci.example/builder"`, `"name": "artifact.txt"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %s:\n%s", want, stdout.String())
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr = %q", stderr.String())
	}
}
