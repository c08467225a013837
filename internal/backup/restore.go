package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/progress"
)

// RestoreOptions are the inputs of [Repository.Restore].
type RestoreOptions struct {
	// Targets maps part names to where each is restored. Parts not named
	// are left alone.
	Targets map[string]Target
	// Keys decrypt encrypted parts.
	Keys     *crypto.Keyring
	Progress progress.Reporter
}

// RestoredPart is one part [Repository.Restore] restored.
type RestoredPart struct {
	Name   string
	Target string
	Restored
}

// Restore restores the parts of s named in opts.Targets, in manifest order.
//
// Nothing is restored unless everything can be: first every target is
// prepared (reachable, and empty unless told to overwrite), then every
// selected part is read in full and checked — size, SHA-256, decryption,
// and its format, which for a directory archive means every entry is one
// that stays inside the target — and only then are the parts restored,
// each read and checked again as it goes.
func (r *Repository) Restore(ctx context.Context, s *Set, opts RestoreOptions) ([]RestoredPart, error) {
	p := opts.Progress
	if p == nil {
		p = progress.Discard
	}
	if s.Manifest == nil {
		return nil, fmt.Errorf("restore backup %s: %w", s.ID, s.Err)
	}
	if len(opts.Targets) == 0 {
		return nil, fmt.Errorf("restore backup %s: nothing selected to restore", s.ID)
	}
	if err := checkManifestSums(s.Path, s.Manifest); err != nil {
		return nil, fmt.Errorf("restore backup %s: %w", s.ID, err)
	}
	var parts []Part
	for name, t := range opts.Targets {
		part, ok := s.Manifest.Part(name)
		if !ok {
			return nil, fmt.Errorf("restore backup %s: it has no part %q (it has %s)", s.ID, name, partNames(s.Manifest))
		}
		if part.Kind != t.Kind() {
			return nil, fmt.Errorf("restore backup %s: part %s is %s, not %s", s.ID, name, part.Kind, t.Kind())
		}
		parts = append(parts, part)
	}
	slices.SortFunc(parts, func(a, b Part) int {
		return slices.IndexFunc(s.Manifest.Parts, func(x Part) bool { return x.Name == a.Name }) -
			slices.IndexFunc(s.Manifest.Parts, func(x Part) bool { return x.Name == b.Name })
	})

	for _, part := range parts {
		t := opts.Targets[part.Name]
		p.Report(progress.Event{Phase: "prepare " + part.Name, Message: t.String()})
		if err := t.Prepare(ctx); err != nil {
			return nil, fmt.Errorf("restore part %s into %s: %w", part.Name, t, err)
		}
	}
	for _, part := range parts {
		m := newMeter(p, "check "+part.Name, part.Size)
		err := readPart(ctx, s.Path, part, opts.Keys, true, m, func(r io.Reader) error {
			return checkContent(ctx, r, part)
		})
		if err != nil {
			return nil, &PartError{Set: s.ID, Part: part.Name, File: part.File, Err: fmt.Errorf("refusing to restore: %w", err)}
		}
		m.done("ok")
	}

	var out []RestoredPart
	for _, part := range parts {
		t := opts.Targets[part.Name]
		m := newMeter(p, "restore "+part.Name, part.Size)
		var res Restored
		err := readPart(ctx, s.Path, part, opts.Keys, true, m, func(r io.Reader) error {
			var err error
			res, err = t.Restore(ctx, r, part)
			return err
		})
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return out, err
			}
			return out, &PartError{Set: s.ID, Part: part.Name, File: part.File, Err: fmt.Errorf("restore into %s: %w", t, err)}
		}
		m.done(t.String())
		out = append(out, RestoredPart{Name: part.Name, Target: t.String(), Restored: res})
	}
	return out, nil
}

func partNames(m *Manifest) string {
	var names []string
	for _, p := range m.Parts {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return fmt.Sprint(names)
}
