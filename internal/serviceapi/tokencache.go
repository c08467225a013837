package serviceapi

import (
	"sync"
	"time"

	"github.com/tars-ops/tarsctl/internal/auth"
)

// maxVerifiedTokens bounds the verified-token cache; when it is full it is
// emptied, which costs one re-verification per active token.
const maxVerifiedTokens = 10_000

// verifiedTokens remembers tokens whose signature and claims were checked,
// so a client that sends the same token on every request pays for parsing
// it once. Only what Verify proved is cached; expiry is checked on every
// hit and revocation is looked up on every request as before.
type verifiedTokens struct {
	mu sync.Mutex
	m  map[string]auth.Claims
}

func (v *verifiedTokens) verify(s *auth.Signer, token string, now time.Time) (auth.Claims, error) {
	v.mu.Lock()
	c, ok := v.m[token]
	v.mu.Unlock()
	// ValidUntil: a token signed with a previous secret stops being good
	// when that secret's grace period ends, before its own expiry.
	if ok && now.Before(c.ValidUntil()) {
		return c, nil
	}
	c, err := s.Verify(token)
	if err != nil {
		return c, err
	}
	v.mu.Lock()
	if v.m == nil || len(v.m) >= maxVerifiedTokens {
		v.m = make(map[string]auth.Claims)
	}
	v.m[token] = c
	v.mu.Unlock()
	return c, nil
}
