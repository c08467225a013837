package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RateLimitKeys are the counters that limit ip: its API window and its
// login window.
func RateLimitKeys(ip string) []string {
	return []string{"rate_limit:" + ip, "rate_limit:login:" + ip}
}

// ShowRateLimits returns the counters of ip, or every rate_limit:* counter
// (global included) when ip is empty.
func ShowRateLimits(ctx context.Context, c *redis.Client, ip string) ([]RateLimit, error) {
	if ip == "" {
		return TopRateLimits(ctx, c, 0)
	}
	out := []RateLimit{}
	for _, k := range RateLimitKeys(ip) {
		n, err := c.Get(ctx, k).Int64()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", k, err)
		}
		ttl, _ := c.PTTL(ctx, k).Result()
		out = append(out, RateLimit{Key: k, Count: n, TTL: ttl, TTLS: ttl.Seconds()})
	}
	return out, nil
}

// ResetRateLimit deletes ip's counters (the runbook's redis-cli DEL) and
// returns how many existed.
func ResetRateLimit(ctx context.Context, c *redis.Client, ip string) (int64, error) {
	n, err := c.Del(ctx, RateLimitKeys(ip)...).Result()
	if err != nil {
		return 0, fmt.Errorf("delete rate limits of %s: %w", ip, err)
	}
	return n, nil
}

// RevokeAllSessions invalidates every refresh token: it marks each token's
// family revoked (so a copy of it is refused as well) and deletes the
// token, leaving every other key alone. It returns the number of sessions
// (families) and tokens. With dryRun it only counts.
func RevokeAllSessions(ctx context.Context, c *redis.Client, dryRun bool) (families, tokens int, err error) {
	seen := map[string]bool{}
	iter := c.Scan(ctx, 0, "refresh:*", 500).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		rec, err := c.HGet(ctx, k, "record").Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			return families, tokens, fmt.Errorf("read %s: %w", k, err)
		}
		var r struct {
			Family  string    `json:"family"`
			Expires time.Time `json:"expires"`
		}
		_ = json.Unmarshal([]byte(rec), &r)
		tokens++
		if r.Family != "" && !seen[r.Family] {
			seen[r.Family] = true
			families++
		}
		if dryRun {
			continue
		}
		if r.Family != "" {
			ttl := time.Until(r.Expires)
			if ttl <= 0 {
				ttl = time.Hour
			}
			if err := c.Set(ctx, "refresh_family_revoked:"+r.Family, "1", ttl).Err(); err != nil {
				return families, tokens, fmt.Errorf("revoke family: %w", err)
			}
		}
		if err := c.Del(ctx, k).Err(); err != nil {
			return families, tokens, fmt.Errorf("delete %s: %w", k, err)
		}
	}
	if err := iter.Err(); err != nil {
		return families, tokens, fmt.Errorf("scan refresh tokens: %w", err)
	}
	return families, tokens, nil
}
