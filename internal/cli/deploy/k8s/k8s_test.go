package k8s

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
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

func TestTargetFlagsRejectClusterFlagsForLocal(t *testing.T) {
	t.Parallel()
	var tf TargetFlags
	var isK8s bool
	cmd := &cobra.Command{Use: "x", RunE: func(c *cobra.Command, _ []string) (err error) { isK8s, err = tf.K8s(c); return err }}
	tf.AddTargetFlags(cmd)
	cmd.SetArgs([]string{"-n", "prod"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--namespace is for --target k8s") {
		t.Errorf("err = %v", err)
	}
	cmd.SetArgs([]string{"-n", "prod", "--target", "k8s"})
	if err := cmd.Execute(); err != nil || !isK8s || tf.Conn.Namespace != "prod" || tf.Release != "tars" {
		t.Errorf("k8s: %v %v %+v", err, isK8s, tf)
	}
}

func TestFindCompanion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "tarsctl")
	companion := filepath.Join(dir, CompanionName)
	for _, p := range []string{exe, companion} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	noenv := func(string) string { return "" }
	executable := func() (string, error) { return exe, nil }
	noPath := func(string) (string, error) { return "", errors.New("not found") }

	if p, _, err := FindCompanion(noenv, executable, noPath); err != nil || p != companion {
		t.Errorf("next to tarsctl: %q, %v", p, err)
	}
	other := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{EnvCompanion: other}[k] }
	if p, _, err := FindCompanion(env, executable, noPath); err != nil || p != other {
		t.Errorf("$TARSCTL_K8S: %q, %v", p, err)
	}
	lonely := func() (string, error) { return filepath.Join(t.TempDir(), "tarsctl"), nil }
	onPath := func(string) (string, error) { return "/opt/bin/tarsctl-k8s", nil }
	if p, _, err := FindCompanion(noenv, lonely, onPath); err != nil || p != "/opt/bin/tarsctl-k8s" {
		t.Errorf("$PATH: %q, %v", p, err)
	}
	_, looked, err := FindCompanion(noenv, lonely, noPath)
	var exit *cmdutil.ExitError
	if !errors.As(err, &exit) || exit.Code != cmdutil.ExitUnreachable || len(looked) != 2 ||
		!strings.Contains(err.Error(), "$PATH") || !strings.Contains(strings.Join(cmdutil.Hints(err), " "), "same release archive") {
		t.Errorf("missing: %v (looked %v, hints %v)", err, looked, cmdutil.Hints(err))
	}
	bad := func(k string) string { return map[string]string{EnvCompanion: filepath.Join(dir, "nope")}[k] }
	if _, _, err := FindCompanion(bad, executable, onPath); err == nil || !strings.Contains(err.Error(), "$TARSCTL_K8S") {
		t.Errorf("a wrong $TARSCTL_K8S must not fall back: %v", err)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		code int
	}{
		{k8sapi.ErrUnreachable, cmdutil.ExitUnreachable},
		{k8sapi.ErrTimeout, cmdutil.ExitTimeout},
		{context.DeadlineExceeded, cmdutil.ExitTimeout},
		{k8sapi.ErrForbidden, cmdutil.ExitPermission},
		{k8sapi.ErrBadInput, cmdutil.ExitUsage},
		{k8sapi.ErrNotFound, cmdutil.ExitFailure},
		{errors.New("other"), cmdutil.ExitFailure},
	} {
		var exit *cmdutil.ExitError
		if err := Classify(tt.err); !errors.As(err, &exit) || exit.Code != tt.code {
			t.Errorf("Classify(%v) = %v, want exit %d", tt.err, err, tt.code)
		}
	}
}

func TestIsKubernetesCommandLine(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]bool{
		"deploy k8s install":                 true,
		"scale x --replicas 2":               true,
		"restart x --target k8s":             true,
		"status --target=k8s":                true,
		"-test.run=TestX -test.v":            false,
		"restart x --target local -n k8s-ns": false,
	} {
		if got := isKubernetesCommandLine(strings.Fields(args)); got != want {
			t.Errorf("%q: %v, want %v", args, got, want)
		}
	}
}
