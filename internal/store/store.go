package store

import (
	"errors"
	"slices"
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

// ValidRole reports whether role is one of [Roles].
func ValidRole(role string) bool {
	return slices.Contains(Roles, role)
}

// Errors callers branch on, with [errors.Is]: the methods wrap them with
// the operation and the username.
var (
	// ErrNotFound means there is no such user.
	ErrNotFound = errors.New("not found")
	// ErrExists means a user of that name exists already.
	ErrExists = errors.New("already exists")
	// ErrInvalidUsername means a username is empty, too long, or holds
	// spaces or control characters.
	ErrInvalidUsername = errors.New("invalid username")
	// ErrInvalidRole means a role is not one of [Roles].
	ErrInvalidRole = errors.New("invalid role")
	// ErrLastAdmin means a change would leave no admin account, and so
	// nobody who can manage users through the API.
	ErrLastAdmin = errors.New("it is the last admin")
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
