package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// VaultVersion is the HashiCorp Vault release scripts/vault-testenv.sh builds
// (its VV); a test checks that the two agree.
const VaultVersion = "1.14.2"

// vaultInstall says how to get the vault binary; a missing binary fails the
// test with it.
const vaultInstall = "build it once with `scripts/vault-testenv.sh build` (or `make test-deps`); " +
	"it caches Vault " + VaultVersion + " in ~/.cache/tarsctl-vault-testenv (~20 minutes the first time)"

// VaultServer is a running `vault server -dev` started by [Vault]: in-memory
// storage, unsealed, a KV v2 engine at secret/, listening on 127.0.0.1 over
// plain HTTP.
type VaultServer struct {
	// Addr is the server's URL, for example "http://127.0.0.1:40123".
	Addr string
	// Port is the TCP port of Addr.
	Port int
	// Token is the root token.
	Token string
	// Bin is the vault binary, which is also the vault CLI.
	Bin string
	// Home is the directory the server runs in (its HOME, where dev mode
	// writes .vault-token), removed when it stops.
	Home string

	proc *process
	tmp  *tempDir
}

// Env returns VAULT_ADDR and VAULT_TOKEN for a command that should talk to
// the server, plus HOME pointing at the server's directory so the vault CLI
// never reads or writes the real ~/.vault-token.
func (s *VaultServer) Env() []string {
	return []string{"VAULT_ADDR=" + s.Addr, "VAULT_TOKEN=" + s.Token, "HOME=" + s.Home}
}

func (s *VaultServer) stop() error {
	return errors.Join(s.proc.stop(), s.tmp.remove())
}

// VaultBinary returns the path of the vault binary scripts/vault-testenv.sh
// builds: $VAULT_TESTENV_BIN/vault, or
// ${XDG_CACHE_HOME:-~/.cache}/tarsctl-vault-testenv/VERSION/vault.
func VaultBinary() (string, error) {
	dir := os.Getenv("VAULT_TESTENV_BIN")
	if dir == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("vault not found (no home directory: %v): %s", err, vaultInstall)
			}
			cache = filepath.Join(home, ".cache")
		}
		dir = filepath.Join(cache, "tarsctl-vault-testenv", VaultVersion)
	}
	bin := filepath.Join(dir, "vault")
	if !isExecutable(bin) {
		return "", fmt.Errorf("vault not found at %s: %s", bin, vaultInstall)
	}
	return bin, nil
}

var sharedVault = sync.OnceValues(func() (*VaultServer, error) {
	s, err := startVault(context.Background(), freePort)
	if err == nil {
		registerShared(s.stop)
	}
	return s, err
})

// Vault returns the test binary's Vault dev server, starting it on first
// use; [Main] stops it after the tests. Tests share it, so each must use KV
// paths, policies and tokens of its own. It fails t (never skips) when the
// vault binary has not been built or the server does not start.
func Vault(t testing.TB) *VaultServer {
	t.Helper()
	requireMain(t, "Vault")
	s, err := sharedVault()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return s
}

// startVault starts a dev server on a port from pick.
func startVault(ctx context.Context, pick func() (int, error)) (*VaultServer, error) {
	bin, err := VaultBinary()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token := "tarsctl-test-" + hex.EncodeToString(tok)
	tmp, err := newTempDir(os.TempDir(), "tarsctl-vault-", nil)
	if err != nil {
		return nil, fmt.Errorf("create vault directory: %w", err)
	}
	var s *VaultServer
	err = startOnFreePort(ctx, pick, func(ctx context.Context, port int) error {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(bin, "server", "-dev",
			"-dev-root-token-id="+token,
			"-dev-listen-address="+addr,
			"-dev-no-store-token",
		)
		cmd.Dir = tmp.path
		// A clean environment: no VAULT_* of the developer's, and a HOME of
		// its own.
		cmd.Env = []string{"HOME=" + tmp.path, "PATH=" + os.Getenv("PATH"), "VAULT_LOG_LEVEL=warn"}
		cmd.SysProcAttr = sysProcAttr(nil)
		proc, err := startProcess("vault", cmd, "Development mode should NOT be used in production", syscall.SIGTERM)
		if err != nil {
			return err
		}
		if err := proc.waitReady(ctx); err != nil {
			if strings.Contains(err.Error(), "address already in use") && !errors.Is(err, errAddrInUse) {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		}
		s = &VaultServer{Addr: "http://" + addr, Port: port, Token: token, Bin: bin, Home: tmp.path, proc: proc, tmp: tmp}
		return nil
	})
	if err != nil {
		_ = tmp.remove()
		return nil, fmt.Errorf("start vault: %w", err)
	}
	return s, nil
}
