package dashboardapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/store"
)

// AdminPasswordFile is the file in the secrets directory that holds the
// initial admin password.
const AdminPasswordFile = "admin_password"

// EnsureAdmin creates the user "admin" with a random password when the
// user store is empty, writing the password 0600 into the secrets
// directory. It returns the file's path when it created the account.
func EnsureAdmin(ctx context.Context, users Users, secretsDir string) (string, error) {
	n, err := users.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	password := randomString(18)
	hash, err := store.HashPassword(password)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(secretsDir, 0o700); err != nil {
		return "", fmt.Errorf("create secrets directory: %w", err)
	}
	path := filepath.Join(secretsDir, AdminPasswordFile)
	// The file first: an account whose password was never written down is
	// an account nobody can use.
	if err := atomicfile.WriteFile(path, []byte(password+"\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		return "", fmt.Errorf("write initial admin password: %w", err)
	}
	err = users.CreateUser(ctx, store.User{Username: "admin", PasswordHash: hash, Role: store.RoleAdmin})
	if err != nil {
		// Our password is not the admin's: do not leave it lying about. (If
		// another process created admin at the same moment, ErrExists.)
		_ = os.Remove(path)
		if errors.Is(err, store.ErrExists) {
			return "", nil
		}
		return "", fmt.Errorf("create initial admin user: %w", err)
	}
	return path, nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
