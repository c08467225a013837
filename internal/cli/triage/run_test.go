package triage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

func TestNewCmdRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		want    RunOptions
		wantErr bool
	}{
		{"defaults", nil, RunOptions{Timeout: 10 * time.Second, Since: time.Hour}, false},
		{"flags", []string{"--check", "redis", "--check", "service", "--timeout", "2s", "--since", "30m", "--strict"},
			RunOptions{Checks: []string{"redis", "service"}, Timeout: 2 * time.Second, Since: 30 * time.Minute, Strict: true}, false},
		{"zero timeout", []string{"--timeout", "0s"}, RunOptions{}, true},
		{"argument", []string{"redis"}, RunOptions{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ios, _, _, _ := iostreams.Test()
			var got *RunOptions
			cmd := NewCmdRun(&cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{}}, func(_ context.Context, o *RunOptions) error {
				got = o
				return nil
			})
			cmd.SetArgs(tc.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			var fe *cmdutil.FlagError
			if tc.wantErr {
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Timeout != tc.want.Timeout || got.Since != tc.want.Since || got.Strict != tc.want.Strict || len(got.Checks) != len(tc.want.Checks) {
				t.Fatalf("opts = %+v, want %+v", got, tc.want)
			}
		})
	}
}
