package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
)

// The key dump format ("tarsctl-redis-keys", version 1) is JSON Lines:
//
//	{"format":"tarsctl-redis-keys","version":1,"db":0,"redis_version":"7.0.15","time_ms":1764288000000}
//	{"k":"<key, base64>","v":"<DUMP payload, base64>","x":1764291600000}
//	...
//	{"end":true,"keys":2}
//
// One record per key: the key, its DUMP serialization, and "x", the Unix
// time in milliseconds at which it expires (absent when it does not). The
// end record makes a cut-short dump detectable on its own. A DUMP payload
// restores with RESTORE into a Redis of the same or a newer version.
const (
	keyDumpVersion = 1
	// keyBatch is how many keys go in one SCAN and one pipeline.
	keyBatch = 1000
)

type keyDumpHeader struct {
	Format       string `json:"format"`
	Version      int    `json:"version"`
	DB           int    `json:"db"`
	RedisVersion string `json:"redis_version"`
	TimeMS       int64  `json:"time_ms"`
}

type keyRecord struct {
	Key      []byte `json:"k,omitempty"`
	Value    []byte `json:"v,omitempty"`
	ExpireAt int64  `json:"x,omitempty"`
	End      bool   `json:"end,omitempty"`
	Keys     int64  `json:"keys,omitempty"`
}

// RedisKeysSource dumps one Redis database key by key: SCAN for the keys,
// then DUMP and PTTL for each, pipelined. Unlike the RDB, the result
// restores into any running Redis of the same or a newer version,
// including a managed one, without touching its disk. The dump is not a
// point-in-time snapshot: keys written while it runs may or may not be in
// it. Keys that expire or are deleted during the dump are left out.
type RedisKeysSource struct {
	Conn RedisConn
}

var _ Source = (*RedisKeysSource)(nil)

// Spec describes the part.
func (s *RedisKeysSource) Spec() PartSpec {
	return PartSpec{Name: "redis-keys", Kind: KindRedisKeys, Format: FormatRedisKeys, Source: s.Conn.String(), Ext: ".jsonl", Compress: true}
}

// Dump writes the key dump to w.
func (s *RedisKeysSource) Dump(ctx context.Context, w io.Writer) (DumpResult, error) {
	var res DumpResult
	c, err := s.Conn.client()
	if err != nil {
		return res, err
	}
	defer c.Close()
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return res, redisFailure(err, s.Conn, "INFO")
	}
	res.ServerVersion = infoField(info, "redis_version")
	now, err := c.Time(ctx).Result()
	if err != nil {
		return res, redisFailure(err, s.Conn, "TIME")
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(keyDumpHeader{Format: FormatRedisKeys, Version: keyDumpVersion, DB: s.Conn.Server.DB, RedisVersion: res.ServerVersion, TimeMS: now.UnixMilli()}); err != nil {
		return res, err
	}
	// SCAN may return a key more than once while the keyspace is rehashed.
	seen := map[string]struct{}{}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "*", keyBatch).Result()
		if err != nil {
			return res, redisFailure(err, s.Conn, "SCAN")
		}
		fresh := keys[:0]
		for _, k := range keys {
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				fresh = append(fresh, k)
			}
		}
		if len(fresh) > 0 {
			n, err := dumpKeys(ctx, c, fresh, enc)
			if err != nil {
				return res, redisFailure(err, s.Conn, "DUMP")
			}
			res.Entries += n
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	if err := enc.Encode(keyRecord{End: true, Keys: res.Entries}); err != nil {
		return res, err
	}
	return res, bw.Flush()
}

// dumpKeys writes a record per key that still exists.
func dumpKeys(ctx context.Context, c *redis.Client, keys []string, enc *json.Encoder) (int64, error) {
	pipe := c.Pipeline()
	tm := pipe.Time(ctx)
	dumps := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	for i, k := range keys {
		dumps[i] = pipe.Dump(ctx, k)
		ttls[i] = pipe.PTTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}
	now, err := tm.Result()
	if err != nil {
		return 0, err
	}
	var n int64
	for i, k := range keys {
		v, err := dumps[i].Bytes()
		if errors.Is(err, redis.Nil) {
			continue // deleted or expired since SCAN
		}
		if err != nil {
			return n, err
		}
		ttl, err := ttls[i].Result()
		if err != nil {
			return n, err
		}
		rec := keyRecord{Key: []byte(k), Value: v}
		switch {
		case ttl == -2: // gone between DUMP and PTTL
			continue
		case ttl >= 0:
			rec.ExpireAt = now.UnixMilli() + ttl.Milliseconds()
		}
		if err := enc.Encode(rec); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// readKeyDump reads a key dump, calling fn for each record, and checks the
// header and the end record.
func readKeyDump(ctx context.Context, r io.Reader, fn func(keyRecord) error) (keyDumpHeader, int64, error) {
	var h keyDumpHeader
	br := bufio.NewReaderSize(r, 256<<10)
	line := 0
	next := func() ([]byte, error) {
		line++
		b, err := br.ReadBytes('\n')
		if err == io.EOF && len(b) > 0 {
			err = nil
		}
		return b, err
	}
	b, err := next()
	if err != nil {
		return h, 0, fmt.Errorf("%w: key dump: no header: %v", ErrCorrupt, err)
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Format != FormatRedisKeys {
		return h, 0, fmt.Errorf("%w: key dump line 1 is not a %s header", ErrCorrupt, FormatRedisKeys)
	}
	if h.Version != keyDumpVersion {
		return h, 0, fmt.Errorf("%w: key dump version %d; this tarsctl reads version %d", ErrCorrupt, h.Version, keyDumpVersion)
	}
	var n int64
	for {
		b, err := next()
		if err == io.EOF {
			return h, n, fmt.Errorf("%w: key dump ends after %d keys without its end record: it was cut short", ErrCorrupt, n)
		}
		if err != nil {
			return h, n, err
		}
		var rec keyRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return h, n, fmt.Errorf("%w: key dump line %d: %v", ErrCorrupt, line, err)
		}
		if rec.End {
			if rec.Keys != n {
				return h, n, fmt.Errorf("%w: key dump holds %d keys, its end record says %d", ErrCorrupt, n, rec.Keys)
			}
			if extra, _ := br.Peek(1); len(extra) > 0 {
				return h, n, fmt.Errorf("%w: key dump has data after its end record", ErrCorrupt)
			}
			return h, n, nil
		}
		if len(rec.Key) == 0 || len(rec.Value) == 0 {
			return h, n, fmt.Errorf("%w: key dump line %d: a record without key or value", ErrCorrupt, line)
		}
		if err := fn(rec); err != nil {
			return h, n, err
		}
		n++
		if n%keyBatch == 0 {
			if err := ctx.Err(); err != nil {
				return h, n, err
			}
		}
	}
}

// checkKeyDump checks a key dump and returns how many keys it holds.
func checkKeyDump(ctx context.Context, r io.Reader) (int64, error) {
	_, n, err := readKeyDump(ctx, r, func(keyRecord) error { return nil })
	return n, err
}

// RedisKeysTarget restores a key dump into a running Redis with RESTORE
// (pipelined), keeping each key's expiry time (ABSTTL, Redis 5 and later):
// keys that expired since the backup are not restored, and are counted in
// the result's note. The database must be empty unless Force is set; with
// Force, keys in the dump replace keys of the same name (REPLACE) and other
// keys stay.
type RedisKeysTarget struct {
	Conn  RedisConn
	Force bool
}

var _ Target = (*RedisKeysTarget)(nil)

func (t *RedisKeysTarget) Kind() string   { return KindRedisKeys }
func (t *RedisKeysTarget) String() string { return t.Conn.String() }

// Prepare checks that the database is reachable and empty.
func (t *RedisKeysTarget) Prepare(ctx context.Context) error {
	c, err := t.Conn.client()
	if err != nil {
		return err
	}
	defer c.Close()
	n, err := c.DBSize(ctx).Result()
	if err != nil {
		return redisFailure(err, t.Conn, "DBSIZE")
	}
	if n > 0 && !t.Force {
		return fmt.Errorf("%w: database %d holds %d keys; restore into an empty database, or overwrite with force", ErrTargetNotEmpty, t.Conn.Server.DB, n)
	}
	return nil
}

// Restore restores the keys.
func (t *RedisKeysTarget) Restore(ctx context.Context, r io.Reader, _ Part) (Restored, error) {
	c, err := t.Conn.client()
	if err != nil {
		return Restored{}, err
	}
	defer c.Close()
	var (
		batch    []keyRecord
		restored int64
		expired  int64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		now, err := c.Time(ctx).Result()
		if err != nil {
			return redisFailure(err, t.Conn, "TIME")
		}
		pipe := c.Pipeline()
		cmds := make([]*redis.Cmd, 0, len(batch))
		for _, rec := range batch {
			args := []any{"RESTORE", rec.Key, rec.ExpireAt, rec.Value}
			if rec.ExpireAt > 0 {
				args = append(args, "ABSTTL")
				if rec.ExpireAt <= now.UnixMilli() {
					expired++ // RESTORE answers OK and creates nothing
				}
			}
			if t.Force {
				args = append(args, "REPLACE")
			}
			cmds = append(cmds, pipe.Do(ctx, args...))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			for i, cmd := range cmds {
				if cmd.Err() != nil {
					return redisFailure(cmd.Err(), t.Conn, fmt.Sprintf("RESTORE %q", batch[i].Key))
				}
			}
			return redisFailure(err, t.Conn, "RESTORE")
		}
		restored += int64(len(batch))
		batch = batch[:0]
		return nil
	}
	_, _, err = readKeyDump(ctx, r, func(rec keyRecord) error {
		batch = append(batch, rec)
		if len(batch) == keyBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return Restored{}, err
	}
	if err := flush(); err != nil {
		return Restored{}, err
	}
	res := Restored{Entries: restored - expired, Skipped: expired, Note: fmt.Sprintf("%d keys", restored-expired)}
	if expired > 0 {
		res.Note = fmt.Sprintf("%d keys; %d keys had expired since the backup and were not restored", restored-expired, expired)
	}
	return res, nil
}
