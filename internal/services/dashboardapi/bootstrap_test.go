package dashboardapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/store"
)

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	db := openDB(t, store.Options{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "tars.db")})
	dir := filepath.Join(t.TempDir(), "secrets")
	path, err := EnsureAdmin(context.Background(), db, dir)
	if err != nil || path == "" {
		t.Fatalf("EnsureAdmin = %q, %v", path, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("password file mode %v", fi.Mode().Perm())
	}
	pw, _ := os.ReadFile(path)
	u, err := db.GetUser(context.Background(), "admin")
	if err != nil || u.Role != store.RoleAdmin {
		t.Fatalf("admin = %+v, %v", u, err)
	}
	if ok, _ := store.CheckPassword(u.PasswordHash, strings.TrimSpace(string(pw))); !ok {
		t.Error("the written password does not match the account")
	}
	if path, err := EnsureAdmin(context.Background(), db, dir); path != "" || err != nil {
		t.Errorf("second start: %q, %v; want nothing done", path, err)
	}
}
