package airgap

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tars-ops/tarsctl/internal/services"
	"github.com/tars-ops/tarsctl/internal/signing"
)

var bundleTime = time.Date(2026, 1, 28, 2, 0, 0, 0, time.UTC)

// testBinaries builds testdata/hello for linux/amd64 and linux/arm64
// once per test binary: real ELF executables with Go build information,
// much smaller than tarsctl.
var testBinaries = sync.OnceValues(func() (map[Platform]string, error) {
	dir, err := os.MkdirTemp("", "airgap-test-bin-")
	if err != nil {
		return nil, err
	}
	out := map[Platform]string{}
	for _, p := range DefaultPlatforms {
		bin := filepath.Join(dir, "hello-"+p.Arch)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./testdata/hello")
		cmd.Env = append(os.Environ(), "GOOS="+p.OS, "GOARCH="+p.Arch, "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, errors.New("go build testdata/hello: " + err.Error() + "\n" + string(b))
		}
		out[p] = bin
	}
	return out, nil
})

func binaries(t *testing.T) map[Platform]string {
	t.Helper()
	b, err := testBinaries()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var testKey = sync.OnceValues(func() (*signing.Key, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return signing.NewKey(k)
})

func key(t *testing.T) *signing.Key {
	t.Helper()
	k, err := testKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func chart(w io.Writer, version, appVersion string) error {
	// A stand-in for internal/deploy/chart.Package: a gzip stream, named so.
	gz := gzip.NewWriter(w)
	if _, err := io.WriteString(gz, "stand-in chart "+version+" "+appVersion); err != nil {
		return err
	}
	return gz.Close()
}

func bundleOpts(t *testing.T, k *signing.Key) BundleOptions {
	bins := binaries(t)
	amd64 := Platform{OS: "linux", Arch: "amd64"}
	return BundleOptions{
		Version:  "v1.0.2",
		Binaries: bins,
		// Any linux/amd64 executable passes for the companion here.
		Companions: map[Platform]string{amd64: bins[amd64]},
		Repository: "company/tars",
		Chart:      chart,
		Files:      map[string][]byte{"docker-compose.airgap.yaml": []byte("name: tars\n")},
		Key:        k,
		Time:       bundleTime,
		TempDir:    t.TempDir(),
	}
}

// writeBundle writes a bundle into a temporary file.
func writeBundle(t *testing.T, opts BundleOptions) (string, *Manifest) {
	t.Helper()
	p := filepath.Join(t.TempDir(), RootDir(opts.Version)+".tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := WriteBundle(context.Background(), f, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return p, m
}

// shared is one signed bundle for the tests that only read it.
var (
	sharedOnce   sync.Once
	sharedPath   string
	sharedErr    error
	sharedMan    *Manifest
	sharedDir, _ = os.MkdirTemp("", "airgap-shared-")
)

func shared(t *testing.T) (string, *Manifest) {
	t.Helper()
	sharedOnce.Do(func() {
		opts := bundleOpts(t, key(t))
		opts.TempDir = sharedDir
		sharedPath = filepath.Join(sharedDir, "tars-v1.0.2-airgap.tar.gz")
		f, err := os.Create(sharedPath)
		if err != nil {
			sharedErr = err
			return
		}
		sharedMan, sharedErr = WriteBundle(context.Background(), f, opts)
		f.Close()
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedPath, sharedMan
}

func TestMain(m *testing.M) {
	code := m.Run()
	os.RemoveAll(sharedDir)
	if b, err := testBinaries(); err == nil {
		for _, p := range b {
			os.RemoveAll(filepath.Dir(p))
			break
		}
	}
	os.Exit(code)
}

func TestBundleLayoutAndVerify(t *testing.T) {
	t.Parallel()
	path, m := shared(t)
	want := []string{
		"bin/tarsctl-k8s-linux-amd64", "bin/tarsctl-linux-amd64", "bin/tarsctl-linux-arm64", "charts/tars-1.0.2.tgz", "docker-compose.airgap.yaml",
		"images/tars-1.0.2.tar", "provenance/tars-1.0.2.provenance.json",
		"sbom/tarsctl-linux-amd64.cdx.json", "sbom/tarsctl-linux-amd64.spdx.json",
		"sbom/tarsctl-linux-arm64.cdx.json", "sbom/tarsctl-linux-arm64.spdx.json",
	}
	var got []string
	for _, f := range m.Files {
		got = append(got, f.Path)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !m.Signed || !m.Chart || m.Image != "company/tars:1.0.2" {
		t.Errorf("manifest %+v", m)
	}
	res, err := Verify(context.Background(), path, VerifyOptions{PublicKey: key(t).Public(), TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("a fresh bundle does not verify: %+v", res.Failures())
	}
	names := map[string]bool{}
	for _, c := range res.Checks {
		names[strings.Fields(c.Name)[0]] = true
	}
	for _, n := range []string{"checksums", "signature", "image", "sbom", "provenance"} {
		if !names[n] {
			t.Errorf("no %s check ran: %+v", n, res.Checks)
		}
	}
}

// TestBundleDeterministic: the same inputs give the same bytes (unsigned;
// RSA-PSS signatures are randomised).
func TestBundleDeterministic(t *testing.T) {
	t.Parallel()
	a, _ := writeBundle(t, bundleOpts(t, nil))
	b, _ := writeBundle(t, bundleOpts(t, nil))
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("two bundles of the same inputs differ")
	}
	res, err := Verify(context.Background(), a, VerifyOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Signed {
		t.Fatalf("unsigned bundle: ok %v signed %v %+v", res.OK(), res.Signed, res.Failures())
	}
}

// rewrite copies the bundle at src, letting edit change each file (return
// nil to drop it) and add files at the end.
func rewrite(t *testing.T, src string, edit func(name string, data []byte) []byte, add map[string][]byte) string {
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
		if h.Typeflag == tar.TypeReg {
			_, rel, _ := strings.Cut(h.Name, "/")
			if data = edit(rel, data); data == nil {
				continue
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for rel, data := range add {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "tars-v1.0.2-airgap/" + rel, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestTamperedBundles(t *testing.T) {
	t.Parallel()
	path, _ := shared(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(target string) func(string, []byte) []byte {
		return func(name string, data []byte) []byte {
			if name == target {
				data = bytes.Clone(data)
				data[len(data)/2] ^= 0x01
			}
			return data
		}
	}
	same := func(_ string, data []byte) []byte { return data }
	tests := []struct {
		name      string
		edit      func(string, []byte) []byte
		add       map[string][]byte
		key       any
		wantCheck string
		wantMsg   string
	}{
		{"flipped byte in a binary", flip("bin/tarsctl-linux-arm64"), nil, nil, "checksums",
			"bin/tarsctl-linux-arm64 has sha256:"},
		{"flipped byte in a binary, image check", flip("bin/tarsctl-linux-arm64"), nil, nil, "image images/tars-1.0.2.tar",
			"the image for linux-arm64 holds a tarsctl with sha256:"},
		{"flipped byte in the companion", flip("bin/tarsctl-k8s-linux-amd64"), nil, nil, "checksums",
			"bin/tarsctl-k8s-linux-amd64 has sha256:"},
		{"an extra file", same, map[string][]byte{"bin/backdoor": []byte("#!/bin/sh\n")}, nil, "checksums",
			"bin/backdoor is not listed in SHA256SUMS (an extra file)"},
		{"a missing file", func(name string, data []byte) []byte {
			if name == "docker-compose.airgap.yaml" {
				return nil
			}
			return data
		}, nil, nil, "checksums", "docker-compose.airgap.yaml is listed in SHA256SUMS but missing"},
		{"an edited SHA256SUMS", func(name string, data []byte) []byte {
			if name == SumsFile {
				return bytes.Replace(data, []byte("  docker-compose"), []byte("  docker-compose.x"), 1)
			}
			return data
		}, nil, nil, "signature", "SHA256SUMS.sig does not verify with key"},
		{"a wrong key", same, nil, other.Public(), "signature", "SHA256SUMS.sig does not verify with key"},
		{"a flipped byte in the image", flip("images/tars-1.0.2.tar"), nil, nil, "checksums", "images/tars-1.0.2.tar has sha256:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tampered := rewrite(t, path, tt.edit, tt.add)
			pub := tt.key
			if pub == nil {
				pub = key(t).Public()
			}
			res, err := Verify(context.Background(), tampered, VerifyOptions{PublicKey: pub, TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if res.OK() {
				t.Fatal("a tampered bundle verifies")
			}
			for _, c := range res.Failures() {
				if c.Name == tt.wantCheck && strings.Contains(c.Detail, tt.wantMsg) {
					return
				}
			}
			t.Fatalf("no failed %q check saying %q; failures: %+v", tt.wantCheck, tt.wantMsg, res.Failures())
		})
	}
}

func TestVerifyNotABundle(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "x.tar.gz")
	if err := os.WriteFile(p, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), p, VerifyOptions{TempDir: t.TempDir()}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	// A path escaping the top directory.
	path, _ := shared(t)
	evil := rewrite(t, path, func(_ string, d []byte) []byte { return d }, map[string][]byte{"../../etc/evil": []byte("x")})
	if _, err := Verify(context.Background(), evil, VerifyOptions{TempDir: t.TempDir()}); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "unsafe path") {
		t.Fatalf("err = %v, want an unsafe path error", err)
	}
}

func TestCheckBinary(t *testing.T) {
	t.Parallel()
	b := binaries(t)
	if err := CheckBinary(b[Platform{"linux", "amd64"}], Platform{"linux", "arm64"}); !errors.Is(err, ErrBadBinary) || !strings.Contains(err.Error(), "not linux/arm64") {
		t.Errorf("amd64 binary as arm64: %v", err)
	}
	txt := filepath.Join(t.TempDir(), "x")
	os.WriteFile(txt, []byte("#!/bin/sh\n"), 0o755)
	if err := CheckBinary(txt, Platform{"linux", "amd64"}); !errors.Is(err, ErrBadBinary) {
		t.Errorf("script: %v", err)
	}
}

// extractImage copies the bundle's image tarball out.
func extractImage(t *testing.T, bundle string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := extractImages(context.Background(), bundle, dir)
	if err != nil || len(files) != 1 {
		t.Fatalf("extract images: %v %v", files, err)
	}
	return files[0]
}

// TestImageArchiveSkopeo checks the image tarball with skopeo, a reader
// independent of go-containerregistry, through both of its halves.
func TestImageArchiveSkopeo(t *testing.T) {
	t.Parallel()
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatal("skopeo not found: install it (apt-get install -y skopeo; scripts/test-deps.sh does)")
	}
	path, _ := shared(t)
	archive := extractImage(t, path)
	for _, tc := range []struct{ ref, arch string }{
		{"oci-archive:" + archive, "amd64"}, // the index, resolved for this machine
		{"oci-archive:" + archive + ":1.0.2", "amd64"},
		{"docker-archive:" + archive + ":@0", "amd64"},
		{"docker-archive:" + archive + ":company/tars:1.0.2-arm64", "arm64"},
	} {
		out, err := exec.Command(skopeo, "inspect", "--override-os", "linux", "--override-arch", tc.arch, tc.ref).CombinedOutput()
		if err != nil {
			t.Errorf("skopeo inspect %s: %v\n%s", tc.ref, err, out)
			continue
		}
		s := string(out)
		if !strings.Contains(s, `"Architecture": "`+tc.arch+`"`) || !strings.Contains(s, `"org.opencontainers.image.version": "v1.0.2"`) {
			t.Errorf("skopeo inspect %s:\n%s", tc.ref, s)
		}
	}
	raw, err := exec.Command(skopeo, "inspect", "--raw", "oci-archive:"+archive).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v\n%s", err, raw)
	}
	if !strings.Contains(string(raw), `"application/vnd.oci.image.index.v1+json"`) || !strings.Contains(string(raw), `"arm64"`) {
		t.Errorf("raw index: %s", raw)
	}
}

// TestImageConfig reads the image back with go-containerregistry and
// checks what the brief asks of it.
func TestImageConfig(t *testing.T) {
	t.Parallel()
	path, _ := shared(t)
	archive := extractImage(t, path)
	dir := t.TempDir()
	if err := extractTar(context.Background(), archive, dir); err != nil {
		t.Fatal(err)
	}
	idx, err := OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 2 {
		t.Fatalf("%d manifests", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := img.ConfigFile()
		if cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "tarsctl" || cfg.Config.Labels["org.opencontainers.image.title"] != "tarsctl" {
			t.Errorf("%s config %+v", d.Platform.Architecture, cfg.Config)
		}
		if !cfg.Created.Time.Equal(bundleTime) {
			t.Errorf("created %v", cfg.Created)
		}
		// The daemons of the service catalog and their ports.
		wantNames, wantPorts := []string{}, map[string]struct{}{}
		for _, e := range services.All() {
			wantNames = append(wantNames, e.Name)
			wantPorts[fmt.Sprintf("%d/tcp", e.APIPort)] = struct{}{}
		}
		if got := cfg.Config.Labels[LabelServices]; got != strings.Join(wantNames, ",") {
			t.Errorf("label %s = %q, want %q", LabelServices, got, strings.Join(wantNames, ","))
		}
		if !reflect.DeepEqual(cfg.Config.ExposedPorts, wantPorts) {
			t.Errorf("exposed ports %v, want %v", cfg.Config.ExposedPorts, wantPorts)
		}
		layers, _ := img.Layers()
		if len(layers) != 1 {
			t.Fatalf("%d layers", len(layers))
		}
	}
	ref, err := RefName(dir)
	if err != nil || ref != "company/tars:1.0.2" {
		t.Errorf("ref %q %v", ref, err)
	}
}

// TestLoad pushes to go-containerregistry's registry package: a real OCI
// distribution server running in process on a loopback port.
func TestLoad(t *testing.T) {
	t.Parallel()
	path, m := shared(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	res, err := Load(context.Background(), path, LoadOptions{Registry: u.Host, Insecure: true, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Target != u.Host+"/company/tars:1.0.2" || res[0].Digest != m.Digest || len(res[0].Platforms) != 2 {
		t.Fatalf("result %+v, want digest %s", res, m.Digest)
	}
	// Read it back independently of Load.
	ref, _ := name.ParseReference(u.Host+"/company/tars:1.0.2", name.Insecure)
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d.String() != m.Digest {
		t.Fatalf("registry serves %s, want %s", d, m.Digest)
	}
	im, _ := idx.IndexManifest()
	for _, d := range im.Manifests {
		img, err := remote.Image(ref.Context().Digest(d.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := img.ConfigFile(); err != nil || cfg.Architecture != d.Platform.Architecture {
			t.Errorf("image %s: %v %v", d.Digest, cfg, err)
		}
	}
}

func TestLoadUnreachable(t *testing.T) {
	t.Parallel()
	path, _ := shared(t)
	srv := httptest.NewServer(nil)
	addr := srv.Listener.Addr().String()
	srv.Close() // nothing listens there now
	_, err := Load(context.Background(), path, LoadOptions{Registry: addr, Insecure: true, TempDir: t.TempDir()})
	if !errors.Is(err, ErrRegistry) {
		t.Fatalf("err = %v, want ErrRegistry", err)
	}
}
