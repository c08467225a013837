package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	dvault "github.com/tars-ops/tarsctl/internal/deploy/vault"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// RenderOptions are the inputs of `tarsctl deploy vault render`.
type RenderOptions struct {
	IO        *iostreams.IOStreams
	Params    dvault.Params
	KVPath    string
	KVMount   string
	OutputDir string
	Force     bool
	Output    string
	Quiet     bool
}

// NewCmdRender returns `tarsctl deploy vault render`.
func NewCmdRender(f *cmdutil.Factory, runF func(context.Context, *RenderOptions) error) *cobra.Command {
	opts := &RenderOptions{IO: f.IOStreams, Params: dvault.DefaultParams()}
	cmd := &cobra.Command{
		Use:   "render [--output-dir DIR] [--namespace NS] [--role NAME] [--kv-path MOUNT/PATH]",
		Short: "Write the Vault policy, Kubernetes auth role and pod annotations",
		Long: heredoc.Docf(`
			Render what the runbook's Enterprise-with-Vault deployment configures by
			hand, for the secrets that tarsctl secrets generate --sink vault writes
			(KV v2 entries under --kv-path: jwt-secret, aes-key, rsa-private,
			rsa-public, redis, database, admin):

			  POLICY.hcl            the ACL policy: read on MOUNT/data/PATH/* and
			                        MOUNT/metadata/PATH/*, deny on the admin password
			  ROLE-role.json        the auth/kubernetes/role/ROLE payload: bound to
			                        service account --service-account in --namespace
			  %[1]s        the vault CLI lines that apply both
			  %[2]s  the Vault Agent Injector annotations of a pod
			  %[3]s     the Helm chart's vault.* values for the same names

			Without --output-dir the files are printed to stdout, each after a
			"# ==> NAME <==" line; -o json prints them as one object. Nothing here
			is secret. Existing files are not replaced without --force.
		`, dvault.SetupFile, dvault.AnnotationsFile, dvault.ValuesFile),
		Example: heredoc.Doc(`
			$ tarsctl deploy vault render --output-dir vault/ --namespace tars-prod
			$ (cd vault && ./vault-setup.sh)
			$ tarsctl deploy vault render --kv-path kv/tars-staging --role tars-staging --namespace tars-staging
			$ tarsctl deploy vault render -o json | jq -r .policy
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			kv, err := dvault.ParseKVPath(opts.KVPath, opts.KVMount)
			if err != nil {
				return cmdutil.FlagErrorf("--kv-path: %v", err)
			}
			opts.Params.KV = kv
			if err := opts.Params.Validate(); err != nil {
				return cmdutil.FlagErrorf("%v", err)
			}
			if opts.Force && opts.OutputDir == "" {
				return cmdutil.FlagErrorf("--force is for --output-dir")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return renderRun(cmd.Context(), opts)
		},
	}
	p := &opts.Params
	fl := cmd.Flags()
	fl.StringVar(&opts.OutputDir, "output-dir", "", "directory to write the files to (default: print them)")
	fl.BoolVar(&opts.Force, "force", false, "replace existing files in --output-dir")
	fl.StringVar(&opts.KVPath, "kv-path", dvault.DefaultKVPath, "KV v2 MOUNT/PATH the secrets live under")
	fl.StringVar(&opts.KVMount, "kv-mount", "", "the KV v2 mount, when its path has a slash (default: the first segment of --kv-path)")
	fl.StringVar(&p.Namespace, "namespace", p.Namespace, "Kubernetes namespace of the release, bound in the role")
	fl.StringVar(&p.Role, "role", p.Role, "Kubernetes auth role name")
	fl.StringVar(&p.Policy, "policy", p.Policy, "ACL policy name")
	fl.StringVar(&p.ServiceAccount, "service-account", p.ServiceAccount, "service account the role is bound to (the chart's serviceAccount.name)")
	fl.StringVar(&p.TTL, "ttl", p.TTL, "TTL of the tokens the role issues")
	fl.StringVar(&p.AuthPath, "auth-path", p.AuthPath, "where the Kubernetes auth method is mounted")
	fl.StringVar(&p.KubernetesHost, "kubernetes-host", p.KubernetesHost, "the Kubernetes API address Vault checks service-account tokens with")
	fl.StringVar(&p.KubernetesCACert, "kubernetes-ca-cert", "", "PEM file of the cluster's CA, for a Vault outside the cluster (read by vault-setup.sh)")
	_ = cmd.MarkFlagDirname("output-dir")
	_ = cmd.MarkFlagFilename("kubernetes-ca-cert")
	return cmd
}

func renderRun(_ context.Context, opts *RenderOptions) error {
	r, err := dvault.Render(opts.Params)
	if err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	if opts.OutputDir == "" {
		if opts.Output == cmdutil.OutputJSON {
			return ui.WriteJSON(opts.IO.Out, r)
		}
		for i, f := range r.Files {
			if i > 0 {
				fmt.Fprintln(opts.IO.Out)
			}
			fmt.Fprintf(opts.IO.Out, "# ==> %s <==\n", f.Name)
			if _, err := opts.IO.Out.Write(f.Data); err != nil {
				return err
			}
		}
		return nil
	}
	if err := os.MkdirAll(opts.OutputDir, 0o755); err != nil {
		return cmdutil.Failed(fmt.Errorf("create %s: %w", opts.OutputDir, err))
	}
	if !opts.Force {
		for _, f := range r.Files {
			p := filepath.Join(opts.OutputDir, f.Name)
			if _, err := os.Lstat(p); err == nil {
				return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("%s already exists; nothing was written", p),
					"pass --force to replace the files, or choose another --output-dir"))
			}
		}
	}
	var paths []string
	for _, f := range r.Files {
		p := filepath.Join(opts.OutputDir, f.Name)
		err := atomicfile.WriteFile(p, f.Data, atomicfile.Options{Perm: fs.FileMode(f.Perm), NoOverwrite: !opts.Force})
		if errors.Is(err, atomicfile.ErrExists) {
			return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("%s appeared while writing: %w", p, err), "pass --force to replace it"))
		}
		if err != nil {
			return cmdutil.Failed(err)
		}
		paths = append(paths, p)
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, map[string]any{"dir": opts.OutputDir, "files": paths, "secret_paths": r.Secrets})
	}
	for _, p := range paths {
		fmt.Fprintln(opts.IO.Out, p)
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("Wrote %d file(s) to %s: run %s there to configure Vault",
		len(paths), filepath.Clean(opts.OutputDir), dvault.SetupFile)
	return nil
}
