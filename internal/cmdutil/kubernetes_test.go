package cmdutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
)

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

func TestClassifyK8s(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		code int
		hint string
	}{
		{k8sapi.ErrUnreachable, ExitUnreachable, "--kubeconfig"},
		{k8sapi.ErrTimeout, ExitTimeout, "raise --timeout"},
		{context.DeadlineExceeded, ExitTimeout, ""},
		{k8sapi.ErrForbidden, ExitPermission, ""},
		{k8sapi.ErrBadInput, ExitUsage, ""},
		{k8sapi.ErrNotFound, ExitFailure, ""},
		{errors.New("other"), ExitFailure, ""},
		{&k8srunner.CompanionNotFoundError{Looked: []string{"/opt/tarsctl-k8s", "$PATH"}}, ExitUnreachable, "same release archive"},
		{fmt.Errorf("run x: %w", k8srunner.ErrCompanion), ExitUnreachable, ""},
		{k8srunner.ErrNotCommandLine, ExitFailure, ""},
		{Timeout(errors.New("kept")), ExitTimeout, ""},
	} {
		err := ClassifyK8s(tt.err)
		var exit *ExitError
		if !errors.As(err, &exit) || exit.Code != tt.code {
			t.Errorf("ClassifyK8s(%v) = %v, want exit %d", tt.err, err, tt.code)
		}
		if hints := strings.Join(Hints(err), " "); !strings.Contains(hints, tt.hint) {
			t.Errorf("ClassifyK8s(%v): hints %q, want %q", tt.err, hints, tt.hint)
		}
	}
}
