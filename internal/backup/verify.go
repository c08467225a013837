package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/progress"
)

// Verification levels, from the cheapest.
const (
	// LevelChecksums: every file's size and SHA-256 match the manifest,
	// and the manifest matches SHA256SUMS.
	LevelChecksums = "checksums"
	// LevelContents: also every part decodes: decrypts and authenticates,
	// decompresses, and parses as its format (RDB checksum, tar entries all
	// safe to restore, key dump complete, pg_dump header or end marker).
	LevelContents = "contents"
	// LevelDeep: also every part restores into a scratch target — a
	// temporary PostgreSQL, a temporary redis-server, a temporary
	// directory — and the result has what the manifest says.
	LevelDeep = "deep"
)

// VerifyOptions are the inputs of [Repository.Verify].
type VerifyOptions struct {
	// Keys decrypt encrypted parts. Without the key of a part, only its
	// checksums are checked.
	Keys *crypto.Keyring
	// Deep restores every part into a scratch target.
	Deep    bool
	Scratch ScratchOptions
	// NoRecord leaves the set's verify.json alone (a read-only
	// repository).
	NoRecord bool
	Now      func() time.Time
	Progress progress.Reporter
}

// PartReport is the verification of one part.
type PartReport struct {
	Name  string
	Level string // the level reached; see Err for a failure
	Err   error  // nil when the part passed
	Note  string // for example why contents were not checked
}

// VerifyReport is the verification of one set.
type VerifyReport struct {
	Set   *Set
	Level string // the lowest level every part reached; empty if one failed
	Err   error  // a problem with the set as a whole (its manifest)
	Parts []PartReport
	// RecordErr is set when verify.json could not be written.
	RecordErr error
}

// OK reports whether the set and every part passed.
func (v *VerifyReport) OK() bool {
	if v.Err != nil {
		return false
	}
	for _, p := range v.Parts {
		if p.Err != nil {
			return false
		}
	}
	return true
}

// Problems lists every failure, one sentence each.
func (v *VerifyReport) Problems() []string {
	out := []string{}
	if v.Err != nil {
		out = append(out, v.Err.Error())
	}
	for _, p := range v.Parts {
		if p.Err != nil {
			out = append(out, fmt.Sprintf("part %s: %v", p.Name, p.Err))
		}
	}
	return out
}

// Verify checks a set: its checksums always, its contents when the keys
// to decrypt it are at hand, and with Deep a restore of every part into a
// scratch target. Problems with the set go in the report; the error is for
// failures of the verification itself (cancelled, or a scratch server that
// would not start). The result is recorded in the set's verify.json, which
// list, status and prune read.
func (r *Repository) Verify(ctx context.Context, s *Set, opts VerifyOptions) (*VerifyReport, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	p := opts.Progress
	if p == nil {
		p = progress.Discard
	}
	rep := &VerifyReport{Set: s}
	if s.Manifest == nil {
		rep.Err = s.Err
	} else if err := checkManifestSums(s.Path, s.Manifest); err != nil {
		rep.Err = err
	}
	if s.Manifest != nil {
		level := LevelDeep
		if !opts.Deep {
			level = LevelContents
		}
		for _, part := range s.Manifest.Parts {
			pr, err := r.verifyPart(ctx, s, part, opts, p)
			if err != nil {
				return nil, err
			}
			rep.Parts = append(rep.Parts, pr)
			if levelRank(pr.Level) < levelRank(level) {
				level = pr.Level
			}
		}
		rep.Level = level
	}
	if !opts.NoRecord {
		st := &VerifyStatus{Time: now().UTC(), OK: rep.OK(), Level: rep.Level, Problems: rep.Problems()}
		if err := writeVerifyStatus(s.Path, st); err != nil {
			rep.RecordErr = err
		} else {
			s.Verified = st
		}
	}
	return rep, nil
}

func levelRank(l string) int {
	switch l {
	case LevelChecksums:
		return 1
	case LevelContents:
		return 2
	case LevelDeep:
		return 3
	}
	return 0
}

// checkManifestSums checks the manifest against SHA256SUMS, which catches a
// manifest edited by hand.
func checkManifestSums(dir string, m *Manifest) error {
	b, err := os.ReadFile(filepath.Join(dir, SumsFile))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	s, err := parseSums(b)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	mb, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if s[ManifestFile] != hexSum(sha256Sum(mb)) {
		return fmt.Errorf("%w: %s does not match its checksum in %s: it was changed after the backup was written", ErrManifest, ManifestFile, SumsFile)
	}
	for _, pt := range m.Parts {
		if s[pt.File] != pt.SHA256 {
			return fmt.Errorf("%w: %s and %s disagree about %s", ErrManifest, ManifestFile, SumsFile, pt.File)
		}
	}
	return nil
}

func (r *Repository) verifyPart(ctx context.Context, s *Set, part Part, opts VerifyOptions, p progress.Reporter) (PartReport, error) {
	rep := PartReport{Name: part.Name}
	canDecode := part.KeyID == ""
	if !canDecode && opts.Keys != nil {
		_, canDecode = opts.Keys.Lookup(part.KeyID)
	}
	if !canDecode {
		rep.Note = fmt.Sprintf("encrypted with key %s, which was not given: checksums only", part.KeyID)
	}
	m := newMeter(p, "verify "+part.Name, part.Size)
	err := readPart(ctx, s.Path, part, opts.Keys, canDecode, m, func(r io.Reader) error {
		return checkContent(ctx, r, part)
	})
	if err != nil {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		rep.Err = err
		return rep, nil
	}
	m.done("ok")
	rep.Level = LevelChecksums
	if !canDecode {
		return rep, nil
	}
	rep.Level = LevelContents
	if !opts.Deep {
		return rep, nil
	}
	p.Report(progress.Event{Phase: "verify " + part.Name, Message: "restoring into a scratch " + scratchName(part.Kind)})
	note, err := deepCheck(ctx, s.Path, part, opts.Keys, opts.Scratch)
	switch {
	case ctx.Err() != nil:
		return rep, ctx.Err()
	case errors.Is(err, ErrToolMissing) || errors.Is(err, errScratch):
		return rep, err
	case err != nil:
		rep.Err = fmt.Errorf("restore into a scratch %s: %w", scratchName(part.Kind), err)
	default:
		rep.Level = LevelDeep
		rep.Note = note
	}
	return rep, nil
}

// readPart opens a part, hands its content (or, without decode, its raw
// bytes) to consume, and then checks size and checksum. A checksum failure
// is reported in preference to a decoding failure it caused.
func readPart(ctx context.Context, dir string, part Part, keys *crypto.Keyring, decode bool, m *meter, consume func(io.Reader) error) error {
	pr, err := openPart(dir, part, keys, decode, m)
	if err != nil {
		return err
	}
	defer pr.Close()
	var cerr error
	if decode {
		cerr = consume(pr)
	}
	if cerr == nil {
		cerr = ctx.Err()
	}
	if cerr != nil {
		// Find out whether the file was damaged: that is the real story.
		if _, err := io.Copy(io.Discard, pr.hr); err == nil {
			if pr.hr.n != part.Size {
				return sizeError(pr.hr.n, part.Size)
			}
			if got := hexSum(pr.hr.h.Sum(nil)); got != part.SHA256 {
				return fmt.Errorf("%w: SHA-256 of %s is %s, the manifest says %s", ErrChecksum, part.File, got, part.SHA256)
			}
		}
		return cerr
	}
	return pr.Finish()
}

// checkContent parses a part's content as its format.
func checkContent(ctx context.Context, r io.Reader, p Part) error {
	var err error
	switch p.Kind {
	case KindPostgres:
		err = checkPgDump(r, p.Format)
	case KindRedisRDB:
		_, err = checkRDB(r)
	case KindRedisKeys:
		var n int64
		n, err = checkKeyDump(ctx, r)
		if err == nil && n != p.Entries {
			err = fmt.Errorf("%w: %d keys in the dump, the manifest says %d", ErrCorrupt, n, p.Entries)
		}
	case KindDir:
		var n int64
		n, err = scanTar(ctx, r)
		if err == nil && n != p.Entries {
			err = fmt.Errorf("%w: %d entries in the archive, the manifest says %d", ErrCorrupt, n, p.Entries)
		}
	case KindConfig:
		err = checkConfig(r)
	default:
		err = fmt.Errorf("%w: unknown kind %q", ErrManifest, p.Kind)
	}
	return err
}

func scratchName(kind string) string {
	switch kind {
	case KindPostgres:
		return "PostgreSQL"
	case KindRedisRDB, KindRedisKeys:
		return "redis-server"
	default:
		return "directory"
	}
}
