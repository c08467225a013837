package keys

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/progress"
)

// JournalName is the rotation journal's file name in the data directory.
// It is plain JSON holding key ids and phases, never key material, and is
// not itself in the encrypted format, so rotation leaves it alone.
const JournalName = ".tarsctl-key-rotation.json"

// JournalVersion is the journal format version [Rotate] writes.
const JournalVersion = 1

// tempMarker is in the name of every temporary file a migration writes;
// a later run removes the ones a killed run left behind.
const tempMarker = ".tarsctl-rekey-"

// Phase is a step of an AES key rotation, in order.
type Phase string

// The phases of [Rotate].
const (
	PhaseExpand   Phase = "expand"
	PhaseSwitch   Phase = "switch"
	PhaseMigrate  Phase = "migrate"
	PhaseVerify   Phase = "verify"
	PhaseContract Phase = "contract"
	PhaseDone     Phase = "done"
)

// Errors [Rotate] returns for conditions a caller branches on.
var (
	// ErrSameKey means the old and the new key are the same key.
	ErrSameKey = errors.New("the old and the new key are the same key")
	// ErrRotationInProgress means the journal records an unfinished
	// rotation between other keys.
	ErrRotationInProgress = errors.New("another key rotation is in progress in this data directory")
	// ErrKeysSwapped means no file is on the old key, some are on the new
	// one, and no rotation between the two is recorded: most likely
	// --old-key and --new-key were given the wrong way round, and going on
	// would let --retire-old destroy the key the data is sealed with.
	ErrKeysSwapped = errors.New("no file is sealed with the old key")
	// ErrForeignFiles is matched by [*ForeignFilesError].
	ErrForeignFiles = errors.New("files sealed with neither key")
	// ErrVerify is matched by [*VerifyError].
	ErrVerify = errors.New("verification failed")
)

// ForeignFile is an encrypted file rotation cannot handle.
type ForeignFile struct {
	Path   string `json:"path"`
	KeyID  string `json:"key_id,omitempty"`
	Reason string `json:"reason"`
}

// ForeignFilesError lists files sealed with a key that is neither the old
// nor the new one, or whose header is damaged. [Rotate] returns it before
// modifying anything.
type ForeignFilesError struct {
	OldKeyID, NewKeyID string
	Files              []ForeignFile
	// WrongOldKey is true when no file is sealed with the old key: most
	// likely --old-key names the wrong key.
	WrongOldKey bool
}

func (e *ForeignFilesError) Error() string {
	f := e.Files[0]
	msg := fmt.Sprintf("%d encrypted file(s) under the data directory are sealed with neither the old key (%s) nor the new key (%s): %s: %s",
		len(e.Files), e.OldKeyID, e.NewKeyID, f.Path, f.Reason)
	if e.WrongOldKey {
		msg += "; no file is sealed with the old key given"
	}
	return msg
}

// Is makes errors.Is(err, ErrForeignFiles) true.
func (e *ForeignFilesError) Is(target error) bool { return target == ErrForeignFiles }

// VerifyError lists files that did not open with the new key after the
// migration.
type VerifyError struct {
	Files []ForeignFile
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%d file(s) do not open with the new key: %s: %s", len(e.Files), e.Files[0].Path, e.Files[0].Reason)
}

// Is makes errors.Is(err, ErrVerify) true.
func (e *VerifyError) Is(target error) bool { return target == ErrVerify }

// PhaseRecord is one completed phase in the [Journal].
type PhaseRecord struct {
	Phase       Phase     `json:"phase"`
	CompletedAt time.Time `json:"completed_at"`
	Files       int       `json:"files,omitempty"`
}

// Journal records a rotation's progress; docs/formats.md describes it.
type Journal struct {
	Version       int           `json:"version"`
	OldKeyID      string        `json:"old_key_id"`
	NewKeyID      string        `json:"new_key_id"`
	Phase         Phase         `json:"phase"` // the last completed phase, "" before expand
	StartedAt     time.Time     `json:"started_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
	Runs          int           `json:"runs"` // how many times the rotation was started or resumed
	Phases        []PhaseRecord `json:"phases"`
	OldKeyRetired bool          `json:"old_key_retired"`
}

// ReadJournal reads the journal in dataDir; it returns nil and no error
// when there is none.
func ReadJournal(dataDir string) (*Journal, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, JournalName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read rotation journal: %w", err)
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("rotation journal %s: %w", filepath.Join(dataDir, JournalName), err)
	}
	if j.Version != JournalVersion {
		return nil, fmt.Errorf("rotation journal %s: version %d, this tarsctl reads version %d", filepath.Join(dataDir, JournalName), j.Version, JournalVersion)
	}
	return &j, nil
}

func writeJournal(dataDir string, j *Journal) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dataDir, JournalName), append(b, '\n'), atomicfile.Options{Perm: 0o600})
}

// RotateOptions are the inputs of [Rotate].
type RotateOptions struct {
	DataDir string
	OldKey  []byte
	NewKey  []byte
	// OldKeyPath is the old key's file, shredded by the contract phase
	// when RetireOld is set.
	OldKeyPath string
	RetireOld  bool
	// DryRun plans and counts, and modifies nothing.
	DryRun bool
	// Workers bounds the files in flight at once (default: 4 × GOMAXPROCS,
	// at most 16). At most GOMAXPROCS of them encrypt at a time; the others
	// wait for their fsync, which costs no CPU.
	Workers  int
	Progress progress.Reporter
	Now      func() time.Time
	// BeforePhase, when set, runs before each phase starts, with the
	// journal as recorded so far. The CLI uses it to bring daemons along
	// (reload after expand, restart after switch); an error stops the
	// rotation, resumable.
	BeforePhase func(ctx context.Context, p Phase) error
}

// Plan is what a rotation will do, from a scan of the data directory.
type Plan struct {
	OldKeyID   string `json:"old_key_id"`
	NewKeyID   string `json:"new_key_id"`
	Files      int    `json:"files"`       // regular files scanned
	ToMigrate  int    `json:"to_migrate"`  // sealed with the old key
	Migrated   int    `json:"already_new"` // already sealed with the new key
	Plaintext  int    `json:"not_encrypted"`
	Bytes      int64  `json:"bytes_to_migrate"`
	StaleTemps int    `json:"stale_temp_files"`
	Resuming   bool   `json:"resuming"` // a journal records an unfinished run
	ResumeFrom Phase  `json:"resume_after,omitempty"`

	oldFiles []string
}

// Result is what [Rotate] did.
type Result struct {
	Plan
	Rewritten      int     `json:"rewritten"`
	Verified       int     `json:"verified"`
	OldKeyRetired  bool    `json:"old_key_retired"`
	Phases         []Phase `json:"phases"`
	MigrateSeconds float64 `json:"migrate_seconds"`
	BytesRewritten int64   `json:"bytes_rewritten"`
	DryRun         bool    `json:"dry_run"`
}

// Rotate moves the data directory from the old AES key to the new one
// (see the package documentation for the phases and their guarantees).
// Errors wrap [ErrSameKey], [ErrRotationInProgress], [*ForeignFilesError]
// (nothing was modified), [*VerifyError], or the cause, naming the file.
func Rotate(ctx context.Context, opts RotateOptions) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Progress == nil {
		opts.Progress = progress.Discard
	}
	if opts.Workers <= 0 {
		opts.Workers = min(4*runtime.GOMAXPROCS(0), 16)
	}
	oldID, newID := crypto.KeyID(opts.OldKey), crypto.KeyID(opts.NewKey)
	if oldID == newID {
		return nil, ErrSameKey
	}
	fi, err := os.Stat(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data directory %s: %w", opts.DataDir, syscall.ENOTDIR)
	}
	j, err := ReadJournal(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if j != nil && j.Phase != PhaseDone && (j.OldKeyID != oldID || j.NewKeyID != newID) {
		return nil, fmt.Errorf("%w: from key %s to key %s, after phase %q; finish it with those keys, or remove %s if it was abandoned",
			ErrRotationInProgress, j.OldKeyID, j.NewKeyID, j.Phase, filepath.Join(opts.DataDir, JournalName))
	}
	resuming := j != nil && j.Phase != PhaseDone
	recorded := j != nil && j.OldKeyID == oldID && j.NewKeyID == newID
	if !resuming {
		now := opts.Now().UTC()
		j = &Journal{Version: JournalVersion, OldKeyID: oldID, NewKeyID: newID, StartedAt: now}
	}

	opts.Progress.Report(progress.Event{Phase: "plan", Message: "scanning " + opts.DataDir})
	plan, err := scan(opts.DataDir, oldID, newID, resuming)
	if err != nil {
		return nil, err
	}
	if plan.ToMigrate == 0 && plan.Migrated > 0 && !recorded {
		return nil, fmt.Errorf("%w %s, %d file(s) already are with the new key %s, and the journal records no rotation between them: are --old-key and --new-key the wrong way round?",
			ErrKeysSwapped, oldID, plan.Migrated, newID)
	}
	plan.Resuming = resuming
	if resuming {
		plan.ResumeFrom = j.Phase
	}
	res := &Result{Plan: *plan, DryRun: opts.DryRun}
	if opts.DryRun {
		return res, nil
	}

	j.Runs++
	done := func(p Phase, files int) error {
		now := opts.Now().UTC()
		j.Phase, j.UpdatedAt = p, now
		j.Phases = append(j.Phases, PhaseRecord{Phase: p, CompletedAt: now, Files: files})
		res.Phases = append(res.Phases, p)
		return writeJournal(opts.DataDir, j)
	}
	before := func(p Phase) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if opts.BeforePhase != nil {
			return opts.BeforePhase(ctx, p)
		}
		return nil
	}
	if err := writeJournal(opts.DataDir, j); err != nil {
		return res, err
	}

	// expand: from here on every file opens with either key.
	ring, err := crypto.NewKeyring(opts.OldKey, opts.NewKey)
	if err != nil {
		return res, err
	}
	if err := before(PhaseExpand); err != nil {
		return res, err
	}
	if err := done(PhaseExpand, 0); err != nil {
		return res, err
	}
	// switch: the new key seals every write from here on, including ours.
	if err := before(PhaseSwitch); err != nil {
		return res, err
	}
	if err := done(PhaseSwitch, 0); err != nil {
		return res, err
	}

	if err := before(PhaseMigrate); err != nil {
		return res, err
	}
	// Scan again: a live writer may have sealed files with the old key
	// between the plan and the switch.
	again, err := scan(opts.DataDir, oldID, newID, true)
	if err != nil {
		return res, err
	}
	plan.oldFiles, plan.StaleTemps = again.oldFiles, again.StaleTemps
	start := time.Now()
	n, nbytes, err := migrate(ctx, opts, plan, ring)
	res.Rewritten, res.BytesRewritten = n, nbytes
	res.MigrateSeconds = time.Since(start).Seconds()
	if err != nil {
		return res, err
	}
	if err := done(PhaseMigrate, n); err != nil {
		return res, err
	}

	if err := before(PhaseVerify); err != nil {
		return res, err
	}
	verified, err := verifyAll(ctx, opts)
	res.Verified = verified
	if err != nil {
		return res, err
	}
	if err := done(PhaseVerify, verified); err != nil {
		return res, err
	}

	if opts.RetireOld && opts.OldKeyPath != "" {
		if err := before(PhaseContract); err != nil {
			return res, err
		}
		// Only now, with every file verified under the new key, may the
		// old key go: before this point it is the only way back.
		if err := Shred(opts.OldKeyPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, err
		}
		res.OldKeyRetired, j.OldKeyRetired = true, true
		if err := done(PhaseContract, 0); err != nil {
			return res, err
		}
	}
	if err := done(PhaseDone, 0); err != nil {
		return res, err
	}
	return res, nil
}

// scan classifies every file under dir. It modifies nothing.
func scan(dir, oldID, newID string, resuming bool) (*Plan, error) {
	p := &Plan{OldKeyID: oldID, NewKeyID: newID}
	var foreign []ForeignFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan data directory: %w", err)
		}
		name := d.Name()
		switch {
		case d.IsDir():
			return nil
		case strings.Contains(name, tempMarker), isJournalTemp(name):
			p.StaleTemps++
			return nil
		case isWriterTemp(name):
			return nil // a live writer's file in the making: not ours
		case d.Type()&fs.ModeSymlink != 0:
			// Skipping it would leave what it points at on the old key,
			// which --retire-old then destroys; following it would
			// rewrite a file outside the data directory.
			foreign = append(foreign, ForeignFile{Path: path, Reason: "a symbolic link: move the file it points to into the data directory, or remove the link"})
			return nil
		case path == filepath.Join(dir, JournalName), !d.Type().IsRegular():
			return nil
		}
		p.Files++
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("scan data directory: %w", err)
		}
		defer f.Close()
		h, err := crypto.ReadHeader(f)
		switch {
		case errors.Is(err, crypto.ErrNotEncrypted):
			p.Plaintext++
		case err != nil:
			foreign = append(foreign, ForeignFile{Path: path, Reason: err.Error()})
		case h.KeyID == oldID:
			p.ToMigrate++
			p.oldFiles = append(p.oldFiles, path)
			if fi, err := f.Stat(); err == nil {
				p.Bytes += fi.Size()
			}
		case h.KeyID == newID:
			p.Migrated++
		default:
			foreign = append(foreign, ForeignFile{Path: path, KeyID: h.KeyID, Reason: "sealed with key " + h.KeyID})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(foreign) > 0 {
		return nil, &ForeignFilesError{OldKeyID: oldID, NewKeyID: newID, Files: foreign, WrongOldKey: p.ToMigrate == 0 && !resuming}
	}
	return p, nil
}

// migrate re-encrypts the old-key files of plan with a bounded pool.
func migrate(ctx context.Context, opts RotateOptions, plan *Plan, ring *crypto.Keyring) (int, int64, error) {
	// Temporary files of a killed run: each is a partial or complete copy
	// whose original is still in place (the rename did not happen) or was
	// already replaced by another complete copy. Either way it is garbage.
	if plan.StaleTemps > 0 {
		err := filepath.WalkDir(opts.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.Contains(d.Name(), tempMarker) || isJournalTemp(d.Name())) {
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("remove temporary file: %w", err)
				}
			}
			return err
		})
		if err != nil {
			return 0, 0, err
		}
	}
	total := int64(len(plan.oldFiles))
	opts.Progress.Report(progress.Event{Phase: "re-encrypt", Total: total, Unit: "files"})
	var (
		count, nbytes atomic.Int64
		wg            sync.WaitGroup
		errOnce       sync.Once
		firstErr      error
		dirs          sync.Map
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan string)
	cpu := make(chan struct{}, min(opts.Workers, runtime.GOMAXPROCS(0)))
	for range min(opts.Workers, max(len(plan.oldFiles), 1)) {
		wg.Go(func() {
			var buf crypto.ReencryptBuffer
			for path := range work {
				n, err := rekey(path, ring, opts.NewKey, &buf, cpu)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					continue
				}
				dirs.Store(filepath.Dir(path), true)
				nbytes.Add(n)
				opts.Progress.Report(progress.Event{Phase: "re-encrypt", Done: count.Add(1), Total: total, Unit: "files"})
			}
		})
	}
feed:
	for _, path := range plan.oldFiles {
		select {
		case work <- path:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return int(count.Load()), nbytes.Load(), firstErr
	}
	// Make the renames durable before the journal says the migration is
	// done, and long before the old key may be destroyed.
	var syncErr error
	dirs.Range(func(k, _ any) bool {
		syncErr = syncDir(k.(string))
		return syncErr == nil
	})
	return int(count.Load()), nbytes.Load(), syncErr
}

const ioBuf = 256 << 10

// testOnlyNoSync skips the per-file fsync in the crash test's helper
// process: SIGKILL loses no page-cache data, so what the test checks —
// the rename protocol — is the same, at a fraction of the disk time.
var testOnlyNoSync = false

// isWriterTemp matches the temporary files internal/atomicfile (and the
// orchestrator's checkpoint writer) write before renaming: a running daemon
// may be writing one right now, so rotation neither reads nor removes them.
func isWriterTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// isJournalTemp matches the temporary file internal/atomicfile writes the
// journal through, which a kill can leave behind.
func isJournalTemp(name string) bool {
	return strings.HasPrefix(name, "."+JournalName+".tmp-")
}

// rekey rewrites one file under the new key: a temporary copy in the same
// directory, synced, then renamed over the original. A file that is no
// longer sealed with the old key (a concurrent run got to it) is skipped.
// It holds the [LockReplace] lock on the file from open to rename and
// renames only if the file is still the one it read, so a live writer's
// newer version is never replaced by this older one.
func rekey(path string, ring *crypto.Keyring, newKey []byte, buf *crypto.ReencryptBuffer, cpu chan struct{}) (n int64, err error) {
	src, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // removed by its writer since the scan
	}
	if err != nil {
		return 0, fmt.Errorf("re-encrypt %w", err)
	}
	defer src.Close()
	if err := flock(src); err != nil {
		return 0, fmt.Errorf("re-encrypt %s: lock: %w", path, err)
	}
	// Unlock before the deferred close: a child forked meanwhile shares
	// the open file until it execs, and would hold the lock that long.
	defer funlock(src)
	fi, err := src.Stat()
	if err != nil {
		return 0, fmt.Errorf("re-encrypt %w", err)
	}
	if cur, err := os.Stat(path); err != nil || !os.SameFile(cur, fi) {
		return 0, nil // replaced by its writer before we held the lock
	}
	head := make([]byte, crypto.HeaderSize)
	if m, _ := src.ReadAt(head, 0); m == crypto.HeaderSize {
		if h, err := crypto.ParseHeader(head); err == nil && h.KeyID == crypto.KeyID(newKey) {
			return 0, nil
		}
	}
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+tempMarker+"*")
	if err != nil {
		return 0, fmt.Errorf("re-encrypt %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(fi.Mode().Perm()); err != nil {
		return 0, fmt.Errorf("re-encrypt %s: %w", path, err)
	}
	// Batches of whole chunks: one read and one write per MiB, no copies.
	cpu <- struct{}{} // the encryption is CPU-bound: at most GOMAXPROCS at once
	n, err = reencryptFile(buf, tmp, src, fi.Size(), ring, newKey)
	<-cpu
	if err != nil {
		return n, fmt.Errorf("re-encrypt %s: %w", path, err)
	}
	if !testOnlyNoSync {
		if err = tmp.Sync(); err != nil {
			return n, fmt.Errorf("re-encrypt %s: sync: %w", path, err)
		}
	}
	if err = tmp.Close(); err != nil {
		return n, fmt.Errorf("re-encrypt %s: %w", path, err)
	}
	if cur, serr := os.Stat(path); serr != nil || !os.SameFile(cur, fi) {
		// A writer that does not take the lock replaced it meanwhile: its
		// version is newer; drop ours (verify checks the key it used).
		_ = os.Remove(tmp.Name())
		return 0, nil
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return n, fmt.Errorf("re-encrypt %s: %w", path, err)
	}
	return n, nil
}

// verifyAll reads every encrypted file to the end with the new key alone.
func verifyAll(ctx context.Context, opts RotateOptions) (int, error) {
	ring, err := crypto.NewKeyring(opts.NewKey)
	if err != nil {
		return 0, err
	}
	var paths []string
	err = filepath.WalkDir(opts.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && path != filepath.Join(opts.DataDir, JournalName) &&
			!strings.Contains(d.Name(), tempMarker) && !isWriterTemp(d.Name()) {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("verify: %w", err)
	}
	var (
		mu      sync.Mutex
		bad     []ForeignFile
		count   atomic.Int64
		wg      sync.WaitGroup
		work    = make(chan string)
		total   = int64(len(paths))
		checked atomic.Int64
	)
	opts.Progress.Report(progress.Event{Phase: "verify", Total: total, Unit: "files"})
	for range min(opts.Workers, runtime.GOMAXPROCS(0), max(len(paths), 1)) {
		wg.Go(func() {
			buf := make([]byte, ioBuf)
			for path := range work {
				encrypted, err := verifyFile(path, ring, buf)
				if err != nil {
					mu.Lock()
					bad = append(bad, ForeignFile{Path: path, Reason: err.Error()})
					mu.Unlock()
				} else if encrypted {
					count.Add(1)
				}
				opts.Progress.Report(progress.Event{Phase: "verify", Done: checked.Add(1), Total: total, Unit: "files"})
			}
		})
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		work <- p
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return int(count.Load()), err
	}
	if len(bad) > 0 {
		slices.SortFunc(bad, func(a, b ForeignFile) int { return strings.Compare(a.Path, b.Path) })
		return int(count.Load()), &VerifyError{Files: bad}
	}
	return int(count.Load()), nil
}

func verifyFile(path string, ring *crypto.Keyring, buf []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, ioBuf)
	head, _ := br.Peek(len(crypto.Magic))
	if !bytes.Equal(head, []byte(crypto.Magic)) {
		return false, nil // not in the format: left alone
	}
	r, err := crypto.NewReader(br, ring)
	if err != nil {
		return true, err
	}
	_, err = io.CopyBuffer(io.Discard, r, buf)
	return true, err
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
