package backup

import (
	"context"
	"io"
)

// PartSpec describes the part a [Source] writes.
type PartSpec struct {
	Name   string // unique in a set: "postgres", "redis-rdb", "dir-data"
	Kind   string // Kind*
	Format string // Format*
	Source string // where the data comes from, without secrets
	Ext    string // file name extension before compression: ".dump", ".tar"
	// Compress is false for formats that compress themselves (pg_dump's
	// custom format): compressing them again costs time and saves nothing.
	Compress bool
}

// DumpResult is what a [Source] learned while dumping, for the manifest.
type DumpResult struct {
	Entries       int64    // see [Part.Entries]
	ServerVersion string   // the server's version, if any
	Skipped       []string // what was left out, and why
}

// Source produces one part of a backup set: PostgreSQL through pg_dump
// ([PostgresSource]), Redis over the replication protocol
// ([RedisRDBSource]) or key by key ([RedisKeysSource]), a directory
// ([DirSource]), the configuration ([ConfigSource]). Every source runs the
// same conformance tests (driver_test.go).
//
// Dump writes the part's content to w, uncompressed and unencrypted: the
// repository compresses, encrypts and checksums it. Dump must return an
// error, and never a partial result, when anything it depends on fails,
// including a child process that exits non-zero or dies from a signal. It
// stops promptly when ctx is cancelled. Sources are used by one goroutine
// at a time.
type Source interface {
	Spec() PartSpec
	Dump(ctx context.Context, w io.Writer) (DumpResult, error)
}

// Target restores parts of one kind: into PostgreSQL ([PostgresTarget]),
// into a running Redis ([RedisKeysTarget]), as an RDB file
// ([RDBFileTarget]), into a directory ([DirTarget]), or as a config file
// ([FileTarget]).
//
// Prepare checks, without changing anything, that the target can take the
// restore: that it is reachable and empty, unless it was told to overwrite.
// [Repository.Restore] prepares every target before restoring any, so a
// restore that cannot complete changes nothing. Restore then reads the
// part's content, already checked against its checksums, from r.
type Target interface {
	Kind() string
	String() string
	Prepare(ctx context.Context) error
	Restore(ctx context.Context, r io.Reader, p Part) (Restored, error)
}

// Restored is what a [Target] restored.
type Restored struct {
	Entries int64  // files, keys, tables restored
	Skipped int64  // entries left out on purpose: keys that had expired
	Note    string // what was restored, in words
}
