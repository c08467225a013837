package backup

import (
	"errors"
	"fmt"
)

// Conditions callers branch on. Errors returned by this package wrap them;
// match with errors.Is.
var (
	// ErrNotRepository means a directory is not a backup repository.
	ErrNotRepository = errors.New("not a tarsctl backup repository")
	// ErrSetNotFound means no backup set has the id asked for.
	ErrSetNotFound = errors.New("backup not found")
	// ErrLocked means another process holds the repository lock; the error
	// is a [*LockedError].
	ErrLocked = errors.New("repository is locked")

	// ErrManifest means a manifest is missing, unreadable, invalid, or
	// does not match its checksum in SHA256SUMS (edited by hand).
	ErrManifest = errors.New("bad manifest")
	// ErrMissingPart means a part's file is not in the set.
	ErrMissingPart = errors.New("part file missing")
	// ErrSizeMismatch means a part's file is not the size the manifest
	// records: truncated, or appended to.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrChecksum means a part's SHA-256 is not the one the manifest
	// records.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrCorrupt means a part's checksum matched but its contents do not
	// decode: a bad RDB checksum, a tar stream cut short, a key dump without
	// its end record. Backups written by tarsctl never have it unless the
	// source produced garbage.
	ErrCorrupt = errors.New("corrupt contents")
	// ErrUnsafeArchive means a directory archive holds an entry that would
	// write outside the restore target: an absolute path, "..", a symlink
	// pointing out of the tree, or an entry type tarsctl does not restore.
	ErrUnsafeArchive = errors.New("unsafe archive entry")
	// ErrKeyRequired means a part is encrypted and no key for it was given.
	ErrKeyRequired = errors.New("encryption key required")

	// ErrTargetNotEmpty means a restore target already holds data and
	// Force was not set.
	ErrTargetNotEmpty = errors.New("restore target is not empty")
	// ErrUnreachable means a server (PostgreSQL, Redis) could not be
	// reached.
	ErrUnreachable = errors.New("server unreachable")
	// ErrAuth means a server refused the credentials.
	ErrAuth = errors.New("authentication failed")
	// ErrToolMissing means a program tarsctl runs (pg_dump, pg_restore,
	// psql, redis-server, initdb) was not found.
	ErrToolMissing = errors.New("program not found")
	// ErrUnsupported means a source or target configuration tarsctl
	// cannot back up or restore, such as Redis Cluster.
	ErrUnsupported = errors.New("not supported")
)

// PartError is a problem with one part of one backup set.
type PartError struct {
	Set  string // backup set id
	Part string // part name
	File string // file name within the set
	Err  error
}

func (e *PartError) Error() string {
	return fmt.Sprintf("backup %s, part %s (%s): %v", e.Set, e.Part, e.File, e.Err)
}

func (e *PartError) Unwrap() error { return e.Err }

// ToolError is a child process (pg_dump, pg_restore, psql, redis-server)
// that failed: a non-zero exit status or a signal. Stderr is the end of
// what it printed.
type ToolError struct {
	Tool   string
	Err    error // the exec error: exit status or signal
	Stderr string
}

func (e *ToolError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("%s failed: %v", e.Tool, e.Err)
	}
	return fmt.Sprintf("%s failed: %v: %s", e.Tool, e.Err, e.Stderr)
}

func (e *ToolError) Unwrap() error { return e.Err }
