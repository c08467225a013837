// Package logfile is an append-only log file that rotates by size:
// FILE → FILE.1 → FILE.2 … keeping a fixed number of old files, so a
// long-running daemon cannot fill the disk.
package logfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Defaults for [Open].
const (
	DefaultMaxSize = 50 << 20
	DefaultKeep    = 5
)

// File is a size-rotating log file, safe for concurrent use.
type File struct {
	mu      sync.Mutex
	path    string
	maxSize int64
	keep    int
	f       *os.File
	size    int64
}

// Open opens (or creates) path for appending. maxSize ≤ 0 and keep ≤ 0 mean
// the defaults.
func Open(path string, maxSize int64, keep int) (*File, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if keep <= 0 {
		keep = DefaultKeep
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	l := &File{path: path, maxSize: maxSize, keep: keep}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *File) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log file: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past its
// maximum size. A line is never split across files.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(p)) > l.maxSize {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate shifts FILE.i to FILE.i+1, dropping the oldest, and starts a new
// FILE.
func (l *File) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	_ = os.Remove(fmt.Sprintf("%s.%d", l.path, l.keep))
	for i := l.keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	return l.open()
}

// Fd is the current file's descriptor, for redirecting a process's own
// stderr (panics) into the log.
func (l *File) Fd() uintptr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Fd()
}

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
