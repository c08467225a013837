package verify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/tars-ops/tarsctl/pkg/verify"
)

const keysDir = "../../testdata/keys"

func loadPub(t testing.TB, name string) any {
	t.Helper()
	pub, err := verify.LoadPublicKey(filepath.Join(keysDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(keysDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr error
		msg     string
	}{
		{name: "PKIX RSA", data: read("rsa_public.pem")},
		{name: "PKCS#1 RSA", data: read("rsa_public_pkcs1.pem")},
		{name: "PKIX ECDSA P-256", data: read("ecdsa_public.pem")},
		{name: "private key", data: read("rsa_private.pem"), wantErr: verify.ErrMalformedKey, msg: "holds a private key"},
		{name: "not PEM", data: []byte("hello"), wantErr: verify.ErrMalformedKey, msg: "no PEM block"},
		{name: "certificate request", data: pemOf(t, "CERTIFICATE REQUEST", []byte{1}), wantErr: verify.ErrMalformedKey, msg: "is not a public key"},
		{name: "garbage DER", data: pemOf(t, "PUBLIC KEY", []byte{1, 2, 3}), wantErr: verify.ErrMalformedKey},
		{name: "RSA 1024", data: pemOf(t, "PUBLIC KEY", smallDER), wantErr: verify.ErrUnsupportedKey, msg: "1024 bits"},
		{name: "ECDSA P-384", data: pemOf(t, "PUBLIC KEY", p384DER), wantErr: verify.ErrUnsupportedKey, msg: "P-384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub, err := verify.ParsePublicKey(tt.data)
			if tt.wantErr == nil {
				if err != nil || pub == nil {
					t.Fatalf("ParsePublicKey = %v, %v", pub, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.msg) || pub != nil {
				t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.msg)
			}
		})
	}
}

func TestLoadPublicKeyErrorNamesFileNotContent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(keysDir, "rsa_private.pem")
	_, err := verify.LoadPublicKey(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want it to name %s", err, path)
	}
	data, _ := os.ReadFile(path)
	block, _ := pem.Decode(data)
	if strings.Contains(err.Error(), string(pem.EncodeToMemory(block)[40:80])) {
		t.Fatal("error message contains key material")
	}
	_, err = verify.LoadPublicKey(filepath.Join(t.TempDir(), "missing.pem"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

// TestKeyIDIsCosignKeyID checks that KeyID is what go-securesystemslib (and
// so cosign) computes for a bare key: a different keyid would make them
// skip tarsctl's signatures.
func TestKeyIDIsCosignKeyID(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"rsa_public.pem", "ecdsa_public.pem", "rsa_other_public.pem"} {
		pub := loadPub(t, name)
		got, err := verify.KeyID(pub)
		if err != nil {
			t.Fatal(err)
		}
		want, err := dsse.SHA256KeyID(pub)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: KeyID = %s, go-securesystemslib says %s", name, got, want)
		}
	}
}

func TestParseDigest(t *testing.T) {
	t.Parallel()
	hex := strings.Repeat("ab", 32)
	for in, ok := range map[string]bool{
		"sha256:" + hex:                  true,
		"SHA256:" + strings.ToUpper(hex): true,
		hex:                              true,
		"sha512:" + hex:                  false,
		"sha256:" + hex[:62]:             false,
		"sha256:" + hex[:62] + "zz":      false,
		"":                               false,
	} {
		got, err := verify.ParseDigest(in)
		if ok != (err == nil) || ok && got != hex {
			t.Errorf("ParseDigest(%q) = %q, %v", in, got, err)
		}
		if !ok && !errors.Is(err, verify.ErrMalformedDigest) {
			t.Errorf("ParseDigest(%q) error %v is not ErrMalformedDigest", in, err)
		}
	}
}

func TestSourceMatches(t *testing.T) {
	t.Parallel()
	have := "git+https://github.com/tars-ops/tarsctl@refs/tags/v1.0.2"
	for want, ok := range map[string]bool{
		"github.com/tars-ops/tarsctl":                            true,
		"https://github.com/tars-ops/tarsctl.git":                true,
		"git+https://github.com/tars-ops/tarsctl":                true,
		"GitHub.com/Tars-Ops/tarsctl":                            true,
		"github.com/tars-ops/tarsctl@refs/tags/v1.0.2":           true,
		"github.com/tars-ops/tarsctl@refs/heads/main":            false,
		"github.com/tars-ops/tarsctl-fork":                       false,
		"github.com/evil/tarsctl":                                false,
		"git@github.com:tars-ops/tarsctl":                        false,
		"gitlab.com/tars-ops/tarsctl":                            false,
		"github.com/tars-ops/tarsctl/../../evil/tarsctl":         false,
		"git+https://github.com/tars-ops/tarsctl@v1.0.2":         false,
		"git+https://github.com/tars-ops/tarsctl/":               true,
		"ssh://git@github.com/tars-ops/tarsctl@refs/tags/v1.0.2": false,
	} {
		if got := verify.SourceMatches(have, want); got != ok {
			t.Errorf("SourceMatches(%q, %q) = %v, want %v", have, want, got, ok)
		}
	}
}

// vector is one file of testdata/provenance/vectors: a header saying what to
// verify with and what must happen, then the provenance.
type vector struct {
	expect    string
	publicKey string
	opts      []verify.ProvenanceOption
	body      []byte
}

func readVector(t testing.TB, path string) vector {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := bytes.Cut(data, []byte("\n---\n"))
	if !ok {
		t.Fatalf("%s: no --- line", path)
	}
	v := vector{body: body}
	for _, line := range strings.Split(string(head), "\n") {
		k, val, _ := strings.Cut(line, ": ")
		switch k {
		case "expect":
			v.expect = val
		case "public-key":
			v.publicKey = val
		case "digest":
			v.opts = append(v.opts, verify.WithDigest(val))
		case "builder-id":
			v.opts = append(v.opts, verify.WithBuilderID(val))
		case "source-uri":
			v.opts = append(v.opts, verify.WithSourceURI(val))
		default:
			t.Fatalf("%s: unknown header %q", path, line)
		}
	}
	return v
}

var sentinels = map[string]error{
	"ErrBadSignature":      verify.ErrBadSignature,
	"ErrContentAltered":    verify.ErrContentAltered,
	"ErrWrongKey":          verify.ErrWrongKey,
	"ErrNoSignature":       verify.ErrNoSignature,
	"ErrPayloadType":       verify.ErrPayloadType,
	"ErrStatementType":     verify.ErrStatementType,
	"ErrPredicateType":     verify.ErrPredicateType,
	"ErrInvalidStatement":  verify.ErrInvalidStatement,
	"ErrSubjectNotFound":   verify.ErrSubjectNotFound,
	"ErrBuilderMismatch":   verify.ErrBuilderMismatch,
	"ErrSourceMismatch":    verify.ErrSourceMismatch,
	"ErrMalformedEnvelope": verify.ErrMalformedEnvelope,
}

func TestProvenanceVectors(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("../../testdata/provenance/vectors/*.vector")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".vector"), func(t *testing.T) {
			t.Parallel()
			v := readVector(t, path)
			pub := loadPub(t, v.publicKey)
			res, err := verify.Provenance(v.body, pub, v.opts...)
			if v.expect == "ok" {
				if err != nil {
					t.Fatalf("Provenance: %v", err)
				}
				if res.KeyID == "" || len(res.Subjects) != 1 || res.Subjects[0].Name != "artifact.txt" {
					t.Fatalf("result = %+v", res)
				}
				return
			}
			want, ok := sentinels[v.expect]
			if !ok {
				t.Fatalf("unknown expectation %q", v.expect)
			}
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if res != nil {
				t.Fatal("result is not nil on error")
			}
			// Every verification failure, and only those, matches
			// ErrVerificationFailed; a malformed file is bad input.
			if isFailure := errors.Is(err, verify.ErrVerificationFailed); isFailure == (want == verify.ErrMalformedEnvelope) {
				t.Fatalf("errors.Is(%v, ErrVerificationFailed) = %v", err, isFailure)
			}
		})
	}
}

// TestFailureMessagesAreDistinct: each way to fail says something different,
// so an operator can tell what to fix from the message alone.
func TestFailureMessagesAreDistinct(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for name, err := range sentinels {
		msg := err.Error()
		if other, dup := seen[msg]; dup {
			t.Errorf("%s and %s share the message %q", name, other, msg)
		}
		seen[msg] = name
	}
}

func TestArtifactFile(t *testing.T) {
	t.Parallel()
	v := readVector(t, "../../testdata/provenance/vectors/good-rsa.vector")
	pub := loadPub(t, "rsa_public.pem")
	art := "../../testdata/provenance/artifact.txt"
	res, err := verify.Provenance(v.body, pub, verify.WithArtifactFile(art))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matched) != 1 || res.Matched[0].Name != "artifact.txt" {
		t.Fatalf("matched = %+v", res.Matched)
	}
	// One flipped byte of the artifact.
	data, _ := os.ReadFile(art)
	data[3] ^= 0x01
	tampered := filepath.Join(t.TempDir(), "artifact.txt")
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = verify.Provenance(v.body, pub, verify.WithArtifactFile(tampered))
	if !errors.Is(err, verify.ErrSubjectNotFound) || !strings.Contains(err.Error(), "modified or rebuilt") {
		t.Fatalf("err = %v, want ErrSubjectNotFound naming the modified artifact", err)
	}
	_, err = verify.Provenance(v.body, pub, verify.WithArtifactFile(filepath.Join(t.TempDir(), "missing")))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestStatementUnsigned(t *testing.T) {
	t.Parallel()
	v := readVector(t, "../../testdata/provenance/vectors/unsigned-statement.vector")
	res, err := verify.Statement(v.body, verify.WithDigest("sha256:c6e3b826d04dfa7ee88eaa9c7fc6358d59bab8dc9440dab229414a1d7ce65038"))
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyID != "" || len(res.Matched) != 1 {
		t.Fatalf("res = %+v", res)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	t.Parallel()
	v := readVector(t, "../../testdata/provenance/vectors/good-rsa.vector")
	env, err := verify.ParseEnvelope(v.body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := env.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	again, err := verify.ParseEnvelope(out)
	if err != nil {
		t.Fatal(err)
	}
	if again.PayloadType != env.PayloadType || !bytes.Equal(again.Payload, env.Payload) || len(again.Signatures) != 1 {
		t.Fatal("round trip changed the envelope")
	}
	if _, err := again.Verify(loadPub(t, "rsa_public.pem")); err != nil {
		t.Fatal(err)
	}
}

func TestPAE(t *testing.T) {
	t.Parallel()
	// The example of the DSSE protocol document.
	got := verify.PAE("http://example.com/HelloWorld", []byte("hello world"))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if string(got) != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
	if !bytes.Equal(got, dsse.PAE("http://example.com/HelloWorld", []byte("hello world"))) {
		t.Fatal("PAE differs from go-securesystemslib's")
	}
}

func FuzzParseEnvelope(f *testing.F) {
	paths, _ := filepath.Glob("../../testdata/provenance/vectors/*.vector")
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		if _, body, ok := bytes.Cut(data, []byte("\n---\n")); ok {
			f.Add(body)
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":[{"keyid":"","sig":""}]}`))
	pub, err := verify.LoadPublicKey(filepath.Join(keysDir, "rsa_public.pem"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := verify.ParseEnvelope(data)
		if err != nil {
			if env != nil {
				t.Fatal("non-nil envelope with an error")
			}
			return
		}
		// A parsed envelope survives a round trip, and verifying it never
		// panics.
		out, err := env.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := verify.ParseEnvelope(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.PayloadType != env.PayloadType || !bytes.Equal(again.Payload, env.Payload) || len(again.Signatures) != len(env.Signatures) {
			t.Fatal("round trip changed the envelope")
		}
		_, _ = verify.Provenance(data, pub)
	})
}
