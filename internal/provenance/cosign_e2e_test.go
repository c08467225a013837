//go:build e2e

package provenance_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCosignVerifiesECDSAEnvelope: with an ECDSA key, tarsctl's DSSE
// envelopes verify with Sigstore's cosign (which does not verify RSA-PSS).
// It needs cosign on PATH:
//
//	go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.2
//	go test -tags e2e -run Cosign ./internal/provenance
func TestCosignVerifiesECDSAEnvelope(t *testing.T) {
	cosign, err := exec.LookPath("cosign")
	if err != nil {
		t.Fatalf("cosign not found: go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.2 (%v)", err)
	}
	env, _ := signed(t, "ecdsa_private.pem")
	p := filepath.Join(t.TempDir(), "provenance.json")
	if err := os.WriteFile(p, env, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(blob string) (string, error) {
		cmd := exec.CommandContext(t.Context(), cosign, "verify-blob-attestation",
			"--key", filepath.Join(keysDir, "ecdsa_public.pem"), "--insecure-ignore-tlog",
			"--type", "slsaprovenance1", "--signature", p, blob)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(artifact); err != nil || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign rejects the envelope: %v\n%s", err, out)
	}
	other := filepath.Join(t.TempDir(), "other")
	_ = os.WriteFile(other, []byte("not the artifact"), 0o644)
	if out, err := run(other); err == nil {
		t.Fatalf("cosign accepted another blob:\n%s", out)
	}
}
