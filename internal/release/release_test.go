package release

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/progress"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

const (
	keys     = "../../testdata/keys"
	fixtures = "../../testdata/sbom"
)

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

// events records what Prepare reports.
type events struct {
	mu  sync.Mutex
	got []progress.Event
}

func (e *events) Report(ev progress.Event) { e.mu.Lock(); e.got = append(e.got, ev); e.mu.Unlock() }
func (e *events) Done()                    {}

func TestPrepare(t *testing.T) {
	t.Parallel()
	key, err := signing.LoadKey(filepath.Join(keys, "rsa_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "v1.0.2")
	arts := artifacts(t)
	when := time.Unix(1764288000, 0).UTC()
	popts := provenance.Options{BuilderID: "https://ci.example/builder", Now: func() time.Time { return when }, StartedOn: when}
	rep := &events{}
	res, err := Prepare(t.Context(), Options{
		Dir: dir, Artifacts: arts, Key: key, Progress: rep,
		SBOM:       &SBOMOptions{Source: filepath.Join(fixtures, "npm"), Time: when},
		Provenance: &popts,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "tars-frontend" || res.Version != "v1.0.2" || res.KeyID != key.ID || len(res.Files) != 5 {
		t.Fatalf("result %+v", res)
	}
	if !slices.IsSortedFunc(res.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) }) {
		t.Errorf("files not in SHA256SUMS order: %+v", res.Files)
	}
	var phases []string
	for _, e := range rep.got {
		if e.Phase != PhaseWarning {
			phases = append(phases, e.Phase)
		}
	}
	if want := []string{PhaseArtifacts, PhaseSBOM, PhaseProvenance, PhaseChecksums}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	// The artifacts' digests in SHA256SUMS are the provenance's subjects.
	prov, err := os.ReadFile(filepath.Join(dir, "slsa", "tars-frontend-v1.0.2.provenance.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Provenance(prov, key.Public(), verify.WithArtifactFile(arts[0]), verify.WithArtifactFile(arts[1])); err != nil {
		t.Errorf("provenance: %v", err)
	}

	// Once there, the directory is refused without Force, taken with it.
	_, err = Prepare(t.Context(), Options{Dir: dir, Artifacts: arts})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), dir+" already holds a release (SHA256SUMS exists)") {
		t.Errorf("second run: %v", err)
	}
	if _, err := Prepare(t.Context(), Options{Dir: dir, Artifacts: arts, Force: true}); err != nil {
		t.Errorf("--force: %v", err)
	}
}

func TestPrepareBadInput(t *testing.T) {
	t.Parallel()
	arts := artifacts(t)
	for _, tc := range []struct {
		name      string
		artifacts []string
		want      error
	}{
		{"missing", []string{"nope.tar.gz"}, os.ErrNotExist},
		{"directory", []string{t.TempDir()}, ErrNotFile},
		{"same name twice", []string{arts[0], arts[0]}, ErrDuplicateName},
	} {
		dir := filepath.Join(t.TempDir(), "rel")
		if _, err := Prepare(t.Context(), Options{Dir: dir, Artifacts: tc.artifacts}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the directory was created before the inputs were checked", tc.name)
		}
	}
}

// TestVerifyCatchesTampering: the final check fails on a changed file,
// with the file named.
func TestVerifyCatchesTampering(t *testing.T) {
	t.Parallel()
	key, err := signing.LoadKey(filepath.Join(keys, "rsa_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "v1.0.2")
	res, err := Prepare(t.Context(), Options{Dir: dir, Artifacts: artifacts(t), Key: key,
		SBOM: &SBOMOptions{Source: filepath.Join(fixtures, "npm"), Time: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	sbomPath := filepath.Join(dir, "sbom", "tars-frontend-v1.0.2-spdx.json")
	data, err := os.ReadFile(sbomPath)
	if err != nil {
		t.Fatal(err)
	}
	data[10] ^= 1
	if err := os.WriteFile(sbomPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	err = verifyRelease(dir, res.Files, "SHA256SUMS.sig", key.Public())
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch: sbom/tars-frontend-v1.0.2-spdx.json") {
		t.Fatalf("err = %v", err)
	}
}
