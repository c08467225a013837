package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/progress"
)

// CreateOptions are the inputs of [Repository.Create].
type CreateOptions struct {
	Sources []Source
	Tags    []string
	Profile string
	// Key encrypts every part (AES-256-GCM, see internal/crypto); nil
	// leaves them unencrypted.
	Key []byte
	// Compression is the zstd level of the parts tarsctl compresses:
	// CompressFast, CompressDefault (the default) or CompressMax.
	Compression string
	// Version is recorded as tarsctl_version; empty means this binary's.
	Version  string
	Now      func() time.Time  // nil means time.Now
	Progress progress.Reporter // nil means progress.Discard
}

// CreateResult is what [Repository.Create] did.
type CreateResult struct {
	Set *Set
	// RemovedIncomplete lists sets left behind by interrupted backups that
	// were removed first.
	RemovedIncomplete []string
	// StaleLock is the holder of a lock that was left behind by a process
	// that died, and was taken over; see [Lock.Stale].
	StaleLock *LockInfo
}

var tagPattern = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// ValidTag reports whether t can be a backup tag: letters, digits, and
// . _ : - after the first character, at most 64 characters.
func ValidTag(t string) bool { return tagPattern().MatchString(t) }

// Create writes a new backup set with one part per source, then checks
// every part file it wrote against the checksum computed while writing.
//
// The set is written under REPO/tmp/ID and renamed to REPO/sets/ID only
// when every part, the manifest, SHA256SUMS and the check are done and
// synced to disk, so a backup that fails or is killed at any point leaves
// no set that [Repository.List] returns; the next Create removes what it
// left. Create holds the repository lock throughout.
func (r *Repository) Create(ctx context.Context, opts CreateOptions) (*CreateResult, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	p := opts.Progress
	if p == nil {
		p = progress.Discard
	}
	if len(opts.Sources) == 0 {
		return nil, errors.New("create backup: nothing to back up")
	}
	names := map[string]bool{}
	for _, s := range opts.Sources {
		spec := s.Spec()
		if !namePattern().MatchString(spec.Name) {
			return nil, fmt.Errorf("create backup: %q is not a part name (lower-case letters, digits, - and _)", spec.Name)
		}
		if names[spec.Name] {
			return nil, fmt.Errorf("create backup: two parts are named %q", spec.Name)
		}
		names[spec.Name] = true
	}
	for _, t := range opts.Tags {
		if !ValidTag(t) {
			return nil, fmt.Errorf("create backup: tag %q: use letters, digits, '.', '_', ':' and '-', at most 64 characters", t)
		}
	}
	level, err := zstdLevel(opts.Compression)
	if err != nil {
		return nil, fmt.Errorf("create backup: %w", err)
	}
	if opts.Key != nil && len(opts.Key) != crypto.KeySize {
		return nil, fmt.Errorf("create backup: %w", crypto.ErrInvalidKey)
	}
	version := opts.Version
	if version == "" {
		version = build.Info().Version
	}

	start := now()
	lock, err := r.Lock("create", start)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	res := &CreateResult{StaleLock: lock.Stale}
	if res.RemovedIncomplete, err = r.removeIncomplete(); err != nil {
		return nil, err
	}

	id, err := newID(start)
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(r.dir, tmpDir, id)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create backup %s: %w", id, err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()

	host, _ := os.Hostname()
	m := &Manifest{
		Format:         ManifestFormat,
		FormatVersion:  ManifestVersion,
		ID:             id,
		Time:           start.UTC(),
		TarsctlVersion: version,
		Profile:        opts.Profile,
		Host:           host,
		Tags:           slices.Clone(opts.Tags),
	}
	if m.Tags == nil {
		m.Tags = []string{}
	}
	keyID := ""
	if opts.Key != nil {
		keyID = crypto.KeyID(opts.Key)
		m.Encryption = &Encryption{Algorithm: EncryptionAlgorithm, KeyID: keyID}
	}

	for _, src := range opts.Sources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part, err := writePart(ctx, tmp, src, opts.Key, keyID, level, p)
		if err != nil {
			return nil, &PartError{Set: id, Part: src.Spec().Name, File: part.File, Err: err}
		}
		m.Parts = append(m.Parts, part)
	}
	m.Finished = now().UTC()
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("create backup %s: %w", id, err) // a bug, not bad input
	}
	mb, err := marshalManifest(m)
	if err != nil {
		return nil, err
	}
	// Files in tmp/ID need no rename of their own: the set appears only
	// when the directory is renamed, after each file and the directory
	// are synced.
	if err := writeSynced(filepath.Join(tmp, ManifestFile), mb); err != nil {
		return nil, err
	}
	sum := sums{ManifestFile: hexSum(sha256Sum(mb))}
	for _, pt := range m.Parts {
		sum[pt.File] = pt.SHA256
	}
	if err := writeSynced(filepath.Join(tmp, SumsFile), sum.marshal()); err != nil {
		return nil, err
	}

	// Check what reached the disk against what was written.
	p.Report(progress.Event{Phase: "check", Message: "re-reading every part"})
	if err := checkSums(tmp, m); err != nil {
		return nil, fmt.Errorf("create backup %s: the check after writing failed: %w", id, err)
	}
	status := &VerifyStatus{Time: now().UTC(), OK: true, Level: LevelChecksums, Problems: []string{}}
	sb, err := json.MarshalIndent(status, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeSynced(filepath.Join(tmp, verifyFile), append(sb, '\n')); err != nil {
		return nil, err
	}
	if err := syncDir(tmp); err != nil {
		return nil, err
	}
	final := r.setPath(id)
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("create backup %s: %w", id, err)
	}
	done = true
	if err := syncDir(filepath.Join(r.dir, setsDir)); err != nil {
		return nil, err
	}
	res.Set = &Set{ID: id, Path: final, Manifest: m, Verified: status}
	return res, nil
}

// writePart dumps one source into a new file in dir.
func writePart(ctx context.Context, dir string, src Source, key []byte, keyID string, level zstd.EncoderLevel, p progress.Reporter) (Part, error) {
	spec := src.Spec()
	part := Part{
		Name:        spec.Name,
		Kind:        spec.Kind,
		Source:      spec.Source,
		Format:      spec.Format,
		File:        spec.Name + spec.Ext,
		Compression: CompressionNone,
		KeyID:       keyID,
	}
	if spec.Compress {
		part.Compression = CompressionZstd
		part.File += ".zst"
	}
	if key != nil {
		part.File += ".enc"
	}
	f, err := os.OpenFile(filepath.Join(dir, part.File), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return part, err
	}
	defer f.Close()
	enc, err := newEncoder(f, key, spec.Compress, level)
	if err != nil {
		return part, err
	}
	m := newMeter(p, "backup "+spec.Name, 0)
	m.p.Report(progress.Event{Phase: m.phase, Message: spec.Source})
	res, err := src.Dump(ctx, meterWriter{w: enc, m: m})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		enc.abort()
		return part, err
	}
	size, sum, err := enc.Close()
	if err != nil {
		return part, fmt.Errorf("write %s: %w", part.File, err)
	}
	if err := f.Close(); err != nil {
		return part, fmt.Errorf("write %s: %w", part.File, err)
	}
	part.Size, part.SHA256, part.RawSize = size, sum, enc.raw
	part.Entries, part.ServerVersion, part.Skipped = res.Entries, res.ServerVersion, res.Skipped
	m.done(fmt.Sprintf("%d bytes written", size))
	return part, nil
}

// checkSums re-reads a set's files and compares them with the manifest and
// SHA256SUMS: the quick check, without decoding anything.
func checkSums(dir string, m *Manifest) error {
	if err := checkManifestSums(dir, m); err != nil {
		return err
	}
	for _, pt := range m.Parts {
		size, sum, err := hashFile(filepath.Join(dir, pt.File))
		if errors.Is(err, os.ErrNotExist) {
			return &PartError{Set: m.ID, Part: pt.Name, File: pt.File, Err: fmt.Errorf("%w: %s is not in the set", ErrMissingPart, pt.File)}
		}
		if err != nil {
			return &PartError{Set: m.ID, Part: pt.Name, File: pt.File, Err: err}
		}
		if size != pt.Size {
			return &PartError{Set: m.ID, Part: pt.Name, File: pt.File, Err: sizeError(size, pt.Size)}
		}
		if sum != pt.SHA256 {
			return &PartError{Set: m.ID, Part: pt.Name, File: pt.File, Err: fmt.Errorf("%w: SHA-256 is %s, the manifest says %s", ErrChecksum, sum, pt.SHA256)}
		}
	}
	return nil
}

// writeSynced creates a new file with data and syncs it.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
