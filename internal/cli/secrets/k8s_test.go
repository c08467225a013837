package secrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

// The Kubernetes side itself runs in tarsctl-k8s and is tested end to end
// in internal/cli/deploy/k8s; these check the flag plumbing here.
func TestRotateJWTTargetFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ args, wantErr string }{
		{"-n prod --yes", "--namespace is for --target k8s"},
		{"--release r --yes", "--release is for --target k8s"},
		{"--target k8s --username admin --password-stdin --yes", "--username is for the local target"},
		{"--target k8s --skip-verify --yes", "--skip-verify is for the local target"},
		{"--target k8s", "needs --yes when not on a terminal"},
		{"--target cloud --yes", "--target"},
	} {
		cmd := NewCmdRotateJWT(flagsFactory(), nil)
		if tt.args == "--target cloud --yes" {
			// Enum values are checked by the root's pre-run; here the
			// flag only has to be registered as an enum.
			if cmd.Annotations["tarsctl/enum/target"] != "local,k8s" {
				t.Errorf("--target is not an enum flag: %v", cmd.Annotations)
			}
			continue
		}
		wantUsageError(t, cmd, tt.args, tt.wantErr)
	}
}

func TestRotateRedisTargetFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ args, wantErr string }{
		{"--redis-addr 127.0.0.1:6379 --yes", "--redis-addr is for --target k8s"},
		{"--redis-user tars --yes", "--redis-user is for --target k8s"},
		{"-n prod --yes", "--namespace is for --target k8s"},
		{"--target k8s --yes", "needs --redis-addr"},
		{"--target k8s --redis-addr redis --yes", `--redis-addr "redis": want HOST:PORT`},
		{"--target k8s --redis-addr 127.0.0.1:6379 --timeout 0 --yes", "--timeout must be positive"},
		{"--target k8s --redis-addr 127.0.0.1:6379", "needs --yes when not on a terminal"},
		{"--target k8s --redis-addr 127.0.0.1:6379 --admin-user admin --yes", "--admin-user and --admin-password-file go together"},
	} {
		cmd := NewCmdRotateRedis(flagsFactory(), nil)
		wantUsageError(t, cmd, tt.args, tt.wantErr)
	}
}

// flagsFactory is a factory without a terminal, for flag checks.
func flagsFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}, Getenv: func(string) string { return "" }}
}

// wantUsageError runs cmd with args and wants a usage error holding want.
func wantUsageError(t *testing.T, cmd *cobra.Command, args, want string) {
	t.Helper()
	cmd.SetArgs(strings.Fields(args))
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
		t.Errorf("%q: err = %v, want usage error %q", args, err, want)
	}
}
