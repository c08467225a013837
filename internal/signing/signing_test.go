package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

const keysDir = "../../testdata/keys"

func key(name string) string { return filepath.Join(keysDir, name) }

func TestLoadKeyFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ private, public, alg string }{
		{"rsa_private.pem", "rsa_public.pem", "rsassa-pss-sha256"},
		{"rsa_private_pkcs1.pem", "rsa_public.pem", "rsassa-pss-sha256"},
		{"ecdsa_private.pem", "ecdsa_public.pem", "ecdsa-p256-sha256"},
		{"ecdsa_private_sec1.pem", "ecdsa_public.pem", "ecdsa-p256-sha256"},
	} {
		t.Run(tc.private, func(t *testing.T) {
			t.Parallel()
			k, err := signing.LoadKey(key(tc.private))
			if err != nil {
				t.Fatal(err)
			}
			pub, err := verify.LoadPublicKey(key(tc.public))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := verify.KeyID(pub)
			if k.ID != id || k.Algorithm() != tc.alg {
				t.Fatalf("ID %s alg %s, want %s %s", k.ID, k.Algorithm(), id, tc.alg)
			}
			sig, err := k.Sign(strings.NewReader("release"))
			if err != nil {
				t.Fatal(err)
			}
			if err := verify.Signature(pub, strings.NewReader("release"), sig); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadKeyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pubData, _ := os.ReadFile(key("rsa_public.pem"))
	tests := []struct {
		name    string
		path    string
		wantErr error
		msg     string
	}{
		{"missing", filepath.Join(dir, "nope.pem"), os.ErrNotExist, "nope.pem"},
		{"public key", key("rsa_public.pem"), signing.ErrMalformedKey, "holds a public key"},
		{"not PEM", write("junk.pem", "not a key"), signing.ErrMalformedKey, "no PEM block"},
		{"encrypted", write("enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), signing.ErrEncryptedKey, "enc.pem"},
		{"bad DER", write("bad.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), signing.ErrMalformedKey, "bad.pem"},
		{"directory", dir, signing.ErrMalformedKey, "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := signing.LoadKey(tt.path)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.msg) || k != nil {
				t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.msg)
			}
			// Errors name the file, never its content.
			if strings.Contains(err.Error(), "MII") || bytes.Contains([]byte(err.Error()), pubData[30:60]) {
				t.Fatalf("error shows key material: %v", err)
			}
		})
	}
}

func TestWorldReadable(t *testing.T) {
	t.Parallel()
	data, _ := os.ReadFile(key("rsa_private.pem"))
	dir := t.TempDir()
	for mode, want := range map[os.FileMode]bool{0o600: false, 0o640: true, 0o644: true, 0o400: false} {
		p := filepath.Join(dir, mode.String())
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		k, err := signing.LoadKey(p)
		if err != nil {
			t.Fatal(err)
		}
		if k.WorldReadable() != want {
			t.Errorf("mode %v: WorldReadable = %v", mode, !want)
		}
	}
}

// openssl runs openssl and fails the test with its output on error. openssl
// is part of the machine image (and of make test-deps).
func openssl(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed for the interoperability tests: apt-get install openssl (%v)", err)
	}
	out, err := exec.CommandContext(t.Context(), path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOpenSSLVerifiesTarsctl: a signature tarsctl writes verifies with the
// command the issue and the runbook give.
func TestOpenSSLVerifiesTarsctl(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "tars-v1.0.2-cyclonedx.json")
	if err := os.WriteFile(file, bytes.Repeat([]byte(`{"bomFormat":"CycloneDX"}`), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		private, public string
		args            []string
	}{
		{"rsa_private.pem", "rsa_public.pem", []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
		{"ecdsa_private.pem", "ecdsa_public.pem", nil},
	} {
		k, err := signing.LoadKey(key(tc.private))
		if err != nil {
			t.Fatal(err)
		}
		sigPath, err := k.SignFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if sigPath != file+".sig" {
			t.Fatalf("signature written to %s", sigPath)
		}
		args := append([]string{"dgst", "-sha256"}, tc.args...)
		args = append(args, "-verify", key(tc.public), "-signature", sigPath, file)
		if out := openssl(t, args...); !strings.Contains(out, "Verified OK") {
			t.Fatalf("%s: openssl says %q", tc.private, out)
		}
	}
}

// TestTarsctlVerifiesOpenSSL: signatures openssl makes, with its default
// (maximum) salt, an explicit 32-byte salt and a 64-byte one, and with
// ECDSA, verify with tarsctl.
func TestTarsctlVerifiesOpenSSL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(file, []byte("d9b8ee6946578face8235fd8080880672fe8bd2f71a5fe750b4922900a294cb5  tars-v1.0.2.tar.gz\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rsaPub, _ := verify.LoadPublicKey(key("rsa_public.pem"))
	ecPub, _ := verify.LoadPublicKey(key("ecdsa_public.pem"))
	for _, tc := range []struct {
		name, private string
		pub           crypto.PublicKey
		args          []string
	}{
		{"rsa default salt", "rsa_private.pem", rsaPub, []string{"-sigopt", "rsa_padding_mode:pss"}},
		{"rsa salt 32", "rsa_private.pem", rsaPub, []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"}},
		{"rsa salt 64", "rsa_private_pkcs1.pem", rsaPub, []string{"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:64"}},
		{"ecdsa", "ecdsa_private.pem", ecPub, nil},
	} {
		sig := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".sig")
		args := append([]string{"dgst", "-sha256"}, tc.args...)
		args = append(args, "-sign", key(tc.private), "-out", sig, file)
		openssl(t, args...)
		if err := verify.File(tc.pub, file, sig); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// And a PKCS#1 v1.5 signature is not accepted as PSS.
	sig := filepath.Join(dir, "pkcs1v15.sig")
	openssl(t, "dgst", "-sha256", "-sign", key("rsa_private.pem"), "-out", sig, file)
	if err := verify.File(rsaPub, file, sig); !errors.Is(err, verify.ErrBadSignature) {
		t.Errorf("PKCS#1 v1.5 signature: err = %v, want ErrBadSignature", err)
	}
}

// TestDetachedTamper: each change to a signed file fails with its own cause.
func TestDetachedTamper(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "sbom.json")
	content := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.7"}`)
	if err := os.WriteFile(file, content, 0o644); err != nil {
		t.Fatal(err)
	}
	k, _ := signing.LoadKey(key("rsa_private.pem"))
	sigPath, err := k.SignFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(sigPath)
	pub := k.Public()
	other, _ := verify.LoadPublicKey(key("rsa_other_public.pem"))

	flipped := bytes.Clone(content)
	flipped[5] ^= 0x01
	altered := filepath.Join(dir, "altered.json")
	_ = os.WriteFile(altered, flipped, 0o644)
	badSig := bytes.Clone(sig)
	badSig[9] ^= 0x01
	badSigPath := filepath.Join(dir, "bad.sig")
	_ = os.WriteFile(badSigPath, badSig, 0o644)

	for _, tc := range []struct {
		name      string
		pub       crypto.PublicKey
		file, sig string
		want      error
	}{
		{"good", pub, file, sigPath, nil},
		{"file byte flipped", pub, altered, sigPath, verify.ErrContentAltered},
		{"signature byte flipped", pub, file, badSigPath, verify.ErrBadSignature},
		{"other key", other, file, sigPath, verify.ErrBadSignature},
	} {
		err := verify.File(tc.pub, tc.file, tc.sig)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// fixedVerifier is a go-securesystemslib verifier without a keyid, as
// cosign builds for `--key`: the library then computes the keyid itself.
type fixedVerifier struct{ pub crypto.PublicKey }

func (v fixedVerifier) Verify(_ context.Context, data, sig []byte) error {
	return verify.Signature(v.pub, bytes.NewReader(data), sig)
}
func (v fixedVerifier) KeyID() (string, error)   { return "", nil }
func (v fixedVerifier) Public() crypto.PublicKey { return v.pub }

// TestDSSEInterop: envelopes signed through go-securesystemslib with
// tarsctl's keys verify with its EnvelopeVerifier the way cosign calls it,
// and with pkg/verify.
func TestDSSEInterop(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"rsa_private.pem", "ecdsa_private.pem"} {
		k, err := signing.LoadKey(key(name))
		if err != nil {
			t.Fatal(err)
		}
		es, _ := dsse.NewEnvelopeSigner(k.DSSE())
		env, err := es.SignPayload(t.Context(), verify.PayloadTypeInToto, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`))
		if err != nil {
			t.Fatal(err)
		}
		ev, _ := dsse.NewEnvelopeVerifier(fixedVerifier{k.Public()})
		if _, err := ev.Verify(t.Context(), env); err != nil {
			t.Fatalf("%s: go-securesystemslib rejects the envelope: %v", name, err)
		}
		data, _ := json.Marshal(env)
		parsed, err := verify.ParseEnvelope(data)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := parsed.Verify(k.Public()); err != nil || id != k.ID {
			t.Fatalf("%s: pkg/verify: %s, %v", name, id, err)
		}
	}
}

// A KeySet verifies what any of its keys signed, detached or in a DSSE
// envelope, and names the right failure otherwise.
func TestKeySet(t *testing.T) {
	t.Parallel()
	rsaKey, err := signing.LoadKey(key("rsa_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := signing.LoadKey(key("ecdsa_private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	both := verify.KeySet{ecKey.Public(), rsaKey.Public()}
	onlyEC := verify.KeySet{ecKey.Public()}
	sig, err := rsaKey.Sign(strings.NewReader("release"))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify.Signature(both, strings.NewReader("release"), sig); err != nil {
		t.Errorf("set with the signer: %v", err)
	}
	if err := verify.Signature(both, strings.NewReader("altered"), sig); !errors.Is(err, verify.ErrContentAltered) {
		t.Errorf("altered content: %v", err)
	}
	if err := verify.Signature(onlyEC, strings.NewReader("release"), sig); !errors.Is(err, verify.ErrVerificationFailed) {
		t.Errorf("set without the signer: %v", err)
	}
	if err := verify.Signature(verify.KeySet{}, strings.NewReader("release"), sig); !errors.Is(err, verify.ErrUnsupportedKey) {
		t.Errorf("empty set: %v", err)
	}

	es, _ := dsse.NewEnvelopeSigner(rsaKey.DSSE())
	env, err := es.SignPayload(t.Context(), verify.PayloadTypeInToto, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(env)
	parsed, err := verify.ParseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := parsed.Verify(both); err != nil || id != rsaKey.ID {
		t.Errorf("envelope with the set: %s %v", id, err)
	}
	if _, err := parsed.Verify(onlyEC); !errors.Is(err, verify.ErrWrongKey) {
		t.Errorf("envelope without the signer: %v", err)
	}
}
