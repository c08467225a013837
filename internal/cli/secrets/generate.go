package secrets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// GenerateOptions are the inputs of `tarsctl secrets generate`.
type GenerateOptions struct {
	IO        *iostreams.IOStreams
	Config    func() (*config.Config, error)
	Dir       string
	Format    string
	Namespace string
	Stdout    bool
	Force     bool
	RSABits   int
	Output    string
	Quiet     bool
	Sink      string           // sinkFiles or sinkVault (sink_vault.go)
	Vault     VaultSinkOptions // --vault-* flags
}

// NewCmdGenerate returns `tarsctl secrets generate`.
func NewCmdGenerate(f *cmdutil.Factory, runF func(context.Context, *GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{IO: f.IOStreams, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "generate [--dir DIR] [--format files|env|k8s]",
		Short: "Generate every secret a deployment needs",
		Long: heredoc.Doc(`
			Generate a fresh set of secrets (the runbook's generate_secrets.sh):

			  jwt_secret       32 random bytes, base64 (openssl rand -base64 32)
			  aes.key          AES-256 key, 64 hex digits (openssl rand -hex 32)
			  rsa_private.pem  RSA 4096 private key, PKCS#8 (0600)
			  rsa_public.pem   its public key (0644)
			  redis_password, db_password, admin_password
			                   32 random URL-safe characters each

			--format env writes DIR/.env (JWT_SECRET, AES_KEY, REDIS_PASSWORD,
			DATABASE_PASSWORD, ADMIN_PASSWORD, SIGNING_KEY, VERIFY_KEYS) and the RSA
			PEM files beside it. --format k8s writes DIR/tars-secrets.yaml, Secret
			manifests with the runbook's names (tars-jwt-secret, tars-aes-key,
			tars-rsa-keys, tars-redis, plus tars-database and tars-admin), or
			prints them to stdout with --stdout, for kubectl apply -f - or
			kubeseal.

			DIR defaults to the configured secrets directory (paths.secrets_dir).
			Files are 0600 (DIR 0700), written atomically; if any already exists
			nothing is written unless --force. Only file names and key ids are
			printed.

			--sink vault writes the same secrets to Vault instead, one KV v2 entry
			each under --vault-path (default secret/tars: secret/tars/jwt-secret,
			aes-key, rsa-private, rsa-public, redis, database, admin), with
			check-and-set so an existing entry is never replaced without --force.
			The token comes from $VAULT_TOKEN or --vault-token-file, never a flag
			value. See docs/vault.md.
		`),
		Example: heredoc.Doc(`
			$ tarsctl secrets generate --dir /etc/tars/secrets
			$ tarsctl secrets generate --dir . --format env
			$ tarsctl secrets generate --format k8s --namespace tars-prod --stdout | kubeseal -o yaml > sealed.yaml
			$ VAULT_ADDR=https://vault.company.com:8200 tarsctl secrets generate --sink vault --vault-path secret/tars
		`),
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output, opts.Quiet = f.Globals.Output, f.Globals.Quiet
			if err := checkSinkFlags(cmd, opts); err != nil {
				return err
			}
			if opts.Stdout && opts.Format != secrets.FormatK8s {
				return cmdutil.FlagErrorf("--stdout is for --format k8s")
			}
			if opts.Stdout && opts.Output == cmdutil.OutputJSON {
				return cmdutil.FlagErrorf("--stdout and -o json cannot be used together")
			}
			if opts.RSABits < keys.MinRSABits {
				return cmdutil.FlagErrorf("--rsa-bits %d is too small: use at least %d", opts.RSABits, keys.MinRSABits)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return generateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", "", "directory to write to (default paths.secrets_dir)")
	fl.StringVar(&opts.Format, "format", secrets.FormatFiles, "files, env or k8s")
	fl.StringVar(&opts.Namespace, "namespace", "tars-prod", "namespace of the k8s manifests")
	fl.BoolVar(&opts.Stdout, "stdout", false, "with --format k8s: print the manifests (secret values) to stdout instead of writing a file")
	fl.BoolVar(&opts.Force, "force", false, "replace existing files")
	fl.IntVar(&opts.RSABits, "rsa-bits", keys.DefaultRSABits, "RSA key size in bits")
	cmdutil.EnumFlag(cmd, "format", secrets.Formats...)
	addSinkFlags(cmd, opts)
	return cmd
}

func generateRun(ctx context.Context, opts *GenerateOptions) error {
	if opts.Sink == sinkVault {
		return vaultSinkRun(ctx, opts)
	}
	if opts.Dir == "" && !opts.Stdout {
		cfg, err := opts.Config()
		if err != nil {
			return err
		}
		opts.Dir = cfg.Paths.SecretsDirPath()
	}
	set, err := secrets.Generate(secrets.Options{RSABits: opts.RSABits})
	if err != nil {
		return err
	}
	if opts.Stdout {
		if opts.IO.IsStdoutTTY() {
			ui.NewStatus(opts.IO, opts.Quiet).Warning("printing secret values to the terminal")
		}
		_, err := opts.IO.Out.Write(set.K8s(opts.Namespace))
		return err
	}
	files, err := secrets.Write(set, secrets.WriteOptions{Dir: opts.Dir, Format: opts.Format, Namespace: opts.Namespace, Overwrite: opts.Force})
	if err != nil {
		if errors.Is(err, keys.ErrExists) {
			return cmdutil.Failed(cmdutil.WithHint(fmt.Errorf("%w; nothing was written", err), "pass --force to replace the existing secrets (services using them must be updated)"))
		}
		return err
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, map[string]any{"dir": opts.Dir, "format": opts.Format, "files": files})
	}
	st := ui.NewStatus(opts.IO, opts.Quiet)
	for _, fl := range files {
		fmt.Fprintf(opts.IO.Out, "%s\t%s\n", fl.Path, fl.Mode)
	}
	st.Success("Wrote %d file(s) to %s", len(files), filepath.Clean(opts.Dir))
	return nil
}
