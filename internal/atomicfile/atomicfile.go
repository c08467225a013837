// Package atomicfile writes files so that readers see either the old
// content or the new, never a half-written file: the data goes to a
// temporary file in the same directory, is synced, and is renamed over the
// target; the directory is then synced so the rename survives a crash.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned by [WriteFile] with NoOverwrite when the target
// already exists.
var ErrExists = errors.New("file already exists")

// Options tune [WriteFile].
type Options struct {
	// Perm is the mode of the new file (default 0644; 0600 for secrets).
	Perm fs.FileMode
	// NoOverwrite refuses to replace an existing file.
	NoOverwrite bool
	// MakeDirs creates the missing directories above path first, as a
	// user naming an output file expects: 0700 when Perm gives no access
	// to group and others (a secret's directory is private too), 0755
	// otherwise.
	MakeDirs bool
}

// WriteFile atomically writes data to path.
func WriteFile(path string, data []byte, opts Options) error {
	return Write(path, opts, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write atomically replaces path with what fill writes. If fill or any step
// fails, the target is untouched and the temporary file is removed.
func Write(path string, opts Options, fill func(io.Writer) error) (err error) {
	perm := opts.Perm
	if perm == 0 {
		perm = 0o644
	}
	dir := filepath.Dir(path)
	if opts.MakeDirs {
		dirPerm := fs.FileMode(0o755)
		if perm&0o077 == 0 {
			dirPerm = 0o700
		}
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return fmt.Errorf("write %s: create its directory: %w", path, err)
		}
	}
	if opts.NoOverwrite {
		if _, statErr := os.Lstat(path); statErr == nil {
			return fmt.Errorf("write %s: %w", path, ErrExists)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	// CreateTemp makes the file 0600; set the requested mode before any
	// data lands so a secret is never readable by others, even briefly.
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	// Close before rename: some platforms cannot rename an open file.
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if opts.NoOverwrite {
		// Link fails if the target appeared meanwhile, unlike rename.
		if err = os.Link(tmpName, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("write %s: %w", path, ErrExists)
				return err
			}
			return fmt.Errorf("write %s: %w", path, err)
		}
		_ = os.Remove(tmpName)
	} else if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
