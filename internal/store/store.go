// Package store keeps the dashboard's durable data — user accounts and
// agents — in SQL: an embedded SQLite file by default (modernc.org/sqlite,
// no cgo) or PostgreSQL (github.com/jackc/pgx/v5). Versioned migrations run
// when the store opens; the SQL is the same for both where it can be.
package store

import (
	"errors"
	"time"
)

// Roles, from most to least privileged.
const (
	RoleAdmin    = "admin"    // manages users, and everything operators may
	RoleOperator = "operator" // acts: starts training, changes settings
	RoleViewer   = "viewer"   // reads
)

// Roles lists the valid roles.
var Roles = []string{RoleAdmin, RoleOperator, RoleViewer}

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)

// User is one account. PasswordHash is a PHC-format hash (argon2id); the
// password itself is never stored.
type User struct {
	Username     string
	PasswordHash string
	Role         string
	TOTPSecret   string // base32; empty when the user has no second factor
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Agent is one RL agent as the dashboard lists it.
type Agent struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	Episodes  int       `json:"episodes"`
	Reward    float64   `json:"reward"`
	UpdatedAt time.Time `json:"updated_at"`
}
