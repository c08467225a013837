package hypersync

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// JournalFormat and JournalVersion are written in every journal record.
const (
	JournalFormat  = "tars-hypersync-journal"
	JournalVersion = 1
	maxRecord      = 1 << 20
)

// record is one line of the journal: the whole state of one sync. The
// last record of a sync id wins.
type record struct {
	Format  string      `json:"format"`
	Version int         `json:"v"`
	Sync    client.Sync `json:"sync"`
}

// journal is an append-only file of JSON lines, one per change of a sync,
// each synced to disk before the change is acknowledged. It is not safe
// for concurrent use; the Syncer serialises calls.
type journal struct {
	path  string
	f     *os.File
	lines int // records in the file
}

// openJournal replays the journal at path (missing: empty) and returns the
// syncs in the order they were first recorded, and a description of each
// line it had to skip. It then rewrites the file with one record per sync,
// so that a torn last line (a crash mid-append) is gone.
func openJournal(path string) (*journal, []client.Sync, []string, error) {
	var syncs []client.Sync
	var skipped []string
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("read journal: %w", err)
	}
	index := map[string]int{}
	for n := 1; len(data) > 0; n++ {
		line, rest, complete := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec record
		err := json.Unmarshal(line, &rec)
		switch {
		case err != nil && !complete:
			skipped = append(skipped, fmt.Sprintf("line %d: incomplete last record (a write was interrupted): dropped", n))
			continue
		case err != nil:
			skipped = append(skipped, fmt.Sprintf("line %d: %v", n, err))
			continue
		case rec.Format != JournalFormat || rec.Version != JournalVersion || rec.Sync.ID == "":
			skipped = append(skipped, fmt.Sprintf("line %d: not a version %d journal record", n, JournalVersion))
			continue
		}
		if i, ok := index[rec.Sync.ID]; ok {
			syncs[i] = rec.Sync
		} else {
			index[rec.Sync.ID] = len(syncs)
			syncs = append(syncs, rec.Sync)
		}
	}
	j := &journal{path: path}
	if err := j.compact(syncs); err != nil {
		return nil, nil, nil, err
	}
	return j, syncs, skipped, nil
}

func encodeRecord(s client.Sync) ([]byte, error) {
	b, err := json.Marshal(record{Format: JournalFormat, Version: JournalVersion, Sync: s})
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecord {
		return nil, fmt.Errorf("journal record of sync %s is %d bytes, over %d", s.ID, len(b), maxRecord)
	}
	return append(b, '\n'), nil
}

// put appends the state of s and syncs it to disk.
func (j *journal) put(s client.Sync) error {
	b, err := encodeRecord(s)
	if err != nil {
		return err
	}
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("append to journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", j.path, err)
	}
	j.lines++
	return nil
}

// compact replaces the file atomically with one record per sync and
// reopens it for appending.
func (j *journal) compact(syncs []client.Sync) error {
	err := atomicfile.Write(j.path, atomicfile.Options{Perm: 0o600}, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, s := range syncs {
			b, err := encodeRecord(s)
			if err != nil {
				return err
			}
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("compact journal: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	j.f, j.lines = f, len(syncs)
	return nil
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
