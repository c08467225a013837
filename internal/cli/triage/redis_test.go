package triage

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/redisconn"
	"github.com/tars-ops/tarsctl/internal/testenv"
	"github.com/tars-ops/tarsctl/internal/triage"
)

func TestRateLimitAndSessions(t *testing.T) {
	t.Parallel()
	srv := testenv.SharedRedis(t)
	ctx := context.Background()
	e := redisconn.Endpoint{Addrs: []string{srv.Addr}, DB: 3}
	c, err := triage.NewRedisClient(e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.FlushDB(context.Background()); c.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, "rate_limit:10.1.2.3", 150, time.Minute).Err())
	must(c.Set(ctx, "rate_limit:login:10.1.2.3", 7, time.Minute).Err())
	must(c.Set(ctx, "rate_limit:global", 900, time.Minute).Err())
	for hash, fam := range map[string]string{"h1": "f1", "h2": "f1", "h3": "f2"} {
		rec, _ := json.Marshal(map[string]any{"username": "a", "family": fam, "expires": time.Now().Add(time.Hour)})
		must(c.HSet(ctx, "refresh:"+hash, "record", string(rec)).Err())
	}
	open := func(context.Context) (*redis.Client, error) {
		return triage.NewRedisClient(e)
	}
	run := func(cmd func(*cmdutil.Factory) *cobra.Command, output string, args ...string) (string, error) {
		ios, _, out, _ := iostreams.Test()
		f := &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: output}}
		cc := cmd(f)
		cc.SetArgs(args)
		cc.SilenceErrors, cc.SilenceUsage = true, true
		err := cc.Execute()
		return out.String(), err
	}
	show := func(f *cmdutil.Factory) *cobra.Command { return NewCmdRateLimitShow(f, open) }
	reset := func(f *cmdutil.Factory) *cobra.Command { return NewCmdRateLimitReset(f, open) }
	revoke := func(f *cmdutil.Factory) *cobra.Command { return NewCmdRevokeAll(f, open) }

	out, err := run(show, "json", "10.1.2.3")
	if err != nil || !strings.Contains(out, `"key": "rate_limit:10.1.2.3"`) || !strings.Contains(out, `"count": 150`) || !strings.Contains(out, "login") {
		t.Fatalf("show IP: %v\n%s", err, out)
	}
	out, err = run(show, "text")
	if err != nil || !strings.HasPrefix(out, "rate_limit:global\t900") {
		t.Fatalf("show all: %v\n%s", err, out)
	}
	var fe *cmdutil.FlagError
	if _, err := run(reset, "text", "10.1.2.3"); !errors.As(err, &fe) {
		t.Fatalf("reset without --yes and no TTY: %v", err)
	}
	if _, err := run(reset, "text", "10.1.2.3", "--yes"); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, "rate_limit:10.1.2.3", "rate_limit:login:10.1.2.3").Val(); n != 0 {
		t.Fatalf("%d counters left after reset", n)
	}
	out, err = run(revoke, "json", "--dry-run")
	if err != nil || !strings.Contains(out, `"refresh_tokens": 3`) || c.Exists(ctx, "refresh:h1").Val() != 1 {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = run(revoke, "json", "--yes")
	if err != nil || !strings.Contains(out, `"sessions": 2`) || !strings.Contains(out, `"refresh_tokens": 3`) {
		t.Fatalf("revoke-all: %v\n%s", err, out)
	}
	if c.Exists(ctx, "refresh:h1", "refresh:h2", "refresh:h3").Val() != 0 ||
		c.Exists(ctx, "refresh_family_revoked:f1", "refresh_family_revoked:f2").Val() != 2 {
		t.Fatal("refresh tokens not revoked")
	}
	if c.Get(ctx, "rate_limit:global").Val() != "900" {
		t.Fatal("revoke-all touched the rate limits")
	}
}
