// Package store keeps the dashboard's durable data — user accounts and
// agents — in SQL: an embedded SQLite file by default (modernc.org/sqlite,
// no cgo) or PostgreSQL (github.com/jackc/pgx/v5). Versioned migrations run
// when the store opens; the SQL is the same for both where it can be.
//
// # Drivers
//
// [Open] with [Options].Driver "sqlite" opens (creating, mode 0600) the file
// at Options.Path in WAL mode, with foreign keys on and a busy timeout.
// Writes go through a single connection, reads through a small pool of
// read-only ones: SQLite allows one writer at a time, and a process that
// queues its own writers never meets SQLITE_BUSY from itself; another
// process (the CLI's `users add` beside a running daemon) waits for the
// write lock up to the busy timeout.
//
// With Driver "postgres" it connects to Options.URL through pgx's
// database/sql driver. Queries are written once with ? placeholders and
// rebound to $1, $2, ... for PostgreSQL.
//
// # Migrations
//
// The schema is a sequence of embedded migrations, migrations/NNNN_name.sql,
// recorded in the schema_migrations table. A file named
// NNNN_name.postgres.sql or NNNN_name.sqlite.sql replaces the shared one for
// that driver, for the rare statement that cannot be written for both.
// Each migration runs in its own transaction together with its
// schema_migrations row, so a failed one leaves no trace and the next Open
// retries it. Several processes may open one database at once: on
// PostgreSQL each migration transaction first takes a transaction-scoped
// advisory lock, on SQLite BEGIN IMMEDIATE takes the write lock, and the
// migration is skipped if another process applied it meanwhile. A database
// whose schema is newer than the binary's is refused.
//
// # Time
//
// Timestamps are stored in UTC with microsecond precision (PostgreSQL's)
// in TIMESTAMP columns, and read back in UTC.
//
// # Passwords
//
// [HashPassword] and [CheckPassword] hash passwords with argon2id into PHC
// strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash), the format other
// argon2 implementations read and write. Neither a password nor its hash
// appears in an error.
package store
