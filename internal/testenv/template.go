package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// templateFormat changes whenever the way the template is built changes in a
// way initdbArgs does not show.
const templateFormat = "1"

// templateName names the cached template for inst, for example
// "pg15-15.18-template-0123abcd". The hash covers everything that shapes the
// data directory: the exact server build and the initdb flags.
func templateName(inst *pgInstallation) string {
	h := sha256.New()
	for _, s := range append([]string{templateFormat, inst.versionLine}, initdbArgs...) {
		io.WriteString(h, s)
		h.Write([]byte{0})
	}
	version := strings.Map(func(r rune) rune {
		if (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r == '.' {
			return r
		}
		return '_'
	}, inst.version)
	return fmt.Sprintf("pg%s-%s-template-%s", inst.major(), version, hex.EncodeToString(h.Sum(nil))[:8])
}

// isTemplate reports whether dir is a complete template. A template only
// ever appears by rename once complete, so existing is enough; PG_VERSION is
// checked rather than dir so that a stray empty directory does not count.
func isTemplate(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "PG_VERSION"))
	return err == nil
}

// pgTemplate returns the cached initdb'd data directory for inst, building it
// first if needed, or "" if there is no usable cache directory, in which case
// the caller runs initdb itself. base is where initdb may work as as.
//
// The template is built at most once per machine and version: builders
// serialise on a lock file beside it, build in a temporary directory and
// rename it into place, so a reader never sees a partial template and a
// builder that dies leaves only a temporary directory that the next builder
// removes.
func pgTemplate(ctx context.Context, inst *pgInstallation, as *runAs, base string) (string, error) {
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		return "", nil
	}
	root := filepath.Join(cacheDir, "tarsctl-testenv")
	name := templateName(inst)
	final := filepath.Join(root, name)
	if isTemplate(final) {
		return final, nil
	}

	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", nil
	}
	lock, err := os.OpenFile(final+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", nil
	}
	defer lock.Close()
	if err := lockFile(lock); err != nil {
		return "", nil
	}
	defer unlockFile(lock)
	if isTemplate(final) { // built while we waited for the lock
		return final, nil
	}

	// Leftovers of builders that died (only the lock holder creates these),
	// and anything else in the way of the rename.
	stale, _ := filepath.Glob(filepath.Join(root, "."+name+".tmp-*"))
	for _, dir := range append(stale, final) {
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("clean postgres template cache: %w", err)
		}
	}

	// initdb runs as as, which may not be able to enter root's cache
	// directory, so it works in base and the result is copied over.
	work, err := newTempDir(base, "tarsctl-pg-initdb-", as)
	if err != nil {
		return "", fmt.Errorf("create initdb directory: %w", err)
	}
	defer work.remove()
	built := filepath.Join(work.path, "data")
	if err := runInitdb(ctx, inst, built, as); err != nil {
		return "", err
	}

	stage, err := os.MkdirTemp(root, "."+name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("cache postgres template: %w", err)
	}
	if err := copyTree(built, stage, nil); err != nil {
		_ = os.RemoveAll(stage)
		return "", fmt.Errorf("cache postgres template in %s: %w", stage, err)
	}
	if err := os.Rename(stage, final); err != nil {
		_ = os.RemoveAll(stage)
		return "", fmt.Errorf("cache postgres template: %w", err)
	}
	return final, nil
}

// copyTree copies the directory src to dst (which may exist) with the same
// modes, owned by owner if it is set or else by us. It copies directories,
// regular files and symbolic links.
func copyTree(src, dst string, owner *runAs) error {
	type dirMode struct {
		path string
		perm fs.FileMode
	}
	var dirs []dirMode
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMode{target, mode.Perm()})
		case mode.IsRegular():
			if err := copyFile(path, target, mode.Perm()); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("copy %s: unsupported file type %v", path, mode.Type())
		}
		if owner != nil {
			return os.Lchown(target, owner.uid, owner.gid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Directory modes last, deepest first, so that a directory without write
	// permission could still be filled.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i].path, dirs[i].perm); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies the regular file src to the new file dst with mode perm.
func copyFile(src, dst string, perm fs.FileMode) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	// The umask may have cleared bits of perm.
	return out.Chmod(perm)
}
