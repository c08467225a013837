package k8s

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// ReleaseOptions are the inputs of the `deploy k8s` verbs.
type ReleaseOptions struct {
	IO      *iostreams.IOStreams
	Runner  func() (k8srunner.Runner, error)
	Request k8sapi.ReleaseRequest
	Output  string
	Quiet   bool
	Yes     bool
	Now     func() time.Time
}

func newReleaseOptions(f *cmdutil.Factory) *ReleaseOptions {
	now := f.Now
	if now == nil {
		now = time.Now
	}
	return &ReleaseOptions{IO: f.IOStreams, Runner: cmdutil.K8sRunner, Now: now}
}

// complete copies the connection flags and the global flags in, at RunE
// time (after cobra parsed them).
func (o *ReleaseOptions) complete(f *cmdutil.Factory, conn *connFlags) error {
	o.Request.Target = conn.Target
	o.Request.Release = conn.Release
	o.Request.Profile = profileFor(f)
	o.Output, o.Quiet = f.Globals.Output, f.Globals.Quiet
	if o.Request.Release == "" {
		return cmdutil.FlagErrorf("--release must not be empty")
	}
	if o.Request.Timeout < 0 {
		return cmdutil.FlagErrorf("--timeout must not be negative")
	}
	return nil
}

// addValueFlags adds --values and --set-value.
func addValueFlags(cmd *cobra.Command, req *k8sapi.ReleaseRequest) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&req.ValueFiles, "values", "f", nil, "a YAML values file merged over the profile's values (repeatable; later files win)")
	fl.StringArrayVar(&req.SetValues, "set-value", nil, "set a chart value, Helm --set syntax, highest precedence (repeatable): --set-value dashboardApi.replicas=3\n(--set is tarsctl's global flag for configuration keys)")
	_ = cmd.RegisterFlagCompletionFunc("values", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
	})
}

// addWaitFlags adds --wait and --timeout.
func addWaitFlags(cmd *cobra.Command, req *k8sapi.ReleaseRequest, what string) {
	cmd.Flags().BoolVar(&req.Wait, "wait", false, "wait until "+what+" (Deployments available, pods ready) or --timeout (exit 6)")
	cmd.Flags().DurationVar(&req.Timeout, "timeout", 5*time.Minute, "how long each Kubernetes operation (and --wait) may take")
}

// run gets the runner (in tarsctl: hands over to tarsctl-k8s and does not
// return) and calls do with it.
func (o *ReleaseOptions) run(ctx context.Context, do func(context.Context, k8srunner.Runner) error) error {
	r, err := o.Runner()
	if err != nil {
		return err
	}
	return cmdutil.ClassifyK8s(do(ctx, r))
}

func (o *ReleaseOptions) status() *ui.Status {
	return ui.NewStatus(o.IO, o.Quiet || o.Output == cmdutil.OutputJSON)
}

// printRelease writes a release as text or JSON to stdout.
func printRelease(o *ReleaseOptions, rel *k8sapi.Release) error {
	if o.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(o.IO.Out, rel)
	}
	w := o.IO.Out
	updated := rel.Updated.UTC().Format(time.RFC3339)
	fmt.Fprintf(w, "NAME: %s\nNAMESPACE: %s\nREVISION: %d\nSTATUS: %s\nCHART: %s\nAPP VERSION: %s\nLAST DEPLOYED: %s\nDESCRIPTION: %s\n",
		rel.Name, rel.Namespace, rel.Revision, rel.Status, rel.Chart, rel.AppVersion, updated, rel.Description)
	if rel.Notes != "" {
		fmt.Fprintf(w, "NOTES:\n%s\n", rel.Notes)
	}
	return nil
}

// printManifest writes a rendered manifest (dry runs, template).
func printManifest(w io.Writer, rel *k8sapi.Release) error {
	_, err := io.WriteString(w, rel.Manifest)
	return err
}
