package airgap

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestNewCmdFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cmd     func(*cmdutil.Factory, *any) *cobra.Command
		args    []string
		wantErr string
		check   func(t *testing.T, got any)
	}{
		{"bundle needs a version", newBundle, nil, "needs the release VERSION", nil},
		{"bundle bad version", newBundle, []string{"1.0"}, `invalid VERSION "1.0"`, nil},
		{"bundle unsigned with a key", newBundle, []string{"v1.0.2", "--unsigned", "--signing-key", "k.pem"}, "cannot be used together", nil},
		{"bundle bad platform", newBundle, []string{"v1.0.2", "--platforms", "linux"}, "want OS/ARCH", nil},
		{"bundle defaults", newBundle, []string{"v1.0.2"}, "", func(t *testing.T, got any) {
			o := got.(*BundleOptions)
			if o.File != "tars-v1.0.2-airgap.tar.gz" || strings.Join(o.Platforms, ",") != "linux/amd64,linux/arm64" || o.Repository != "company/tars" {
				t.Errorf("opts %+v", o)
			}
		}},
		{"bundle -o is the file", newBundle, []string{"v1.0.2", "-o", "x.tar.gz", "--platforms", "linux/arm64"}, "", func(t *testing.T, got any) {
			if o := got.(*BundleOptions); o.File != "x.tar.gz" || strings.Join(o.Platforms, ",") != "linux/arm64" {
				t.Errorf("opts %+v", o)
			}
		}},
		{"verify needs --key", newVerify, []string{"b.tar.gz"}, "--key PUB is required", nil},
		{"verify key and skip", newVerify, []string{"b.tar.gz", "--key", "k", "--skip-signature"}, "cannot be used together", nil},
		{"verify skip", newVerify, []string{"b.tar.gz", "--skip-signature"}, "", nil},
		{"load needs --registry", newLoad, []string{"b.tar.gz"}, "--registry HOST:PORT is required", nil},
		{"load bad --registry", newLoad, []string{"b.tar.gz", "--registry", "nohost"}, "want HOST:PORT", nil},
		{"load", newLoad, []string{"b.tar.gz", "--registry", "127.0.0.1:5000", "--insecure"}, "", func(t *testing.T, got any) {
			if o := got.(*LoadOptions); o.Registry != "127.0.0.1:5000" || !o.Insecure {
				t.Errorf("opts %+v", o)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}}
			var got any
			cmd := tt.cmd(f, &got)
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cmdutil.ExitCode(err) != 2 {
					t.Fatalf("err = %v (exit %d), want a usage error with %q", err, cmdutil.ExitCode(err), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("the run function did not run")
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func newBundle(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdBundle(f, func(_ context.Context, o *BundleOptions) error { *got = o; return nil })
}
func newVerify(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdVerify(f, func(_ context.Context, o *VerifyOptions) error { *got = o; return nil })
}
func newLoad(f *cmdutil.Factory, got *any) *cobra.Command {
	return NewCmdLoad(f, func(_ context.Context, o *LoadOptions) error { *got = o; return nil })
}

func TestMissingPlatform(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := iostreams.Test()
	self := runtime.GOOS + "/" + runtime.GOARCH
	other := "linux/arm64"
	if self == other {
		other = "linux/amd64"
	}
	exe, _ := os.Executable()
	_, _, err := resolveBinaries(&BundleOptions{IO: ios, Platforms: []string{self, other}, Executable: func() (string, error) { return exe, nil }})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "no tarsctl binary for "+other) {
		t.Fatalf("err = %v (exit %d)", err, cmdutil.ExitCode(err))
	}
	// A binary for the wrong architecture is refused.
	_, _, err = resolveBinaries(&BundleOptions{IO: ios, Platforms: []string{other}, Binaries: []string{other + "=" + exe}})
	if cmdutil.ExitCode(err) != 2 || !strings.Contains(err.Error(), "not "+other) {
		t.Fatalf("wrong arch: err = %v (exit %d)", err, cmdutil.ExitCode(err))
	}
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBundleVerifyEndToEnd runs the real tarsctl binary: bundle itself for
// its own platform, signed with RSA-PSS; verify it with the public key;
// verify a copy with one flipped byte, which must fail with exit 1 and say
// which file.
func TestBundleVerifyEndToEnd(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the bundle carries linux binaries")
	}
	bin := testenv.Tarsctl(t)
	dir := t.TempDir()
	key := testenv.PrivateCopy(t, repoFile(t, "testdata/keys/rsa_private.pem"))
	pub := repoFile(t, "testdata/keys/rsa_public.pem")
	out := filepath.Join(dir, "tars-v1.0.2-airgap.tar.gz")
	self := runtime.GOOS + "/" + runtime.GOARCH
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1769565600", "TMPDIR="+dir)
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(b), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(b), 0
	}
	if o, code := run("deploy", "airgap", "bundle", "v1.0.2", "--platforms", self, "--signing-key", key, "-o", out); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, o)
	} else if !strings.Contains(o, self+": "+bin+" (the running tarsctl)") || !strings.Contains(o, "signed by key") || strings.Contains(o, "no Helm chart") {
		t.Errorf("bundle output:\n%s", o)
	}
	if o, code := run("deploy", "airgap", "bundle", "v1.0.2", "--platforms", self, "--signing-key", key, "-o", out); code != 2 || !strings.Contains(o, "already exists") {
		t.Errorf("second bundle: exit %d\n%s", code, o)
	}
	if o, code := run("deploy", "airgap", "verify", out, "--key", pub); code != 0 || !strings.Contains(o, "verified") {
		t.Fatalf("verify: exit %d\n%s", code, o)
	}
	if o, code := run("deploy", "airgap", "verify", out, "--key", repoFile(t, "testdata/keys/rsa_other_public.pem")); code != 1 || !strings.Contains(o, "SHA256SUMS.sig does not verify") {
		t.Errorf("verify with another key: exit %d\n%s", code, o)
	}
	// With the companion: it is in the bundle, and the bundle verifies.
	// (Any executable of the platform passes for it here.)
	withK8s := filepath.Join(dir, "with-k8s.tar.gz")
	if o, code := run("deploy", "airgap", "bundle", "v1.0.2", "--platforms", self, "--k8s-binary", self+"="+bin, "--signing-key", key, "-o", withK8s); code != 0 || !strings.Contains(o, self+": "+bin+" (--k8s-binary)") {
		t.Fatalf("bundle --k8s-binary: exit %d\n%s", code, o)
	}
	if o, code := run("deploy", "airgap", "verify", withK8s, "--key", pub); code != 0 {
		t.Fatalf("verify with the companion: exit %d\n%s", code, o)
	}
	companion := "bin/tarsctl-k8s-" + strings.ReplaceAll(self, "/", "-")
	if o, code := run("deploy", "airgap", "verify", flipInBundle(t, withK8s, companion), "--key", pub); code != 1 || !strings.Contains(o, companion+" has sha256:") {
		t.Errorf("verify with a tampered companion: exit %d\n%s", code, o)
	}
	if o, code := run("deploy", "airgap", "bundle", "v1.0.2", "--platforms", self, "--k8s-binary", "linux/s390x="+bin, "--unsigned", "-o", filepath.Join(dir, "x.tar.gz")); code != 2 || !strings.Contains(o, "--k8s-binary linux/s390x="+bin+": linux/s390x is not in --platforms") {
		t.Errorf("--k8s-binary for another platform: exit %d\n%s", code, o)
	}

	tampered := flipInBundle(t, out, "bin/tarsctl-"+strings.ReplaceAll(self, "/", "-"))
	if o, code := run("deploy", "airgap", "verify", tampered, "--key", pub); code != 1 || !strings.Contains(o, "bin/tarsctl-linux-") || !strings.Contains(o, "✗ checksums") {
		t.Errorf("verify tampered: exit %d\n%s", code, o)
	}
	if o, code := run("deploy", "airgap", "verify", tampered, "--key", pub, "-o", "json"); code != 1 || !strings.Contains(o, `"ok": false`) {
		t.Errorf("verify tampered -o json: exit %d\n%s", code, o)
	}
}

// flipInBundle copies a bundle with one byte of file rel flipped.
func flipInBundle(t *testing.T, src, rel string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	gz, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "tampered.tar.gz")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	gw := gzip.NewWriter(out)
	tw := tar.NewWriter(gw)
	tr := tar.NewReader(gz)
	flipped := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, "/"+rel) {
			data[len(data)/3] ^= 0x80
			flipped = true
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if !flipped {
		t.Fatalf("no %s in the bundle", rel)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
