package release

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/testenv"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/release"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

const (
	keys     = "../../../testdata/keys"
	fixtures = "../../../testdata/sbom"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNewCmdPrepare(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ok", []string{"a.tar.gz", "--output-dir", "release/v1", "--include-sbom", "--include-slsa", "--sign", "--signing-key", "k.pem"}, ""},
		{"no artifacts", []string{"--output-dir", "d"}, "at least one ARTIFACT"},
		{"no dir", []string{"a"}, "--output-dir DIR is required"},
		{"key without sign", []string{"a", "--output-dir", "d", "--signing-key", "k"}, "--signing-key needs --sign"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}, Getenv: env(nil), Now: time.Now}
			var got *PrepareOptions
			cmd := NewCmdPrepare(f, func(_ context.Context, o *PrepareOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.IncludeSBOM || !got.IncludeSLSA || !got.Sign || got.SigningKey != "k.pem" || got.Source != "." {
				t.Fatalf("err %v opts %+v", err, got)
			}
		})
	}
}

func artifacts(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, name := range []string{"tars-v1.0.2-linux-amd64.tar.gz", "tars-v1.0.2-darwin-arm64.tar.gz"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat(name, 5000)), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestPrepareRun prepares a signed release and then checks it the way a
// consumer would, with sha256sum, openssl and tarsctl's verifier.
func TestPrepareRun(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"rsa_private.pem", "ecdsa_private.pem"} {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "release", "v1.0.2")
			arts := artifacts(t)
			ios, _, stdout, stderr := iostreams.Test()
			err := prepareRun(t.Context(), &PrepareOptions{
				IO: ios, Getenv: env(map[string]string{"SOURCE_DATE_EPOCH": "1764288000"}), Now: time.Now,
				Artifacts: arts, OutputDir: dir, IncludeSBOM: true, IncludeSLSA: true, Sign: true,
				SigningKey: testenv.PrivateCopy(t, filepath.Join(keys, key)), Source: filepath.Join(fixtures, "npm"), Name: "tars",
				BuilderID: "https://ci.example/builder",
			})
			if err != nil {
				t.Fatalf("prepare: %v\n%s", err, stderr.String())
			}
			if stdout.Len() != 0 || !strings.HasSuffix(stderr.String(), "✓ Release tars v1.0.2 verified: "+dir+"\n") {
				t.Fatalf("stdout %q\nstderr %s", stdout.String(), stderr.String())
			}
			for _, f := range []string{
				"tars-v1.0.2-linux-amd64.tar.gz", "tars-v1.0.2-darwin-arm64.tar.gz",
				"sbom/tars-v1.0.2-cyclonedx.json", "sbom/tars-v1.0.2-cyclonedx.json.sig",
				"sbom/tars-v1.0.2-spdx.json", "sbom/tars-v1.0.2-spdx.json.sig",
				"slsa/tars-v1.0.2.provenance.json", "SHA256SUMS", "SHA256SUMS.sig",
			} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("missing %s", f)
				}
			}
			// sha256sum -c in the release directory accepts SHA256SUMS.
			cmd := exec.CommandContext(t.Context(), "sha256sum", "-c", "--strict", release.SumsFile)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != 5 {
				t.Fatalf("sha256sum -c: %v\n%s", err, out)
			}
			pubName := strings.Replace(key, "private", "public", 1)
			pub, _ := verify.LoadPublicKey(filepath.Join(keys, pubName))
			prov, _ := os.ReadFile(filepath.Join(dir, "slsa", "tars-v1.0.2.provenance.json"))
			res, err := verify.Provenance(prov, pub, verify.WithArtifactFile(arts[0]), verify.WithArtifactFile(arts[1]), verify.WithBuilderID("https://ci.example/builder"))
			if err != nil || len(res.Subjects) != 2 {
				t.Fatalf("provenance: %v %+v", err, res)
			}

			// A second run into the same directory needs --force.
			ios, _, _, _ = iostreams.Test()
			err = prepareRun(t.Context(), &PrepareOptions{IO: ios, Getenv: env(nil), Artifacts: arts, OutputDir: dir})
			if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "already holds a release") {
				t.Fatalf("second run: %v", err)
			}
		})
	}
}

func TestPrepareUnsigned(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	ios, _, stdout, _ := iostreams.Test()
	err := prepareRun(t.Context(), &PrepareOptions{
		IO: ios, Getenv: env(nil), Now: time.Now, Artifacts: artifacts(t), OutputDir: dir,
		IncludeSLSA: true, Source: t.TempDir(), Output: "json",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"verified": true`, `"version": "unversioned"`, `"kind": "provenance"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %s:\n%s", want, stdout.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS.sig")); !errors.Is(err, os.ErrNotExist) {
		t.Error("unsigned release has a signature")
	}
}

func TestPrepareErrors(t *testing.T) {
	t.Parallel()
	arts := artifacts(t)
	for _, tc := range []struct {
		name string
		opts PrepareOptions
		code int
		msg  string
	}{
		{"missing artifact", PrepareOptions{Artifacts: []string{"nope.tar.gz"}}, 2, "nope.tar.gz"},
		{"directory artifact", PrepareOptions{Artifacts: []string{t.TempDir()}}, 2, "not a regular file"},
		{"same name twice", PrepareOptions{Artifacts: []string{arts[0], arts[0]}}, 2, "two artifacts are named"},
		{"missing key", PrepareOptions{Artifacts: arts, Sign: true, SigningKey: "nope.pem"}, 2, "nope.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			o := tc.opts
			o.IO, o.Getenv, o.OutputDir = ios, env(nil), filepath.Join(t.TempDir(), "rel")
			err := prepareRun(t.Context(), &o)
			if cmdutil.ExitCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (exit %d), want exit %d with %q", err, cmdutil.ExitCode(err), tc.code, tc.msg)
			}
		})
	}
}
