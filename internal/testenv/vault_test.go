package testenv

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestVaultVersionMatchesScript: the binary Vault looks for is the one
// scripts/vault-testenv.sh builds.
func TestVaultVersionMatchesScript(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../scripts/vault-testenv.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VV=(\S+)`).FindSubmatch(b)
	if m == nil || string(m[1]) != VaultVersion {
		t.Errorf("scripts/vault-testenv.sh builds %q, testenv.VaultVersion is %q", m, VaultVersion)
	}
}

func TestVault(t *testing.T) {
	t.Parallel()
	v := Vault(t)
	if v2 := Vault(t); v2 != v {
		t.Error("Vault started a second server")
	}
	req, _ := http.NewRequest(http.MethodGet, v.Addr+"/v1/sys/mounts/secret/tune", nil)
	req.Header.Set("X-Vault-Token", v.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Options map[string]string `json:"options"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.Options["version"] != "2" {
		t.Errorf("secret/ tune: HTTP %d, %+v, %v", resp.StatusCode, body, err)
	}
	if _, err := os.Stat(v.Home + "/.vault-token"); err == nil {
		t.Error("dev server stored its token in HOME")
	}
}

// TestMissingVaultFails: without the binary the error says how to build it.
func TestMissingVaultFails(t *testing.T) {
	t.Setenv("VAULT_TESTENV_BIN", t.TempDir())
	_, err := VaultBinary()
	if err == nil || !strings.Contains(err.Error(), "scripts/vault-testenv.sh build") {
		t.Errorf("err = %v", err)
	}
}
