package airgap

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tars-ops/tarsctl/internal/services"
)

// imageProblems says how an image's config falls short of serving e: its
// name in the services label and its ports exposed.
func imageProblems(cfg *v1.ConfigFile, e services.Entry) []string {
	var p []string
	if !slices.Contains(strings.Split(cfg.Config.Labels[LabelServices], ","), e.Name) {
		p = append(p, fmt.Sprintf("label %s = %q lacks %s", LabelServices, cfg.Config.Labels[LabelServices], e.Name))
	}
	for _, port := range []int{e.APIPort, e.PeerPort} {
		if _, ok := cfg.Config.ExposedPorts[fmt.Sprintf("%d/tcp", port)]; port != 0 && !ok {
			p = append(p, fmt.Sprintf("port %d not exposed", port))
		}
	}
	return p
}

func buildConfig(t *testing.T) *v1.ConfigFile {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "tarsctl")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	idx, err := BuildIndex(ImageOptions{Binaries: map[Platform]string{{"linux", "amd64"}: bin}, Ref: "company/tars:1.0.2",
		Version: "1.0.2", Created: time.Unix(0, 0), TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// An entry registered in the catalog is listed by the image it would run
// from, with its ports exposed. Not parallel: it changes the catalog.
func TestImageListsCatalogEntry(t *testing.T) {
	synthetic := services.Entry{Name: "synthetic-quorum", APIPort: 18941, PeerPort: 18942, Kind: services.StatefulSet}
	t.Run("registered", func(t *testing.T) {
		services.TestOnlyRegister(t, synthetic)
		cfg := buildConfig(t)
		for _, e := range services.All() {
			if p := imageProblems(cfg, e); p != nil {
				t.Errorf("%s: %v", e.Name, p)
			}
		}
	})
	t.Run("planted: built without the entry", func(t *testing.T) {
		if p := imageProblems(buildConfig(t), synthetic); len(p) != 3 {
			t.Errorf("the check found %v on an image without the entry, want 3 problems", p)
		}
	})
}
