package crypto

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyID(t *testing.T) {
	t.Parallel()
	key := testKey(0)
	sum := sha256.Sum256(key)
	if got, want := KeyID(key), hex.EncodeToString(sum[:8]); got != want || len(got) != 16 {
		t.Errorf("KeyID = %q, want %q", got, want)
	}
	// A fixed vector, the same as `xxd -r -p | sha256sum | cut -c1-16` on
	// 000102...1f.
	if got := KeyID(testKey(0)); got != "630dcd2966c43366" {
		t.Errorf("KeyID(00..1f) = %s", got)
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := testKey(0x41)
	hexKey := hex.EncodeToString(key)
	tests := []struct {
		name       string
		data       string
		wantFormat string
		wantErr    string
	}{
		{"hex with newline", hexKey + "\n", KeyFormatHex, ""},
		{"hex upper case, spaces", "  " + strings.ToUpper(hexKey) + " \r\n", KeyFormatHex, ""},
		{"raw", string(key), KeyFormatRaw, ""},
		{"raw that ends in a newline byte", string(append(testKey(0x41)[:31], '\n')), KeyFormatRaw, ""},
		{"short hex", hexKey[:62] + "\n", "", "want 64 hex digits"},
		{"long hex", hexKey + "00", "", "got 66 bytes"},
		{"not hex", strings.Repeat("zz", 32), "", "not all hex digits"},
		{"empty", "", "", "got 0 bytes"},
		{"base64", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=\n", "", "want 64 hex digits"},
		{"all zeros", strings.Repeat("0", 64), "", "all zeros"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, format, err := ParseKey([]byte(tt.data))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.data) && tt.data != "" {
					t.Errorf("error %q includes the key data", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if format != tt.wantFormat || len(got) != KeySize {
				t.Errorf("format %q len %d", format, len(got))
			}
			if tt.wantFormat == KeyFormatHex && string(got) != string(key) {
				t.Error("hex key decoded wrong")
			}
		})
	}
}

func TestLoadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := testKey(0x10)
	good := filepath.Join(dir, "key.hex")
	if err := os.WriteFile(good, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, info, err := LoadKeyFile(good)
	if err != nil || string(got) != string(key) {
		t.Fatalf("LoadKeyFile: %v", err)
	}
	if info.WorldReadable || info.GroupReadable || info.Format != KeyFormatHex || info.Mode != 0o600 {
		t.Errorf("info = %+v", info)
	}

	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil { // umask may have cleared bits
		t.Fatal(err)
	}
	_, info, err = LoadKeyFile(open)
	if err != nil || !info.WorldReadable || info.Format != KeyFormatRaw {
		t.Errorf("world-readable raw key: %+v, %v", info, err)
	}

	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("secret-ish but not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadKeyFile(bad)
	if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "secret-ish") {
		t.Errorf("bad key file: %v", err)
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, make([]byte, 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadKeyFile(big); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("big key file: %v", err)
	}
	if _, _, err := LoadKeyFile(dir); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("directory as key file: %v", err)
	}
	if _, _, err := LoadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing key file: %v", err)
	}
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	var k Keyring
	id1, err := k.Add(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := k.Add(testKey(2))
	if _, err := k.Add(testKey(1)); err != nil {
		t.Fatal(err)
	}
	if ids := k.IDs(); len(ids) != 2 || ids[0] != id1 || ids[1] != id2 {
		t.Errorf("IDs = %v", ids)
	}
	if _, err := k.Add([]byte("short")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("short key: %v", err)
	}
	// A file sealed with the old key still opens after a rotation.
	ct := seal(t, testKey(1), []byte("before the rotation"), 1)
	got, err := open(ct, &k)
	if err != nil || string(got) != "before the rotation" {
		t.Errorf("open with the old key in the ring: %q %v", got, err)
	}
	var uk *UnknownKeyError
	_, err = open(ct, mustKeyring(t, testKey(3)))
	if !errors.As(err, &uk) || uk.KeyID != id1 || !strings.Contains(err.Error(), id1) {
		t.Errorf("unknown key error = %v", err)
	}
}
