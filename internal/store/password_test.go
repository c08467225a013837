package store

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// Vectors made with the reference implementation's CLI (Debian's argon2
// package), e.g.
//
//	echo -n "correct horse battery staple" | argon2 tarsctl-salt-16b -id -t 2 -m 10 -p 1 -l 32 -e
var argon2Vectors = []struct{ password, hash string }{
	{"correct horse battery staple", "$argon2id$v=19$m=1024,t=2,p=1$dGFyc2N0bC1zYWx0LTE2Yg$lApQJcjjVbu6fkaOBo2iUC03N253qDJS+s6xwVJSZUg"},
	{"pässwörd", "$argon2id$v=19$m=12288,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$oyMHYBy7EinDd/Mk3s+tC6FkjPpvN8Io"},
}

func TestCheckPasswordVectors(t *testing.T) {
	t.Parallel()
	for _, v := range argon2Vectors {
		ok, err := CheckPassword(v.hash, v.password)
		if err != nil || !ok {
			t.Errorf("CheckPassword(%s, %q) = %v, %v; want true", v.hash, v.password, ok, err)
		}
		ok, err = CheckPassword(v.hash, v.password+"x")
		if err != nil || ok {
			t.Errorf("CheckPassword(%s) of a wrong password = %v, %v; want false", v.hash, ok, err)
		}
	}
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPassword(t *testing.T) {
	t.Parallel()
	h1, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !phcPattern.MatchString(h1) {
		t.Errorf("hash %q is not a PHC argon2id string with a 16-byte salt and 32-byte key", h1)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"s3cret", true}, {"s3cret ", false}, {"", false}, {"S3cret", false}} {
		if ok, err := CheckPassword(h1, tc.pw); err != nil || ok != tc.want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	if NeedsRehash(h1) {
		t.Error("NeedsRehash of a fresh hash")
	}
	if !NeedsRehash(argon2Vectors[0].hash) {
		t.Error("NeedsRehash of a hash with other parameters is false")
	}
}

// TestDefaultArgon2Params checks a hash at the production cost, which the
// other tests avoid.
func TestDefaultArgon2Params(t *testing.T) {
	t.Parallel()
	p := DefaultArgon2Params
	salt := []byte("0123456789abcdef")
	h := formatPHC(p, salt, argon2.IDKey([]byte("pw"), salt, p.Time, p.Memory, p.Threads, argon2KeyLen))
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %s, want m=19456,t=2,p=1", h)
	}
	if ok, err := CheckPassword(h, "pw"); err != nil || !ok {
		t.Errorf("CheckPassword = %v, %v", ok, err)
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	t.Parallel()
	const (
		salt = "c29tZXNhbHRzb21lc2FsdA"
		key  = "oyMHYBy7EinDd/Mk3s+tC6FkjPpvN8Io"
	)
	for _, hash := range []string{
		"",
		"plaintext",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", // bcrypt
		"$argon2i$v=19$m=12288,t=3,p=2$" + salt + "$" + key,
		"$argon2d$v=19$m=12288,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=16$m=12288,t=3,p=2$" + salt + "$" + key,
		"$argon2id$m=12288,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=12288,t=3$" + salt + "$" + key,
		"$argon2id$v=19$m=12288,t=3,p=2,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=12288,t=3,p=2,x=1$" + salt + "$" + key,
		"$argon2id$v=19$m=x,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=-1,t=3,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=12288,t=0,p=2$" + salt + "$" + key,
		"$argon2id$v=19$m=12288,t=3,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=12288,t=3,p=256$" + salt + "$" + key,
		"$argon2id$v=19$m=4,t=3,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4294967295,t=3,p=1$" + salt + "$" + key, // 4 TiB
		"$argon2id$v=19$m=12288,t=1000000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=12288,t=3,p=2$" + "c2FsdA" + "$" + key, // 4-byte salt
		"$argon2id$v=19$m=12288,t=3,p=2$" + salt + "$" + "a2V5",  // 3-byte key
		"$argon2id$v=19$m=12288,t=3,p=2$" + salt + "=$" + key,    // padded
		"$argon2id$v=19$m=12288,t=3,p=2$" + salt + "$" + key + "$",
		"argon2id$v=19$m=12288,t=3,p=2$" + salt + "$" + key,
	} {
		ok, err := CheckPassword(hash, "pässwörd")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("CheckPassword(%q) = %v, %v; want ErrMalformedHash", hash, ok, err)
			continue
		}
		if hash != "" && strings.Contains(err.Error(), hash) {
			t.Errorf("error %q shows the hash", err)
		}
	}
}

func FuzzCheckPassword(f *testing.F) {
	for _, v := range argon2Vectors {
		f.Add(v.hash, v.password)
	}
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		p, _, _, err := parsePHC(hash)
		if err == nil && (p.Memory > 1<<14 || p.Time > 4) {
			t.Skip("too costly to check in a fuzz run")
		}
		ok, err := CheckPassword(hash, pw)
		if err != nil && ok {
			t.Fatalf("CheckPassword(%q) = true with error %v", hash, err)
		}
		if err != nil && !errors.Is(err, ErrMalformedHash) {
			t.Fatalf("CheckPassword(%q): %v, want ErrMalformedHash", hash, err)
		}
	})
}

// BenchmarkCheckPassword measures one login's hashing at the production
// cost.
func BenchmarkCheckPassword(b *testing.B) {
	p := DefaultArgon2Params
	salt := []byte("0123456789abcdef")
	h := formatPHC(p, salt, argon2.IDKey([]byte("pw"), salt, p.Time, p.Memory, p.Threads, argon2KeyLen))
	for b.Loop() {
		if ok, err := CheckPassword(h, "pw"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
