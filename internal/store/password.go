package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the cost parameters of an argon2id hash.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultArgon2Params are the parameters [HashPassword] uses: OWASP's
// first recommendation for argon2id (19 MiB, 2 passes, 1 lane). One hash
// takes a few tens of milliseconds of one core, which the login rate limit
// bounds; a larger memory cost would let a burst of logins exhaust a small
// node.
var DefaultArgon2Params = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// lowCostArgon2Params are for tests only; see [TestOnlyLowCostPasswords].
var lowCostArgon2Params = Argon2Params{Memory: 64, Time: 1, Threads: 1}

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	// Limits on parameters read from a stored hash, so that a corrupt or
	// planted one cannot make a login allocate without bound.
	maxArgon2Memory  = 1 << 20 // KiB: 1 GiB
	maxArgon2Time    = 100
	minArgon2SaltLen = 8
	minArgon2KeyLen  = 16
	maxArgon2KeyLen  = 128
)

// testOnlyLowCost makes [HashPassword] use lowCostArgon2Params.
var testOnlyLowCost atomic.Bool

// TestOnlyLowCostPasswords makes [HashPassword] hash with the lowest cost
// for the rest of the process, so that tests creating many users stay
// fast. Hashes it makes still check with [CheckPassword] (the parameters
// are in the hash) and [NeedsRehash] reports them. Never call it outside
// tests.
func TestOnlyLowCostPasswords() { testOnlyLowCost.Store(true) }

// ErrMalformedHash is returned by [CheckPassword] for a string that is not
// an argon2id PHC hash it can check.
var ErrMalformedHash = errors.New("malformed password hash")

// HashPassword hashes pw with argon2id, [DefaultArgon2Params] and a random
// salt into a PHC string:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64.
func HashPassword(pw string) (string, error) {
	p := DefaultArgon2Params
	if testOnlyLowCost.Load() {
		p = lowCostArgon2Params
	}
	salt := make([]byte, argon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, argon2KeyLen)
	return formatPHC(p, salt, key), nil
}

func formatPHC(p Argon2Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether pw matches hash, an argon2id PHC string as
// [HashPassword] or another argon2 implementation writes it. It compares
// in constant time. A hash it cannot read is an error wrapping
// [ErrMalformedHash], which never shows the hash.
func CheckPassword(hash, pw string) (bool, error) {
	p, salt, key, err := parsePHC(hash)
	if err != nil {
		return false, fmt.Errorf("check password: %w", err)
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether hash was made with other parameters than
// [HashPassword] uses now, or cannot be read: after a successful login the
// caller may then store a fresh hash of the password.
func NeedsRehash(hash string) bool {
	p, salt, key, err := parsePHC(hash)
	want := DefaultArgon2Params
	if testOnlyLowCost.Load() {
		want = lowCostArgon2Params
	}
	return err != nil || p != want || len(salt) != argon2SaltLen || len(key) != argon2KeyLen
}

// parsePHC reads $argon2id$v=19$m=M,t=T,p=P$salt$key.
func parsePHC(hash string) (p Argon2Params, salt, key []byte, err error) {
	bad := func(why string) (Argon2Params, []byte, []byte, error) {
		return Argon2Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	fields := strings.Split(hash, "$")
	if len(fields) != 6 || fields[0] != "" {
		return bad("want $argon2id$v=19$m=...,t=...,p=...$salt$hash")
	}
	if fields[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("version is not " + strconv.Itoa(argon2.Version))
	}
	var seen [3]bool
	for kv := range strings.SplitSeq(fields[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + strconv.Quote(k) + " is not a number")
		}
		var i int
		switch k {
		case "m":
			i, p.Memory = 0, uint32(n)
		case "t":
			i, p.Time = 1, uint32(n)
		case "p":
			if n > 255 {
				return bad("p above 255")
			}
			i, p.Threads = 2, uint8(n)
		default:
			return bad("unknown parameter " + strconv.Quote(k))
		}
		if seen[i] {
			return bad("parameter " + k + " twice")
		}
		seen[i] = true
	}
	switch {
	case seen != [3]bool{true, true, true}:
		return bad("want parameters m, t and p")
	case p.Threads < 1, p.Time < 1 || p.Time > maxArgon2Time:
		return bad("t or p out of range")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Memory:
		return bad("m out of range")
	}
	if salt, err = base64.RawStdEncoding.DecodeString(fields[4]); err != nil || len(salt) < minArgon2SaltLen {
		return bad("salt is not base64 of at least 8 bytes")
	}
	if key, err = base64.RawStdEncoding.DecodeString(fields[5]); err != nil || len(key) < minArgon2KeyLen || len(key) > maxArgon2KeyLen {
		return bad("hash is not base64 of 16 to 128 bytes")
	}
	return p, salt, key, nil
}
