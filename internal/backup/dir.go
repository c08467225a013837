package backup

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DirSource backs up a directory tree as a POSIX (PAX) tar stream: regular
// files, directories and symlinks, with their permission bits, owner ids
// and modification times to the nanosecond.
//
// It never follows a symlink: a symlink is stored as a symlink, and one
// whose target is absolute or leaves the tree fails the backup, because
// restoring it would point outside the restore target. Sockets, FIFOs and
// device files are skipped and listed in the manifest. A file that shrinks
// while it is read fails the backup; one that grows is stored at the size
// it had when the walk reached it.
type DirSource struct {
	// Name is the directory's short name; the part is "dir-NAME".
	Name string
	Path string
}

var _ Source = (*DirSource)(nil)

// Spec describes the part.
func (s *DirSource) Spec() PartSpec {
	abs, err := filepath.Abs(s.Path)
	if err != nil {
		abs = s.Path
	}
	return PartSpec{Name: "dir-" + s.Name, Kind: KindDir, Format: FormatTar, Source: abs, Ext: ".tar", Compress: true}
}

// Dump writes the tree as tar to w.
func (s *DirSource) Dump(ctx context.Context, w io.Writer) (DumpResult, error) {
	var res DumpResult
	fi, err := os.Stat(s.Path)
	if err != nil {
		return res, fmt.Errorf("back up directory: %w", err)
	}
	if !fi.IsDir() {
		return res, fmt.Errorf("back up directory %s: not a directory", s.Path)
	}
	// os.Root keeps every open inside the tree, even if a file is swapped
	// for a symlink while we walk.
	root, err := os.OpenRoot(s.Path)
	if err != nil {
		return res, fmt.Errorf("back up directory: %w", err)
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	buf := make([]byte, 256<<10)
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		switch mode := info.Mode(); {
		case mode.IsDir(), mode.IsRegular():
		case mode&fs.ModeSymlink != 0:
			if link, err = root.Readlink(name); err != nil {
				return err
			}
			if reason := linkOutside(name, link); reason != "" {
				return fmt.Errorf("%w: symlink %s → %s %s; tarsctl only backs up symlinks within the tree",
					ErrUnsafeArchive, name, link, reason)
			}
		default:
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s (%s)", name, fileType(mode)))
			return nil
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		hdr.Format = tar.FormatPAX
		hdr.Name = name
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.ModTime = info.ModTime()
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res.Entries++
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := root.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.CopyBuffer(tw, io.LimitReader(f, hdr.Size), buf)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if n < hdr.Size {
			return fmt.Errorf("%s shrank from %d to %d bytes while it was read; back it up while nothing writes to it", name, hdr.Size, n)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("back up directory %s: %w", s.Path, err)
	}
	if err := tw.Close(); err != nil {
		return res, err
	}
	return res, nil
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}

// linkOutside says why a symlink at name with the given target would point
// outside the tree, or "" if it stays inside.
func linkOutside(name, target string) string {
	if target == "" {
		return "is empty"
	}
	if path.IsAbs(target) || filepath.IsAbs(target) {
		return "is absolute"
	}
	j := path.Join(path.Dir(name), target)
	if j == ".." || strings.HasPrefix(j, "../") {
		return "points outside the directory"
	}
	return ""
}

// checkEntry refuses an archive entry that could write outside the restore
// target or that tarsctl does not restore.
func checkEntry(h *tar.Header) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %q %s", ErrUnsafeArchive, h.Name, why)
	}
	name := h.Name
	switch {
	case name == "":
		return bad("has an empty name")
	case strings.ContainsRune(name, 0):
		return bad("has a NUL byte in its name")
	case strings.HasPrefix(name, "/"), filepath.IsAbs(name):
		return bad("is an absolute path")
	case slices.Contains(strings.Split(name, "/"), ".."):
		return bad("contains \"..\"")
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink:
		if reason := linkOutside(path.Clean(name), h.Linkname); reason != "" {
			return fmt.Errorf("%w: symlink %q → %q %s", ErrUnsafeArchive, h.Name, h.Linkname, reason)
		}
	case tar.TypeLink:
		return bad("is a hard link, which tarsctl does not restore")
	default:
		return bad(fmt.Sprintf("has entry type %q, which tarsctl does not restore", h.Typeflag))
	}
	return nil
}

// scanTar reads a tar stream to its end, checking every entry, and returns
// how many entries it holds.
func scanTar(ctx context.Context, r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	var n int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, tarError(err)
		}
		if err := checkEntry(h); err != nil {
			return n, err
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return n, tarError(err)
		}
		n++
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
}

func tarError(err error) error {
	if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsafeArchive) {
		return err
	}
	if errors.Is(err, tar.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: tar: %v", ErrCorrupt, err)
	}
	return err
}

// DirTarget restores a directory part into Path, which must be empty or
// missing unless Force is set; with Force, files in the backup replace
// files of the same name and other files stay. Every write goes through
// os.Root, so nothing lands outside Path whatever the archive holds.
type DirTarget struct {
	Path  string
	Force bool
	// SameOwner restores the files' owner ids too (as root).
	SameOwner bool
}

var _ Target = (*DirTarget)(nil)

func (t *DirTarget) Kind() string   { return KindDir }
func (t *DirTarget) String() string { return t.Path }

// Prepare checks that Path is a directory that is empty or missing.
func (t *DirTarget) Prepare(context.Context) error {
	fi, err := os.Lstat(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", t.Path)
	}
	entries, err := os.ReadDir(t.Path)
	if err != nil {
		return err
	}
	if len(entries) > 0 && !t.Force {
		return fmt.Errorf("%w: %s holds %d entries; restore into an empty or new directory, or overwrite with force", ErrTargetNotEmpty, t.Path, len(entries))
	}
	return nil
}

type dirMeta struct {
	name     string
	mode     fs.FileMode
	mtime    time.Time
	uid, gid int
}

const restoreModeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// Restore extracts the archive into Path.
func (t *DirTarget) Restore(ctx context.Context, r io.Reader, _ Part) (Restored, error) {
	var res Restored
	if err := os.MkdirAll(t.Path, 0o700); err != nil {
		return res, err
	}
	root, err := os.OpenRoot(t.Path)
	if err != nil {
		return res, err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	buf := make([]byte, 256<<10)
	var dirs []dirMeta
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, tarError(err)
		}
		if err := checkEntry(h); err != nil {
			return res, err
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		name := path.Clean(h.Name)
		mode := h.FileInfo().Mode() & restoreModeBits
		switch h.Typeflag {
		case tar.TypeDir:
			if name != "." {
				if err := root.MkdirAll(name, 0o700); err != nil {
					return res, err
				}
			}
			dirs = append(dirs, dirMeta{name, mode, h.ModTime, h.Uid, h.Gid})
		case tar.TypeReg:
			if err := t.clear(root, name); err != nil {
				return res, err
			}
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return res, err
			}
			_, err = io.CopyBuffer(onlyWriter{f}, tr, buf)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return res, tarError(err)
			}
			if err := t.owner(root, name, h); err != nil {
				return res, err
			}
			if err := root.Chmod(name, mode); err != nil {
				return res, err
			}
			if err := root.Chtimes(name, h.ModTime, h.ModTime); err != nil {
				return res, err
			}
		case tar.TypeSymlink:
			if err := t.clear(root, name); err != nil {
				return res, err
			}
			if err := root.Symlink(h.Linkname, name); err != nil {
				return res, err
			}
			if err := t.owner(root, name, h); err != nil {
				return res, err
			}
		}
		res.Entries++
	}
	// Directories last, deepest first: writing into a directory changes
	// its mtime, and a read-only directory could not be written into.
	for _, d := range slices.Backward(dirs) {
		if t.SameOwner {
			if err := root.Lchown(d.name, d.uid, d.gid); err != nil {
				return res, err
			}
		}
		if err := root.Chmod(d.name, d.mode); err != nil {
			return res, err
		}
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return res, err
		}
	}
	res.Note = fmt.Sprintf("%d files and directories", res.Entries)
	return res, nil
}

// clear makes room for a file or symlink at name: its parent directory,
// and with Force the removal of what is there.
func (t *DirTarget) clear(root *os.Root, name string) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !t.Force {
		return fmt.Errorf("%s: %w", name, fs.ErrExist)
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: a directory is in the way of a file of the same name", name)
	}
	return root.Remove(name)
}

func (t *DirTarget) owner(root *os.Root, name string, h *tar.Header) error {
	if !t.SameOwner {
		return nil
	}
	return root.Lchown(name, h.Uid, h.Gid)
}

// onlyWriter hides a file's ReadFrom, so io.CopyBuffer uses our buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
