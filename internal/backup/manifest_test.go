package backup

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func validManifest() *Manifest {
	return &Manifest{
		Format: ManifestFormat, FormatVersion: 1, ID: "20260128-020000-0123abcd",
		Time: fixedNow, Finished: fixedNow.Add(time.Minute), TarsctlVersion: "1.0.0", Profile: "production", Host: "db1",
		Tags: []string{"nightly"},
		Parts: []Part{{
			Name: "postgres", Kind: KindPostgres, Format: FormatPgCustom, File: "postgres.dump", Compression: CompressionNone,
			Size: 10, SHA256: strings.Repeat("ab", 32), RawSize: 10, Entries: 5, Source: "postgres://tars@db/tars",
		}},
	}
}

func TestManifestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(m *Manifest)
		errMsg string
	}{
		{"valid", func(*Manifest) {}, ""},
		{"file escapes", func(m *Manifest) { m.Parts[0].File = "../../etc/passwd" }, `parts[0].file "../../etc/passwd" is not a plain file name`},
		{"file absolute", func(m *Manifest) { m.Parts[0].File = "/etc/passwd" }, "is not a plain file name"},
		{"file is the manifest", func(m *Manifest) { m.Parts[0].File = ManifestFile }, "is not a plain file name of its own"},
		{"file dot-dot", func(m *Manifest) { m.Parts[0].File = "a..b" }, "is not a plain file name"},
		{"two parts one file", func(m *Manifest) {
			p := m.Parts[0]
			p.Name = "other"
			m.Parts = append(m.Parts, p)
		}, "is not a plain file name of its own"},
		{"duplicate name", func(m *Manifest) { m.Parts = append(m.Parts, m.Parts[0]) }, "appears twice"},
		{"bad id", func(m *Manifest) { m.ID = "../x" }, `id "../x"`},
		{"newer format", func(m *Manifest) { m.FormatVersion = 2 }, "format_version is 2"},
		{"unknown kind", func(m *Manifest) { m.Parts[0].Kind = "mysql" }, `kind "mysql"`},
		{"format of another kind", func(m *Manifest) { m.Parts[0].Format = FormatTar }, "is not a format of kind postgres"},
		{"bad sha", func(m *Manifest) { m.Parts[0].SHA256 = "abc" }, "sha256"},
		{"compression", func(m *Manifest) { m.Parts[0].Compression = "lz4" }, "compression"},
		{"negative size", func(m *Manifest) { m.Parts[0].Size = -1 }, "negative"},
		{"key id without encryption", func(m *Manifest) { m.Parts[0].KeyID = "0123456789abcdef" }, "does not match the set's encryption"},
		{"no parts", func(m *Manifest) { m.Parts = nil }, "no parts"},
		{"no time", func(m *Manifest) { m.Time = time.Time{} }, "time is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := validManifest()
			tt.edit(m)
			b, _ := json.Marshal(m)
			got, err := ParseManifest(b)
			if tt.errMsg == "" {
				if err != nil || got.ID != m.ID {
					t.Fatalf("valid manifest: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), tt.errMsg) || got != nil {
				t.Errorf("err = %v, want %q", err, tt.errMsg)
			}
		})
	}
	for name, data := range map[string]string{
		"empty":         "",
		"not json":      "hello",
		"unknown field": `{"format":"tarsctl-backup","surprise":1}`,
		"two documents": `{} {}`,
	} {
		if _, err := ParseManifest([]byte(data)); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestManifestNamesFileOutsideSet: a manifest edited to point a part at a
// file outside the set is rejected before any file is opened.
func TestManifestNamesFileOutsideSet(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	src := t.TempDir()
	s := create(t, r, nil, &DirSource{Name: "data", Path: src})
	path := filepath.Join(s.Path, ManifestFile)
	b, _ := os.ReadFile(path)
	b = []byte(strings.Replace(string(b), `"file": "dir-data.tar.zst"`, `"file": "../../../etc/passwd"`, 1))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sets, err := r.List()
	if err != nil || len(sets) != 1 || sets[0].Manifest != nil || !errors.Is(sets[0].Err, ErrManifest) {
		t.Fatalf("List: %v %+v", err, sets)
	}
	rep, err := r.Verify(t.Context(), sets[0], VerifyOptions{})
	if err != nil || rep.OK() || !strings.Contains(rep.Problems()[0], "is not a plain file name") {
		t.Errorf("verify: %v %v", err, rep.Problems())
	}
	if _, err := r.Restore(t.Context(), sets[0], RestoreOptions{Targets: map[string]Target{"dir-data": &DirTarget{Path: t.TempDir()}}}); !errors.Is(err, ErrManifest) {
		t.Errorf("restore: %v", err)
	}
}

func TestSums(t *testing.T) {
	t.Parallel()
	s := sums{"b.tar.zst": strings.Repeat("1", 64), ManifestFile: strings.Repeat("2", 64)}
	got, err := parseSums(s.marshal())
	if err != nil || len(got) != 2 || got["b.tar.zst"] != s["b.tar.zst"] {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"nothex  a\n", strings.Repeat("1", 64) + " single-space\n", strings.Repeat("1", 64) + "  ../x\n",
		strings.Repeat("1", 64) + "  a\n" + strings.Repeat("2", 64) + "  a\n"} {
		if _, err := parseSums([]byte(bad)); err == nil {
			t.Errorf("parseSums(%q) succeeded", bad)
		}
	}
}

// FuzzParseManifest: no input panics, a parsed manifest is valid, and it
// survives a round trip.
func FuzzParseManifest(f *testing.F) {
	b, _ := marshalManifest(validManifest())
	f.Add(b)
	enc := validManifest()
	enc.Encryption = &Encryption{Algorithm: EncryptionAlgorithm, KeyID: "0123456789abcdef"}
	enc.Parts[0].KeyID = "0123456789abcdef"
	b, _ = marshalManifest(enc)
	f.Add(b)
	f.Add([]byte(`{"format":"tarsctl-backup","format_version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if m != nil {
				t.Fatal("error with a manifest")
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed manifest does not validate: %v", err)
		}
		out, err := marshalManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseManifest(out)
		if err != nil || again.ID != m.ID || len(again.Parts) != len(m.Parts) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
