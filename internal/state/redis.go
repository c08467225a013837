package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// Timeouts of the client [OpenRedis] builds. They are short because the
// store sits in the path of every API request: a Redis that does not answer
// within them is better reported than waited for.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = 1 * time.Second
	DefaultWriteTimeout = 1 * time.Second
)

// Key prefixes; see the package documentation.
const (
	refreshPrefix       = "refresh:"
	familyRevokedPrefix = "refresh_family_revoked:"
	tokenRevokedPrefix  = "revoked:"
	refreshRecordField  = "record"
	useNonceBytes       = 16
)

// Redis is the [Store] that keeps the state in Redis, shared by every
// replica that uses the same server. It works with a standalone server,
// Sentinel and Cluster alike: each operation touches a single key.
type Redis struct {
	client    redis.UniversalClient
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store over client. The store owns client from then on:
// [Redis.Close] closes it.
func NewRedis(client redis.UniversalClient) *Redis {
	return &Redis{client: client}
}

// OpenRedis connects to the Redis that cfg describes (standalone, Sentinel
// or Cluster, over TLS when redis.tls says so; see [redisconn.FromConfig]),
// as cfg.Username (the default user when empty) with password as its
// password (cfg.Password is a reference the caller resolves), and pings
// it. When cfg.Password is file:PATH, every new connection re-reads PATH
// if it changed (see [redisconn.FileCredentials]), so `tarsctl secrets
// rotate redis-password` needs no restart: connections already open stay
// authenticated, new ones use the new password. An unreachable server is
// an error that names the addresses tried.
func OpenRedis(ctx context.Context, cfg config.RedisConfig, password string) (*Redis, error) {
	e, err := redisconn.FromConfig(cfg, password)
	if err != nil {
		return nil, fmt.Errorf("connect to redis: %w", err)
	}
	client, _, err := redisconn.Connect(ctx, e, redisconn.Options{
		DialTimeout:  DefaultDialTimeout,
		ReadTimeout:  DefaultReadTimeout,
		WriteTimeout: DefaultWriteTimeout,
		// One retry after a broken connection (a restarted server).
		Retries: 1,
	})
	if err != nil {
		return nil, err
	}
	return NewRedis(client), nil
}

// allowScript counts one request in KEYS[1]'s fixed window of ARGV[1]
// milliseconds and returns {count, milliseconds left}. A key without an
// expiry, new or left behind by someone, gets the window, so a counter can
// never outlive it.
var allowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// Allow implements [Store.Allow].
func (s *Redis) Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error) {
	if err := checkAllow(key, limit, window); err != nil {
		return Decision{}, err
	}
	res, err := allowScript.Run(ctx, s.client, []string{key}, millis(window)).Int64Slice()
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %q: %w", key, err)
	}
	if len(res) != 2 {
		return Decision{}, fmt.Errorf("rate limit %q: script returned %d values, want 2", key, len(res))
	}
	return decide(int(res[0]), limit, time.Duration(res[1])*time.Millisecond), nil
}

// AllowAndCheck implements [Store.AllowAndCheck] with one pipeline: the
// rate-limit script and EXISTS on the revocation key. In Cluster mode the
// two keys may live on different nodes; go-redis splits the pipeline.
func (s *Redis) AllowAndCheck(ctx context.Context, key string, limit int, window time.Duration, jti string) (Decision, bool, error) {
	if err := checkAllow(key, limit, window); err != nil {
		return Decision{}, false, err
	}
	run := func(useSha bool) (*redis.Cmd, *redis.IntCmd, error) {
		var count *redis.Cmd
		var exists *redis.IntCmd
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			if useSha {
				count = allowScript.EvalSha(ctx, p, []string{key}, millis(window))
			} else {
				count = allowScript.Eval(ctx, p, []string{key}, millis(window))
			}
			exists = p.Exists(ctx, tokenRevokedPrefix+jti)
			return nil
		})
		return count, exists, err
	}
	count, exists, err := run(true)
	if err != nil && redis.HasErrorPrefix(count.Err(), "NOSCRIPT") {
		// First use on this server (or after SCRIPT FLUSH): send the body.
		count, exists, err = run(false)
	}
	if err != nil {
		return Decision{}, false, fmt.Errorf("rate limit %q and check token: %w", key, err)
	}
	res, err := count.Int64Slice()
	if err != nil || len(res) != 2 {
		return Decision{}, false, fmt.Errorf("rate limit %q: unexpected script reply %v: %v", key, res, err)
	}
	return decide(int(res[0]), limit, time.Duration(res[1])*time.Millisecond), exists.Val() > 0, nil
}

// SaveRefresh implements [Store.SaveRefresh]. The expiry is relative to
// this host's clock, which is also the one that checks the token's own
// expiry.
func (s *Redis) SaveRefresh(ctx context.Context, hash string, r Refresh) error {
	if hash == "" {
		return errors.New("save refresh token: empty hash")
	}
	ttl := time.Until(r.Expires)
	if ttl <= 0 {
		return fmt.Errorf("save refresh token: record expired at %s", r.Expires.Format(time.RFC3339))
	}
	rec, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save refresh token: %w", err)
	}
	key := refreshPrefix + hash
	// One key, so MULTI works in Cluster too. DEL first: a replaced
	// record must not inherit a "used" mark.
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, key)
		p.HSet(ctx, key, refreshRecordField, rec)
		p.PExpire(ctx, key, time.Duration(millis(ttl))*time.Millisecond)
		return nil
	})
	if err != nil {
		return fmt.Errorf("save refresh token: %w", err)
	}
	return nil
}

// useScript marks the refresh token KEYS[1] used by the use ARGV[1] (a
// nonce) and returns {record, 1} for its first use, {record, 0} for a later
// one, or nil when there is no such token. A retry of the same use (same
// nonce, after a lost reply) counts as the first use again, so a network
// blip cannot turn a legitimate refresh into a replay.
var useScript = redis.NewScript(`
local rec = redis.call('HGET', KEYS[1], 'record')
if not rec then
  return false
end
if redis.call('HSETNX', KEYS[1], 'used', ARGV[1]) == 1 then
  return {rec, 1}
end
if redis.call('HGET', KEYS[1], 'used') == ARGV[1] then
  return {rec, 1}
end
return {rec, 0}
`)

// UseRefresh implements [Store.UseRefresh]. Marking the token used is one
// script on the token's key; the family check is a second round trip, made
// after the mark, because the family's key may live on another Cluster
// node. A revocation that races with a use is thus either before it (the use
// fails) or after it.
func (s *Redis) UseRefresh(ctx context.Context, hash string) (Refresh, error) {
	nonce := make([]byte, useNonceBytes)
	_, _ = rand.Read(nonce) // never fails
	res, err := useScript.Run(ctx, s.client, []string{refreshPrefix + hash}, hex.EncodeToString(nonce)).Slice()
	if errors.Is(err, redis.Nil) {
		return Refresh{}, fmt.Errorf("use refresh token: %w", ErrNotFound)
	}
	if err != nil {
		return Refresh{}, fmt.Errorf("use refresh token: %w", err)
	}
	if len(res) != 2 {
		return Refresh{}, fmt.Errorf("use refresh token: script returned %d values, want 2", len(res))
	}
	recJSON, _ := res[0].(string)
	first, _ := res[1].(int64)
	var rec Refresh
	if err := json.Unmarshal([]byte(recJSON), &rec); err != nil {
		return Refresh{}, fmt.Errorf("use refresh token: decode record: %w", err)
	}
	// Redis expires the key; a slightly late expiry must not let a token
	// outlive its record.
	if !time.Now().Before(rec.Expires) {
		return Refresh{}, fmt.Errorf("use refresh token: %w", ErrNotFound)
	}
	revoked, err := s.client.Exists(ctx, familyRevokedPrefix+rec.Family).Result()
	if err != nil {
		return Refresh{}, fmt.Errorf("use refresh token: check family: %w", err)
	}
	if revoked > 0 {
		return Refresh{}, fmt.Errorf("use refresh token: family revoked: %w", ErrNotFound)
	}
	if first != 1 {
		return rec, fmt.Errorf("use refresh token: %w", ErrReused)
	}
	return rec, nil
}

// revokeScript sets KEYS[1] to "1" for ARGV[1] milliseconds unless it is
// already set for at least as long (or forever), so revoking again never
// shortens a revocation.
var revokeScript = redis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or ttl >= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return 1
`)

// revoke runs revokeScript on key for ttl; ttl <= 0 does nothing.
func (s *Redis) revoke(ctx context.Context, key string, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	return revokeScript.Run(ctx, s.client, []string{key}, millis(ttl)).Err()
}

// RevokeFamily implements [Store.RevokeFamily].
func (s *Redis) RevokeFamily(ctx context.Context, family string, ttl time.Duration) error {
	if family == "" {
		return errors.New("revoke refresh token family: empty family")
	}
	if err := s.revoke(ctx, familyRevokedPrefix+family, ttl); err != nil {
		return fmt.Errorf("revoke refresh token family %q: %w", family, err)
	}
	return nil
}

// RevokeToken implements [Store.RevokeToken].
func (s *Redis) RevokeToken(ctx context.Context, jti string, ttl time.Duration) error {
	if jti == "" {
		return errors.New("revoke token: empty jti")
	}
	if err := s.revoke(ctx, tokenRevokedPrefix+jti, ttl); err != nil {
		return fmt.Errorf("revoke token %q: %w", jti, err)
	}
	return nil
}

// IsRevoked implements [Store.IsRevoked].
func (s *Redis) IsRevoked(ctx context.Context, jti string) (bool, error) {
	n, err := s.client.Exists(ctx, tokenRevokedPrefix+jti).Result()
	if err != nil {
		return false, fmt.Errorf("check token %q: %w", jti, err)
	}
	return n > 0, nil
}

// Ping implements [Store.Ping]. In Cluster mode it pings one node.
func (s *Redis) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Kind returns [KindRedis].
func (s *Redis) Kind() string { return KindRedis }

// Close closes the client.
func (s *Redis) Close() error {
	s.closeOnce.Do(func() {
		if err := s.client.Close(); err != nil {
			s.closeErr = fmt.Errorf("close redis client: %w", err)
		}
	})
	return s.closeErr
}
