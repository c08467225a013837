package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxUsernameLen is the longest username, in bytes.
const MaxUsernameLen = 64

// checkUsername reports why name is not a valid username, wrapping
// [ErrInvalidUsername], or nil.
func checkUsername(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidUsername)
	case len(name) > MaxUsernameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidUsername, MaxUsernameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidUsername)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		return fmt.Errorf("%w: holds spaces or control characters", ErrInvalidUsername)
	}
	return nil
}

// checkRole reports that role is not one of [Roles], wrapping
// [ErrInvalidRole], or returns nil.
func checkRole(role string) error {
	if ValidRole(role) {
		return nil
	}
	return fmt.Errorf("%w %q (want %s)", ErrInvalidRole, role, strings.Join(Roles, ", "))
}

const userColumns = `username, password_hash, role, totp_secret, created_at, updated_at`

// CreateUser adds u. CreatedAt and UpdatedAt default to now. A user of the
// same name is [ErrExists]; a bad username or role is [ErrInvalidUsername]
// or [ErrInvalidRole]; an empty PasswordHash is an error.
func (db *DB) CreateUser(ctx context.Context, u User) error {
	wrap := func(err error) error { return fmt.Errorf("create user %q: %w", u.Username, err) }
	if err := checkUsername(u.Username); err != nil {
		return wrap(err)
	}
	if err := checkRole(u.Role); err != nil {
		return wrap(err)
	}
	if u.PasswordHash == "" {
		return wrap(errors.New("no password hash"))
	}
	now := timestamp(db.now())
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	// ON CONFLICT DO NOTHING rather than a unique-violation error: the
	// same on both drivers, and with concurrent inserts of one name exactly
	// one inserts and the others see no row inserted.
	res, err := db.w.ExecContext(ctx, db.q(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (username) DO NOTHING`),
		u.Username, u.PasswordHash, u.Role, u.TOTPSecret, timestamp(u.CreatedAt), timestamp(u.UpdatedAt))
	if err != nil {
		return wrap(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(err)
	} else if n == 0 {
		return wrap(ErrExists)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (User, error) {
	var u User
	err := s.Scan(&u.Username, &u.PasswordHash, &u.Role, &u.TOTPSecret, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, err
}

// GetUser returns the user called username, or [ErrNotFound].
func (db *DB) GetUser(ctx context.Context, username string) (User, error) {
	st, err := db.readStmt(ctx, db.q(`SELECT `+userColumns+` FROM users WHERE username = ?`))
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", username, err)
	}
	u, err := scanUser(st.QueryRowContext(ctx, username))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", username, err)
	}
	return u, nil
}

// ListUsers returns every user, ordered by username (byte order, whatever
// the database's collation).
func (db *DB) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	slices.SortFunc(users, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
	return users, nil
}

// CountUsers returns the number of users.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// UpdatePassword replaces the password hash of username, or returns
// [ErrNotFound].
func (db *DB) UpdatePassword(ctx context.Context, username, hash string) error {
	if hash == "" {
		return fmt.Errorf("update password of user %q: no password hash", username)
	}
	return db.updateUser(ctx, "update password of", username, "password_hash", hash)
}

// SetRole changes the role of username: [ErrInvalidRole] for a role not in
// [Roles], [ErrNotFound] for no such user.
func (db *DB) SetRole(ctx context.Context, username, role string) error {
	if err := checkRole(role); err != nil {
		return fmt.Errorf("set role of user %q: %w", username, err)
	}
	if role == RoleAdmin {
		return db.updateUser(ctx, "set role of", username, "role", role)
	}
	return db.withAdminsLocked(ctx, "set role of", username, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, db.q(`UPDATE users SET role = ?, updated_at = ? WHERE username = ?`),
			role, timestamp(db.now()), username)
	})
}

// SetTOTPSecret sets the base32 TOTP secret of username; an empty secret
// removes the second factor. No such user is [ErrNotFound].
func (db *DB) SetTOTPSecret(ctx context.Context, username, secret string) error {
	return db.updateUser(ctx, "set TOTP secret of", username, "totp_secret", secret)
}

// updateUser sets column to value for username, and updated_at to now.
// column is one of ours, never input.
func (db *DB) updateUser(ctx context.Context, op, username, column, value string) error {
	res, err := db.w.ExecContext(ctx, db.q(`UPDATE users SET `+column+` = ?, updated_at = ? WHERE username = ?`),
		value, timestamp(db.now()), username)
	return db.checkOne(res, err, op, username)
}

// DeleteUser removes username, or returns [ErrNotFound], or [ErrLastAdmin]
// for the only admin.
func (db *DB) DeleteUser(ctx context.Context, username string) error {
	return db.withAdminsLocked(ctx, "delete", username, func(tx *sql.Tx) (sql.Result, error) {
		return tx.ExecContext(ctx, db.q(`DELETE FROM users WHERE username = ?`), username)
	})
}

// withAdminsLocked runs change, which takes username's admin role away (by
// deleting or demoting it), in a transaction that first reads the admins,
// and refuses with [ErrLastAdmin] when username is the only one. On
// PostgreSQL the admin rows are locked, so two sessions demoting the last
// two admins cannot both succeed; SQLite has one writer, and a concurrent
// write between the read and the change fails the transaction instead.
func (db *DB) withAdminsLocked(ctx context.Context, op, username string, change func(*sql.Tx) (sql.Result, error)) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s user %q: %w", op, username, err)
	}
	defer func() { _ = tx.Rollback() }()
	query := `SELECT username FROM users WHERE role = ?`
	if db.kind == DriverPostgres {
		query += ` FOR UPDATE`
	}
	rows, err := tx.QueryContext(ctx, db.q(query), RoleAdmin)
	if err != nil {
		return fmt.Errorf("%s user %q: %w", op, username, err)
	}
	var admins []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("%s user %q: %w", op, username, err)
		}
		admins = append(admins, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("%s user %q: %w", op, username, err)
	}
	if len(admins) == 1 && admins[0] == username {
		return fmt.Errorf("%s user %q: %w", op, username, ErrLastAdmin)
	}
	res, err := change(tx)
	if err := db.checkOne(res, err, op, username); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s user %q: %w", op, username, err)
	}
	return nil
}

// checkOne turns the result of a statement on one user into an error:
// err itself, or [ErrNotFound] when it touched no row.
func (db *DB) checkOne(res sql.Result, err error, op, username string) error {
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("%s user %q: %w", op, username, err)
	}
	return nil
}
