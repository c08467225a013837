// Package backup writes, checks, restores and prunes backups of T.A.R.S.:
// PostgreSQL (pg_dump), Redis (an RDB snapshot over the replication
// protocol, and a portable key dump), directories (tar), and the
// configuration. It never prints and never imports the CLI; progress goes
// to a progress.Reporter, and errors wrap the sentinels in errors.go.
//
// # Repository and sets
//
// A [Repository] is a directory holding backup sets. A set is a directory
// sets/ID, where ID is the UTC start time and 4 random bytes
// (20260128-020000-3f9a1c2b), holding one file per part, a manifest.json
// ([Manifest]) naming each part's source, size, SHA-256, compression and
// encryption key id, a SHA256SUMS file over the parts and the manifest
// (`sha256sum -c SHA256SUMS` checks a set without tarsctl), and verify.json,
// the latest verification. A set is written under tmp/ID and renamed into
// sets/ only when it is complete and checked, so an interrupted backup
// never shows up as a set.
//
// # Sources and targets
//
// Each kind of data has a [Source], which dumps it, and a [Target], which
// restores it. The repository pipes a source's output through zstd
// (unless the format compresses itself), AES-256-GCM (internal/crypto,
// when a key is given) and SHA-256 into the part file, and reads it back
// the same way. Every child process's exit status is checked: a pg_dump
// that fails or is killed fails the backup, it is never stored as a good
// dump.
//
// # Verification
//
// There are three levels ([LevelChecksums], [LevelContents], [LevelDeep]).
// [Repository.Create] checks checksums of what it wrote; [Repository.Verify]
// decodes every part it has the key for, and with Deep restores each into
// a scratch server or directory. [Repository.Restore] checks the contents
// of the parts it restores before it restores anything, so a damaged or
// unsafe part is refused with nothing changed.
//
// # Locking
//
// Create and prune hold the repository lock ([Repository.Lock]): an
// flock(2) the kernel releases when the holder exits, with a record of the
// holder in the lock file. A record found in a free lock is a stale lock
// left by a killed process; it is taken over and reported.
package backup
