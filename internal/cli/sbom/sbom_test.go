package sbom

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/testenv"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
)

const (
	fixtures = "../../../testdata/sbom"
	keys     = "../../../testdata/keys"
)

func testFactory(ios *iostreams.IOStreams) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Globals:   &cmdutil.GlobalFlags{Output: "text"},
		Getenv:    func(string) string { return "" },
		Now:       func() time.Time { return time.Unix(1764288000, 0) },
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNewCmdGenerate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		args        []string
		wantPath    string
		wantFormats []string
		wantErr     string
	}{
		{name: "defaults", args: nil, wantPath: ".", wantFormats: []string{"cyclonedx", "spdx"}},
		{name: "path and one format", args: []string{"./frontend", "--formats", "SPDX"}, wantPath: "./frontend", wantFormats: []string{"spdx"}},
		{name: "order is fixed", args: []string{"--formats", "spdx,cyclonedx,spdx"}, wantPath: ".", wantFormats: []string{"cyclonedx", "spdx"}},
		{name: "unknown format", args: []string{"--formats", "swid"}, wantErr: `invalid value "swid" for --formats`},
		{name: "key without sign", args: []string{"--signing-key", "k.pem"}, wantErr: "--signing-key needs --sign"},
		{name: "two paths", args: []string{"a", "b"}, wantErr: "at most 1 argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			var got *GenerateOptions
			cmd := NewCmdGenerate(testFactory(ios), func(_ context.Context, o *GenerateOptions) error { got = o; return nil })
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
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != tt.wantPath || strings.Join(got.Formats, ",") != strings.Join(tt.wantFormats, ",") || got.SpecVersion != "1.7" {
				t.Fatalf("opts = %+v", got)
			}
		})
	}
}

// TestGenerateRun writes and signs the npm fixture's SBOMs with the
// runbook's file names, reproducibly, and verifies the signatures.
func TestGenerateRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := func(out string) (string, string) {
		ios, _, stdout, stderr := iostreams.Test()
		err := generateRun(t.Context(), &GenerateOptions{
			IO: ios, Getenv: env(map[string]string{"SOURCE_DATE_EPOCH": "1764288000", "GOMODCACHE": filepath.Join(fixtures, "gomodcache")}),
			Path: filepath.Join(fixtures, "npm"), OutputDir: out, Formats: []string{"cyclonedx", "spdx"}, SpecVersion: "1.7",
			Name: "tars", Version: "v1.0.2", Sign: true, SigningKey: testenv.PrivateCopy(t, filepath.Join(keys, "rsa_private.pem")),
		})
		if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String()
	}
	stdout, stderr := run(dir)
	if stdout != "" {
		t.Errorf("stdout = %q", stdout)
	}
	for _, name := range []string{"tars-v1.0.2-cyclonedx.json", "tars-v1.0.2-cyclonedx.json.sig", "tars-v1.0.2-spdx.json", "tars-v1.0.2-spdx.json.sig"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s", name)
		}
		if !strings.HasSuffix(name, ".sig") && !strings.Contains(stderr, "✓ Wrote "+filepath.Join(dir, name)+" (") {
			t.Errorf("stderr does not report %s:\n%s", name, stderr)
		}
	}
	// The same input and SOURCE_DATE_EPOCH give the same bytes.
	again := t.TempDir()
	run(again)
	for _, name := range []string{"tars-v1.0.2-cyclonedx.json", "tars-v1.0.2-spdx.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if string(a) != string(b) {
			t.Errorf("%s differs between runs", name)
		}
	}

	// verify: good, then tampered.
	ios, _, _, vErr := iostreams.Test()
	files := []string{filepath.Join(dir, "tars-v1.0.2-cyclonedx.json"), filepath.Join(dir, "tars-v1.0.2-spdx.json")}
	if err := verifyRun(t.Context(), &VerifyOptions{IO: ios, Files: files, PublicKey: filepath.Join(keys, "rsa_public.pem")}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(vErr.String(), "✓ Signature valid: ") != 2 {
		t.Errorf("stderr = %q", vErr.String())
	}
	data, _ := os.ReadFile(files[0])
	data[100] ^= 1
	_ = os.WriteFile(files[0], data, 0o644)
	ios, _, _, _ = iostreams.Test()
	err := verifyRun(t.Context(), &VerifyOptions{IO: ios, Files: files[:1], PublicKey: filepath.Join(keys, "rsa_public.pem")})
	if cmdutil.ExitCode(err) != 1 || !strings.Contains(err.Error(), "content was altered after it was signed") {
		t.Fatalf("tampered: err = %v (exit %d)", err, cmdutil.ExitCode(err))
	}
	ios, _, _, _ = iostreams.Test()
	err = verifyRun(t.Context(), &VerifyOptions{IO: ios, Files: files[1:], PublicKey: filepath.Join(keys, "rsa_other_public.pem")})
	if cmdutil.ExitCode(err) != 1 || !strings.Contains(err.Error(), "made with a different key") {
		t.Fatalf("other key: err = %v", err)
	}
	ios, _, _, _ = iostreams.Test()
	err = verifyRun(t.Context(), &VerifyOptions{IO: ios, Files: []string{filepath.Join(dir, "nope.json")}, PublicKey: filepath.Join(keys, "rsa_public.pem")})
	if cmdutil.ExitCode(err) != 2 {
		t.Fatalf("missing file: err = %v (exit %d)", err, cmdutil.ExitCode(err))
	}
}

func TestGenerateRunErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts GenerateOptions
		code int
		msg  string
	}{
		{"missing path", GenerateOptions{Path: "nope"}, 2, "nope"},
		{"nothing to scan", GenerateOptions{Path: t.TempDir()}, 2, "no supported manifests"},
		{"bad epoch", GenerateOptions{Path: fixtures, Getenv: env(map[string]string{"SOURCE_DATE_EPOCH": "yesterday"})}, 2, "SOURCE_DATE_EPOCH"},
		{"public key to sign", GenerateOptions{Path: filepath.Join(fixtures, "npm"), Sign: true, SigningKey: filepath.Join(keys, "rsa_public.pem")}, 2, "holds a public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			o := tc.opts
			o.IO, o.OutputDir, o.Formats = ios, t.TempDir(), []string{"cyclonedx"}
			if o.Getenv == nil {
				o.Getenv = env(nil)
			}
			err := generateRun(t.Context(), &o)
			if cmdutil.ExitCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v (exit %d), want exit %d with %q", err, cmdutil.ExitCode(err), tc.code, tc.msg)
			}
		})
	}
}

func TestValidateRun(t *testing.T) {
	t.Parallel()
	good := "../../sbom/testdata/TestGolden_npm_cyclonedx.golden"
	spdx := "../../sbom/testdata/TestGolden_poetry_spdx.golden"
	ios, _, stdout, stderr := iostreams.Test()
	if err := validateRun(t.Context(), &ValidateOptions{IO: ios, Files: []string{good, spdx}}); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != "✓ "+good+" is valid CycloneDX 1.7\n✓ "+spdx+" is valid SPDX-2.3\n" || stdout.Len() != 0 {
		t.Fatalf("stderr = %q", stderr.String())
	}
	data, _ := os.ReadFile(good)
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(strings.Replace(string(data), `"type": "library"`, `"type": "gadget"`, 2)), 0o644)
	ios, _, stdout, stderr = iostreams.Test()
	err := validateRun(t.Context(), &ValidateOptions{IO: ios, Files: []string{bad}, Output: "json"})
	if cmdutil.ExitCode(err) != 1 || !strings.Contains(stdout.String(), `"valid": false`) || strings.Count(stdout.String(), `"path": "/components/`) != 2 {
		t.Fatalf("err = %v\nstdout = %s", err, stdout.String())
	}
	if stderr.Len() != 0 {
		t.Fatalf("-o json wrote to stderr: %q", stderr.String())
	}
	ios, _, _, _ = iostreams.Test()
	err = validateRun(t.Context(), &ValidateOptions{IO: ios, Files: []string{"../../../go.mod"}})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "unknown format") {
		t.Fatalf("not an SBOM: err = %v", err)
	}
}

func TestDiffRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock, _ := os.ReadFile(filepath.Join(fixtures, "npm", "package-lock.json"))
	s := strings.Replace(string(lock), `"version": "4.17.21"`, `"version": "4.17.22"`, 1)
	s = strings.Replace(s, `"node_modules/typescript"`, `"node_modules/left-pad"`, 1)
	_ = os.MkdirAll(filepath.Join(dir, "new"), 0o755)
	_ = os.WriteFile(filepath.Join(dir, "new", "package-lock.json"), []byte(s), 0o644)
	gen := func(path, format string) string {
		ios, _, _, _ := iostreams.Test()
		out := filepath.Join(dir, filepath.Base(path)+"-"+format)
		err := generateRun(t.Context(), &GenerateOptions{IO: ios, Getenv: env(map[string]string{"SOURCE_DATE_EPOCH": "1"}), Path: path, OutputDir: out, Formats: []string{format}, Name: "web", Version: "1"})
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Join(out, "web-1-"+format+".json")
	}
	oldDoc := gen(filepath.Join(fixtures, "npm"), "cyclonedx")
	newDoc := gen(filepath.Join(dir, "new"), "spdx")
	for _, tc := range []struct {
		name   string
		output string
	}{{"text", "text"}, {"json", "json"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, stdout, stderr := iostreams.Test()
			err := diffRun(t.Context(), &DiffOptions{IO: ios, Old: oldDoc, New: newDoc, Output: tc.output, ExitCode: true})
			if cmdutil.ExitCode(err) != 1 {
				t.Fatalf("err = %v, want exit 1 with --exit-code", err)
			}
			golden.Assert(t, stdout.Bytes())
			if tc.output == "text" && stderr.String() != "• 1 added, 1 removed, 1 changed\n" {
				t.Errorf("stderr = %q", stderr.String())
			}
		})
	}
	ios, _, _, stderr := iostreams.Test()
	if err := diffRun(t.Context(), &DiffOptions{IO: ios, Old: oldDoc, New: oldDoc, ExitCode: true}); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != "✓ No component differences\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestMergeRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "tars-v1.0.2-spdx.json")
	ios, _, _, stderr := iostreams.Test()
	err := mergeRun(t.Context(), &MergeOptions{
		IO: ios, Getenv: env(map[string]string{"SOURCE_DATE_EPOCH": "1764288000"}),
		Inputs:     []string{"../../sbom/testdata/TestGolden_npm_cyclonedx.golden", "../../sbom/testdata/TestGolden_poetry_spdx.golden"},
		OutputFile: out, Format: "spdx", Name: "tars", Version: "v1.0.2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if stderr.String() != "✓ Merged 2 SBOMs into "+out+" (spdx, 14 components)\n" {
		t.Fatalf("stderr = %q", stderr.String())
	}
	ios, _, _, _ = iostreams.Test()
	if err := validateRun(t.Context(), &ValidateOptions{IO: ios, Files: []string{out}}); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ = iostreams.Test()
	err = mergeRun(t.Context(), &MergeOptions{IO: ios, Getenv: env(nil), Inputs: []string{"../../../go.mod", out}, OutputFile: filepath.Join(dir, "x.json"), Format: "cyclonedx"})
	if cmdutil.ExitCode(err) != 2 {
		t.Fatalf("merging go.mod: err = %v", err)
	}
}
