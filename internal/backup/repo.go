package backup

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
)

// Repository layout.
const (
	// markerFile marks a directory as a repository.
	markerFile = "tarsctl-backup.json"
	setsDir    = "sets"
	tmpDir     = "tmp"
	lockFile   = "lock"
	verifyFile = "verify.json"
	// RepoFormat is the marker's format name.
	RepoFormat = "tarsctl-backup-repository"
)

// Repository is a directory of backup sets:
//
//	REPO/tarsctl-backup.json        marks the directory as a repository
//	REPO/lock                       the lock (see [Repository.Lock])
//	REPO/sets/ID/manifest.json      a complete set: manifest, SHA256SUMS,
//	REPO/sets/ID/SHA256SUMS         one file per part, and the result of
//	REPO/sets/ID/PART-FILES         the latest verification
//	REPO/sets/ID/verify.json
//	REPO/tmp/ID/                    a set being written; renamed into sets/
//	                                when complete, so sets/ never holds a
//	                                partial set
//
// A Repository is safe for concurrent use; separate processes coordinate
// through the lock.
type Repository struct {
	dir string
}

type marker struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
}

// Init opens the repository at dir, creating it (mode 0700) when dir does
// not exist or is empty. It refuses a non-empty directory that is not a
// repository, so a typo cannot scatter backups into an unrelated directory.
func Init(dir string, now time.Time) (*Repository, error) {
	if r, err := Open(dir); err == nil {
		return r, nil
	} else if !errors.Is(err, ErrNotRepository) && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("create repository in %s: %w, and the directory is not empty", dir, ErrNotRepository)
	}
	for _, d := range []string{dir, filepath.Join(dir, setsDir), filepath.Join(dir, tmpDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create repository %s: %w", dir, err)
		}
	}
	b, _ := json.MarshalIndent(marker{Format: RepoFormat, Version: 1, Created: now.UTC()}, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(dir, markerFile), append(b, '\n'), atomicfile.Options{Perm: 0o600}); err != nil {
		return nil, fmt.Errorf("create repository %s: %w", dir, err)
	}
	return &Repository{dir: dir}, nil
}

// Open opens an existing repository. A directory without the marker gives
// [ErrNotRepository].
func Open(dir string) (*Repository, error) {
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("open repository %s: %w", dir, serr)
		}
		return nil, fmt.Errorf("%s: %w (no %s)", dir, ErrNotRepository, markerFile)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil || m.Format != RepoFormat {
		return nil, fmt.Errorf("%s: %w (%s is not a repository marker)", dir, ErrNotRepository, markerFile)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("%s: repository version %d; this tarsctl reads version 1", dir, m.Version)
	}
	return &Repository{dir: dir}, nil
}

// Dir returns the repository's directory.
func (r *Repository) Dir() string { return r.dir }

func (r *Repository) setPath(id string) string { return filepath.Join(r.dir, setsDir, id) }

// Set is a complete backup set as found in the repository.
type Set struct {
	ID   string
	Path string
	// Manifest is nil when the manifest could not be read; Err says why.
	Manifest *Manifest
	Err      error
	// Verified is the latest verification, nil if none was recorded.
	Verified *VerifyStatus
}

// Time is when the backup started, from the manifest, or from the id when
// the manifest is unreadable.
func (s *Set) Time() time.Time {
	if s.Manifest != nil {
		return s.Manifest.Time
	}
	t, _ := time.Parse("20060102-150405", s.ID[:15])
	return t
}

// Good reports whether the set's latest verification passed.
func (s *Set) Good() bool {
	return s.Manifest != nil && s.Verified != nil && s.Verified.OK
}

// VerifyStatus is the result of the latest verification of a set, kept in
// the set's verify.json. Creating a set records the check made right after
// writing it.
type VerifyStatus struct {
	Time     time.Time `json:"time"`
	OK       bool      `json:"ok"`
	Level    string    `json:"level"` // Level*
	Problems []string  `json:"problems"`
}

// List returns the repository's complete sets, newest first. A set whose
// manifest cannot be read is listed with its Err set. Sets being written,
// or left behind by an interrupted backup, are not listed: see
// [Repository.Incomplete].
func (r *Repository) List() ([]*Set, error) {
	entries, err := os.ReadDir(filepath.Join(r.dir, setsDir))
	if err != nil {
		return nil, fmt.Errorf("list backups in %s: %w", r.dir, err)
	}
	var out []*Set
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		out = append(out, r.load(e.Name()))
	}
	slices.SortFunc(out, func(a, b *Set) int {
		if c := b.Time().Compare(a.Time()); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// load reads a set's manifest and verification status.
func (r *Repository) load(id string) *Set {
	s := &Set{ID: id, Path: r.setPath(id)}
	m, err := readManifest(s.Path)
	if err == nil && m.ID != id {
		err = fmt.Errorf("%w: id %q in a directory named %q", ErrManifest, m.ID, id)
	}
	if err != nil {
		s.Err = err
	} else {
		s.Manifest = m
	}
	if b, err := os.ReadFile(filepath.Join(s.Path, verifyFile)); err == nil {
		var v VerifyStatus
		if json.Unmarshal(b, &v) == nil {
			s.Verified = &v
		}
	}
	return s
}

func readManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %v", ErrManifest, err)
	}
	return ParseManifest(b)
}

// Find returns the set named by ref: a full id, a unique prefix of one, or
// "latest" for the newest set.
func (r *Repository) Find(ref string) (*Set, error) {
	sets, err := r.List()
	if err != nil {
		return nil, err
	}
	if ref == "latest" {
		if len(sets) == 0 {
			return nil, fmt.Errorf("%w: the repository %s has no backups", ErrSetNotFound, r.dir)
		}
		return sets[0], nil
	}
	var found []*Set
	for _, s := range sets {
		if s.ID == ref {
			return s, nil
		}
		if ref != "" && strings.HasPrefix(s.ID, ref) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("%w: no backup %q in %s", ErrSetNotFound, ref, r.dir)
	default:
		return nil, fmt.Errorf("%w: %q matches %d backups; give more of the id", ErrSetNotFound, ref, len(found))
	}
}

// Incomplete returns the ids of sets that were started but not finished:
// being written now, or left behind by a backup that was killed. The next
// [Repository.Create] or [Repository.Prune] removes them.
func (r *Repository) Incomplete() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(r.dir, tmpDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filepath.Join(r.dir, tmpDir), err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids, nil
}

// removeIncomplete deletes what interrupted backups left in tmp/. The
// caller holds the lock, so nothing there is being written.
func (r *Repository) removeIncomplete() ([]string, error) {
	ids, err := r.Incomplete()
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := os.RemoveAll(filepath.Join(r.dir, tmpDir, id)); err != nil {
			return nil, fmt.Errorf("remove incomplete backup %s: %w", id, err)
		}
	}
	return ids, nil
}

// writeVerifyStatus records v as the set's latest verification.
func writeVerifyStatus(setDir string, v *VerifyStatus) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(setDir, verifyFile), append(b, '\n'), atomicfile.Options{Perm: 0o600})
}

// newID returns a set id for a backup started at t: the UTC time and 4
// random bytes, so ids sort by time and never collide.
func newID(t time.Time) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:]), nil
}

// syncDir makes a rename or a new file in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
