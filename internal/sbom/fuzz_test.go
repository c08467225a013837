package sbom

import (
	"os"
	"path/filepath"
	"testing"
)

func seed(f *testing.F, paths ...string) {
	for _, p := range paths {
		data, err := os.ReadFile(filepath.Join("../../testdata/sbom", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
}

func FuzzParseRequirements(f *testing.F) {
	seed(f, "python/requirements.txt", "python/requirements-dev.txt")
	f.Add([]byte("a==1 \\\n  --hash=sha256:zz\n# via\n#   b\n-r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		reqs, _, _, err := parseRequirements(data, "requirements.txt")
		if err != nil && reqs != nil {
			t.Fatal("requirements with an error")
		}
		for _, r := range reqs {
			if r.name == "" || r.version == "" {
				t.Fatalf("empty requirement %+v", r)
			}
		}
	})
}

func FuzzParsePoetryLock(f *testing.F) {
	seed(f, "poetry/poetry.lock")
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := parsePoetryLock(data, "poetry.lock")
		if err != nil && pkgs != nil {
			t.Fatal("packages with an error")
		}
	})
}

func FuzzParsePipfileLock(f *testing.F) {
	seed(f, "pipenv/Pipfile.lock")
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, _, err := parsePipfileLock(data, "Pipfile.lock")
		if err != nil && pkgs != nil {
			t.Fatal("packages with an error")
		}
	})
}

func FuzzParseNPMLock(f *testing.F) {
	seed(f, "npm/package-lock.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		lock, err := parseNPMLock(data, "package-lock.json")
		if err != nil {
			if lock != nil {
				t.Fatal("lock with an error")
			}
			return
		}
		// Resolution terminates and finds only real install paths.
		for k, p := range lock.Packages {
			for d := range p.Dependencies {
				if at, ok := resolveNPM(lock.Packages, k, d); ok {
					if _, exists := lock.Packages[at]; !exists {
						t.Fatalf("resolved %s to missing %s", d, at)
					}
				}
			}
		}
	})
}

// FuzzRead: no SBOM document makes the readers panic, and what they read
// writes out again.
func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.golden")
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		f.Add(data)
	}
	f.Add([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.7","components":[{"components":[{}]}]}`))
	f.Add([]byte(`{"spdxVersion":"SPDX-2.3","packages":[{}],"relationships":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, _, err := Read(data)
		if err != nil {
			if inv != nil {
				t.Fatal("inventory with an error")
			}
			return
		}
		inv.Normalize()
		for _, format := range Formats {
			if err := Write(discard{}, format, inv, WriteOptions{}); err != nil {
				t.Fatalf("write %s: %v", format, err)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
