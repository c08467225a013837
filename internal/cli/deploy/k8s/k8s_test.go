package k8s

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
)

func testFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Globals: &cmdutil.GlobalFlags{Output: "text"}, Getenv: func(string) string { return "" }}
}

// execute runs the `deploy k8s` tree with a capturing runF on every verb.
func execute(t *testing.T, f *cmdutil.Factory, args string) (*ReleaseOptions, error) {
	t.Helper()
	var got *ReleaseOptions
	capture := func(_ context.Context, o *ReleaseOptions) error { got = o; return nil }
	conn := &connFlags{}
	root := &cobra.Command{Use: "k8s"}
	conn.register(root)
	root.AddCommand(NewCmdInstall(f, conn, capture), NewCmdUpgrade(f, conn, capture), NewCmdRollback(f, conn, capture),
		NewCmdUninstall(f, conn, capture), NewCmdStatus(f, conn, capture), NewCmdHistory(f, conn, capture), NewCmdTemplate(f, conn, capture))
	root.SetArgs(strings.Fields(args))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	root.SilenceErrors, root.SilenceUsage = true, true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	err := root.Execute()
	return got, err
}

func TestNewCmdReleaseVerbs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    string
		check   func(*ReleaseOptions) bool
		wantErr string
	}{
		{name: "install defaults", args: "install", check: func(o *ReleaseOptions) bool {
			return o.Request.Release == "tars" && o.Request.Timeout.String() == "5m0s" && !o.Request.Wait && o.Request.Namespace == ""
		}},
		{name: "install flags", args: "install -n p --release r --kube-context c --kubeconfig k -f a.yaml -f b.yaml --set-value x=1 --set-value y=2 --wait --timeout 1m --create-namespace --dry-run",
			check: func(o *ReleaseOptions) bool {
				r := o.Request
				return r.Namespace == "p" && r.Release == "r" && r.Context == "c" && r.Kubeconfig == "k" && strings.Join(r.ValueFiles, ",") == "a.yaml,b.yaml" &&
					strings.Join(r.SetValues, ",") == "x=1,y=2" && r.Wait && r.Timeout.String() == "1m0s" && r.CreateNamespace && r.DryRun
			}},
		{name: "rollback revision", args: "rollback 3 --yes", check: func(o *ReleaseOptions) bool { return o.Request.Revision == 3 && o.Yes }},
		{name: "rollback previous", args: "rollback --yes", check: func(o *ReleaseOptions) bool { return o.Request.Revision == 0 }},
		{name: "rollback bad revision", args: "rollback two --yes", wantErr: "REVISION must be a revision number"},
		{name: "rollback zero", args: "rollback 0 --yes", wantErr: "REVISION must be"},
		{name: "rollback needs yes", args: "rollback 2", wantErr: "needs --yes"},
		{name: "rollback dry run needs no yes", args: "rollback 2 --dry-run", check: func(o *ReleaseOptions) bool { return o.Request.DryRun }},
		{name: "uninstall needs yes", args: "uninstall", wantErr: "needs --yes"},
		{name: "uninstall keep history", args: "uninstall -y --keep-history", check: func(o *ReleaseOptions) bool { return o.Request.KeepHistory }},
		{name: "history max", args: "history --max 5", check: func(o *ReleaseOptions) bool { return o.Request.Max == 5 }},
		{name: "history negative max", args: "history --max -1", wantErr: "--max must not be negative"},
		{name: "empty release", args: "status --release=", wantErr: "--release must not be empty"},
		{name: "negative timeout", args: "upgrade --timeout -1s", wantErr: "--timeout must not be negative"},
		{name: "no args", args: "install extra", wantErr: "extra"},
		{name: "global --set is not a chart value", args: "install --set a=b", wantErr: "unknown flag: --set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := execute(t, testFactory(), tt.args)
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(got) {
				t.Errorf("options %+v", got.Request)
			}
		})
	}
}

func TestProfileComesFromTheGlobalFlagOrEnv(t *testing.T) {
	t.Parallel()
	f := testFactory()
	f.Getenv = func(k string) string { return map[string]string{"TARS_PROFILE": "staging"}[k] }
	got, err := execute(t, f, "template")
	if err != nil || got.Request.Profile != "staging" {
		t.Fatalf("profile %q, %v", got.Request.Profile, err)
	}
	f.Globals.Profile = "production"
	if got, _ = execute(t, f, "template"); got.Request.Profile != "production" {
		t.Errorf("--profile: %q", got.Request.Profile)
	}
}

func TestNewCmdScale(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ args, wantErr string }{
		{"hypersync --replicas 3 -n x", ""},
		{"hypersync", "--replicas N is required"},
		{"hypersync --replicas -1", "between 0 and 10000"},
		{"--replicas 2", "SERVICE"},
	} {
		var got *ScaleOptions
		cmd := NewCmdScale(testFactory(), func(_ context.Context, o *ScaleOptions) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(tt.args))
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Service != "hypersync" || got.Replicas != 3 || got.Target.Namespace != "x" {
			t.Errorf("%q: %+v, %v", tt.args, got, err)
		}
	}
}
