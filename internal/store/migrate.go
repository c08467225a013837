package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var embeddedMigrations embed.FS

// migrationsFS holds the migrations, at its root.
var migrationsFS = func() fs.FS {
	sub, err := fs.Sub(embeddedMigrations, "migrations")
	if err != nil {
		panic(err) // the directory is embedded; it cannot be missing
	}
	return sub
}()

// migrationLockKey is the PostgreSQL advisory lock that serialises
// migrations of one database ("tarsmigr" in ASCII).
const migrationLockKey int64 = 0x746172736d696772

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
)`

// migration is one step of the schema.
type migration struct {
	version int
	name    string // the file name
	sql     string
}

// loadMigrations reads the migrations for driver from fsys in version
// order: each NNNN_name.sql, or NNNN_name.DRIVER.sql in its place. Files
// for other drivers are ignored.
func loadMigrations(fsys fs.FS, driver string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	type pick struct {
		m        migration
		specific bool // NNNN_name.DRIVER.sql
		base     string
	}
	byVersion := map[int]pick{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		stem := strings.TrimSuffix(name, ".sql")
		specific := false
		if base, drv, ok := strings.Cut(stem, "."); ok {
			if drv != DriverSQLite && drv != DriverPostgres {
				return nil, fmt.Errorf("migration %s: unknown driver %q in the name", name, drv)
			}
			if drv != driver {
				continue
			}
			stem, specific = base, true
		}
		num, label, ok := strings.Cut(stem, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version < 1 || label == "" || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: want a name like 0001_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		p := pick{m: migration{version: version, name: name, sql: string(b)}, specific: specific, base: stem}
		if prev, dup := byVersion[version]; dup {
			switch {
			case prev.base != stem:
				return nil, fmt.Errorf("migrations %s and %s have the same version", prev.m.name, name)
			case prev.specific == specific:
				return nil, fmt.Errorf("migration %s is there twice", name)
			case prev.specific:
				continue
			}
		}
		byVersion[version] = p
	}
	migs := make([]migration, 0, len(byVersion))
	for _, p := range byVersion {
		migs = append(migs, p.m)
	}
	slices.SortFunc(migs, func(a, b migration) int { return a.version - b.version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d follows %d, want %d", m.name, m.version, i, i+1)
		}
	}
	return migs, nil
}

// migrate applies the embedded migrations the database lacks.
func (db *DB) migrate(ctx context.Context) error {
	return db.migrateFrom(ctx, migrationsFS)
}

// migrateFrom applies the migrations in fsys that the database lacks, each
// in a transaction of its own that also records it.
func (db *DB) migrateFrom(ctx context.Context, fsys fs.FS) error {
	migs, err := loadMigrations(fsys, db.kind)
	if err != nil {
		return fmt.Errorf("migrate %s database: %w", db.kind, err)
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, createMigrationsTable)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate %s database: create schema_migrations: %w", db.kind, err)
	}
	applied, err := db.appliedMigrations(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s database: %w", db.kind, err)
	}
	if newest := slices.Max(append(applied, 0)); newest > len(migs) {
		return fmt.Errorf("migrate %s database: its schema is at version %d, newer than this tarsctl knows (%d): use a newer tarsctl",
			db.kind, newest, len(migs))
	}
	for _, m := range migs {
		if slices.Contains(applied, m.version) {
			continue
		}
		if err := db.inTx(ctx, func(tx *sql.Tx) error { return db.apply(ctx, tx, m) }); err != nil {
			return fmt.Errorf("migrate %s database: %s: %w", db.kind, m.name, err)
		}
	}
	return nil
}

// apply runs m in tx unless another process applied it first.
func (db *DB) apply(ctx context.Context, tx *sql.Tx, m migration) error {
	if err := db.lockMigrations(ctx, tx); err != nil {
		return err
	}
	var n int
	err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	// No arguments: pgx sends it with the simple protocol, which allows
	// several statements, and so does SQLite.
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.version, m.name, timestamp(db.now()))
	return err
}

// lockMigrations makes tx the only migrating transaction of the database
// until it ends. On SQLite the BEGIN IMMEDIATE of every transaction has
// done that already.
func (db *DB) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if db.kind != DriverPostgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey)
	return err
}

// appliedMigrations returns the versions recorded in schema_migrations.
func (db *DB) appliedMigrations(ctx context.Context) ([]int, error) {
	rows, err := db.w.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		versions = append(versions, v)
	}
	return versions, rows.Err()
}

// inTx runs fn in a transaction on the writer and commits it if fn
// succeeds.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// ignoreDone drops the error of a rollback after the transaction already
// ended (a cancelled context rolls it back by itself).
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
