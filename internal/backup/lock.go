package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// LockInfo says who holds, or held, a repository lock.
type LockInfo struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Operation string    `json:"operation"` // "create", "prune"
	Started   time.Time `json:"started"`
}

func (i LockInfo) String() string {
	return fmt.Sprintf("pid %d on %s (backup %s since %s)", i.PID, i.Host, i.Operation, i.Started.UTC().Format(time.RFC3339))
}

// LockedError is returned when another process holds the repository lock.
type LockedError struct {
	Repo   string
	Holder *LockInfo // nil when the lock file could not be read
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("repository %s is locked by another process", e.Repo)
	}
	return fmt.Sprintf("repository %s is locked by %s", e.Repo, e.Holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is a held repository lock. Release it with [Lock.Unlock].
type Lock struct {
	f    *os.File
	Info LockInfo
	// Stale is set when the lock was left behind by a process that ended
	// without releasing it (killed, or its machine crashed): who that was.
	// The lock was taken over; callers should say so.
	Stale *LockInfo
	// StaleAlive is true when Stale's pid is running on this host (the pid
	// was reused by another program); false when it is gone.
	StaleAlive bool
}

// Lock takes the repository's exclusive lock for op ("create", "prune"),
// or fails at once with a [*LockedError] naming the holder.
//
// The lock is an flock(2) on REPO/lock, which the kernel releases when the
// holder exits however it exits, so a killed backup never leaves the
// repository locked. The file also records the holder (pid, host,
// operation, start time) for the error message; a record found when taking
// a free lock means its holder died holding it, which [Lock.Stale]
// reports. Only create and prune lock: list, status, verify and restore
// read complete sets, which nothing but prune removes.
func (r *Repository) Lock(op string, now time.Time) (*Lock, error) {
	path := filepath.Join(r.dir, lockFile)
	host, _ := os.Hostname()
	info := LockInfo{PID: os.Getpid(), Host: host, Operation: op, Started: now.UTC()}
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock repository %s: %w", r.dir, err)
		}
		if err := flock(f); err != nil {
			holder, _ := readLockInfo(f)
			f.Close()
			if errors.Is(err, errWouldBlock) {
				return nil, &LockedError{Repo: r.dir, Holder: holder}
			}
			return nil, fmt.Errorf("lock repository %s: %w", r.dir, err)
		}
		// Someone may have removed the file between our open and our
		// flock, and another process locked a new one: then ours locks
		// nothing. Start again on the file the path names now.
		if same, err := sameFile(f, path); err != nil || !same {
			f.Close()
			if err != nil && attempt > 3 {
				return nil, fmt.Errorf("lock repository %s: %w", r.dir, err)
			}
			continue
		}
		l := &Lock{f: f, Info: info}
		if prev, err := readLockInfo(f); err == nil && prev != nil {
			l.Stale = prev
			l.StaleAlive = prev.Host == host && processAlive(prev.PID)
		}
		if err := l.write(info); err != nil {
			_ = l.Unlock()
			return nil, fmt.Errorf("lock repository %s: %w", r.dir, err)
		}
		return l, nil
	}
}

func (l *Lock) write(info LockInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	// No fsync: the record only names the holder in messages; the flock
	// does the locking.
	_, err = l.f.WriteAt(append(b, '\n'), 0)
	return err
}

// Unlock clears the holder record and releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	// Clear the record first: a record in a free lock means its holder
	// died.
	err := l.f.Truncate(0)
	if uerr := funlock(l.f); err == nil {
		err = uerr
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// readLockInfo reads the holder record; nil, nil when there is none.
func readLockInfo(f *os.File) (*LockInfo, error) {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, nil
	}
	var info LockInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return &LockInfo{Operation: "unknown"}, nil
	}
	return &info, nil
}

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// LockState is what [Repository.LockState] finds.
type LockState struct {
	// Holder is the process recorded in the lock file, nil when the lock
	// is free and clean.
	Holder *LockInfo
	// Stale is true when Holder is on this host and no longer running:
	// the lock is free and the next create or prune takes it over.
	Stale bool
}

// LockState reports who holds the lock without taking it (taking it, even
// shared, could make a backup starting at that moment fail).
func (r *Repository) LockState() (LockState, error) {
	f, err := os.Open(filepath.Join(r.dir, lockFile))
	if errors.Is(err, fs.ErrNotExist) {
		return LockState{}, nil
	}
	if err != nil {
		return LockState{}, fmt.Errorf("read lock of %s: %w", r.dir, err)
	}
	defer f.Close()
	info, err := readLockInfo(f)
	if err != nil || info == nil {
		return LockState{}, err
	}
	host, _ := os.Hostname()
	return LockState{Holder: info, Stale: info.Host == host && !processAlive(info.PID)}, nil
}
