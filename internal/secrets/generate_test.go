package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

func TestGenerateAndWriteFiles(t *testing.T) {
	t.Parallel()
	set, err := Generate(Options{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := base64.StdEncoding.DecodeString(set.JWTSecret); err != nil || len(b) != 32 {
		t.Errorf("JWT secret is not 32 bytes of base64: %v", err)
	}
	if len(set.RedisPassword) != 32 || set.RedisPassword == set.DBPassword || set.DBPassword == set.AdminPassword {
		t.Error("passwords not distinct 32-character values")
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	files, err := Write(set, WriteOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 7 {
		t.Fatalf("%d files", len(files))
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", fi.Mode().Perm())
	}
	for _, f := range files {
		fi, err := os.Stat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if f.Name == RSAPublicFile {
			want = 0o644
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", f.Name, fi.Mode().Perm(), want)
		}
	}
	if _, err := keys.LoadAESKey(filepath.Join(dir, AESKeyFile)); err != nil {
		t.Errorf("aes.key: %v", err)
	}
	if _, err := signing.LoadKey(filepath.Join(dir, RSAPrivateFile)); err != nil {
		t.Errorf("rsa_private.pem: %v", err)
	}
	if _, err := verify.LoadPublicKey(filepath.Join(dir, RSAPublicFile)); err != nil {
		t.Errorf("rsa_public.pem: %v", err)
	}

	// A second run without overwrite writes nothing.
	before, _ := os.ReadFile(filepath.Join(dir, JWTSecretFile))
	set2, _ := Generate(Options{RSABits: 2048})
	if _, err := Write(set2, WriteOptions{Dir: dir}); !errors.Is(err, keys.ErrExists) {
		t.Fatalf("second write: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, JWTSecretFile)); !bytes.Equal(before, after) {
		t.Error("jwt_secret overwritten")
	}
	if _, err := Write(set2, WriteOptions{Dir: dir, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, JWTSecretFile)); bytes.Equal(before, after) {
		t.Error("overwrite did not replace jwt_secret")
	}
}

func TestEnvAndK8s(t *testing.T) {
	t.Parallel()
	set, err := Generate(Options{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := Write(set, WriteOptions{Dir: dir, Format: FormatEnv})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || files[0].Name != EnvFile {
		t.Fatalf("files %+v", files)
	}
	env, _ := os.ReadFile(filepath.Join(dir, EnvFile))
	for _, want := range []string{"JWT_SECRET=" + set.JWTSecret + "\n", "REDIS_PASSWORD=" + set.RedisPassword + "\n", "SIGNING_KEY=" + filepath.Join(dir, RSAPrivateFile)} {
		if !strings.Contains(string(env), want) {
			t.Errorf(".env lacks %q", strings.SplitN(want, "=", 2)[0])
		}
	}
	k8s := string(set.K8s("tars-prod"))
	for _, name := range []string{"tars-jwt-secret", "tars-aes-key", "tars-rsa-keys", "tars-redis", "tars-database", "tars-admin"} {
		if !strings.Contains(k8s, "  name: "+name+"\n") {
			t.Errorf("manifest %s missing", name)
		}
	}
	if strings.Count(k8s, "kind: Secret") != 6 || !strings.Contains(k8s, "namespace: tars-prod") ||
		!strings.Contains(k8s, "  password: "+base64.StdEncoding.EncodeToString([]byte(set.RedisPassword))) {
		t.Errorf("manifests:\n%s", k8s)
	}
}

// An existing directory others can enter is made 0700 before anything is
// written into it.
func TestWriteTightensExistingDir(t *testing.T) {
	t.Parallel()
	set, err := Generate(Options{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(set, WriteOptions{Dir: dir, Format: FormatEnv}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", fi.Mode().Perm())
	}
}
