package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/deploy/vault"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// Sinks of `secrets generate`: files (the default: --dir and --format) or a
// Vault KV v2 path.
const (
	sinkFiles = "files"
	sinkVault = "vault"
)

// VaultSinkOptions are the --vault-* flags of `secrets generate --sink vault`.
// The token is never a flag value: it comes from $VAULT_TOKEN or a file.
type VaultSinkOptions struct {
	Addr      string // --vault-addr, default $VAULT_ADDR
	Path      string // --vault-path MOUNT/PATH
	Mount     string // --vault-mount, for mounts with a slash in their path
	TokenFile string // --vault-token-file
}

// addSinkFlags registers --sink and the --vault-* flags.
func addSinkFlags(cmd *cobra.Command, opts *GenerateOptions) {
	fl := cmd.Flags()
	fl.StringVar(&opts.Sink, "sink", sinkFiles, "where the secrets go: files (--dir, --format) or vault (a KV v2 path)")
	fl.StringVar(&opts.Vault.Addr, "vault-addr", "", "with --sink vault: Vault's address (default $VAULT_ADDR)")
	fl.StringVar(&opts.Vault.Path, "vault-path", vault.DefaultKVPath, "with --sink vault: KV v2 MOUNT/PATH the secrets go under")
	fl.StringVar(&opts.Vault.Mount, "vault-mount", "", "with --sink vault: the KV v2 mount, when its path has a slash (default: asked from Vault)")
	fl.StringVar(&opts.Vault.TokenFile, "vault-token-file", "", "with --sink vault: file holding the Vault token (default $VAULT_TOKEN)")
	cmdutil.EnumFlag(cmd, "sink", sinkFiles, sinkVault)
	_ = cmd.MarkFlagFilename("vault-token-file")
}

// checkSinkFlags rejects flags that do not go with the chosen sink.
func checkSinkFlags(cmd *cobra.Command, opts *GenerateOptions) error {
	if opts.Sink == sinkVault {
		for _, name := range []string{"dir", "format", "stdout", "namespace"} {
			if cmd.Flags().Changed(name) {
				return cmdutil.FlagErrorf("--%s is for --sink files; --sink vault writes to --vault-path", name)
			}
		}
		if opts.Vault.Addr == "" {
			opts.Vault.Addr = os.Getenv("VAULT_ADDR")
		}
		if opts.Vault.Addr == "" {
			return cmdutil.FlagErrorf("--sink vault needs Vault's address: pass --vault-addr URL or set VAULT_ADDR")
		}
		if _, err := vault.ParseKVPath(opts.Vault.Path, opts.Vault.Mount); err != nil {
			return cmdutil.FlagErrorf("--vault-path: %v", err)
		}
		return nil
	}
	for _, name := range []string{"vault-addr", "vault-path", "vault-mount", "vault-token-file"} {
		if cmd.Flags().Changed(name) {
			return cmdutil.FlagErrorf("--%s is for --sink vault", name)
		}
	}
	return nil
}

// vaultToken reads the token from --vault-token-file, else $VAULT_TOKEN.
func vaultToken(opts *VaultSinkOptions) (string, error) {
	if opts.TokenFile != "" {
		b, err := os.ReadFile(opts.TokenFile)
		if err != nil {
			return "", cmdutil.FlagErrorf("--vault-token-file: %v", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			return "", cmdutil.FlagErrorf("--vault-token-file %s: want one token on one line", opts.TokenFile)
		}
		return tok, nil
	}
	if tok := strings.TrimSpace(os.Getenv("VAULT_TOKEN")); tok != "" {
		return tok, nil
	}
	return "", cmdutil.WithExitCode(cmdutil.ExitPermission, cmdutil.WithHint(
		errors.New("no Vault token: set VAULT_TOKEN or pass --vault-token-file FILE"),
		"the token needs create and update on MOUNT/data/PATH/* and read on MOUNT/metadata/PATH/*"))
}

// vaultSinkRun generates a set and writes it to Vault.
func vaultSinkRun(ctx context.Context, opts *GenerateOptions) error {
	token, err := vaultToken(&opts.Vault)
	if err != nil {
		return err
	}
	kvp, err := vault.ParseKVPath(opts.Vault.Path, opts.Vault.Mount)
	if err != nil {
		return cmdutil.FlagErrorf("--vault-path: %v", err)
	}
	client, err := vault.NewClient(opts.Vault.Addr, token)
	if err != nil {
		return cmdutil.FlagErrorf("--vault-addr: %v", err)
	}
	kvp, _, err = client.MountOf(ctx, kvp)
	if err != nil {
		return vaultError(err, kvp)
	}
	set, err := secrets.Generate(secrets.Options{RSABits: opts.RSABits})
	if err != nil {
		return err
	}
	written, err := client.WriteSet(ctx, set, vault.WriteOptions{Path: kvp, Force: opts.Force})
	if err != nil {
		if len(written) > 0 {
			err = fmt.Errorf("%w (%d of %d entries were written before the error)", err, len(written), len(vault.Entries()))
		}
		return vaultError(err, kvp)
	}
	aesID := crypto.KeyID(set.AESKey)
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, map[string]any{
			"sink": sinkVault, "addr": client.Addr(), "mount": kvp.Mount, "path": kvp.Prefix,
			"secrets": written, "aes_key_id": aesID,
		})
	}
	for _, w := range written {
		fmt.Fprintf(opts.IO.Out, "%s\tversion %d\t%s\n", w.Path, w.Version, strings.Join(w.Fields, ","))
	}
	ui.NewStatus(opts.IO, opts.Quiet).Success("Wrote %d secret(s) to Vault at %s under %s (AES key %s)",
		len(written), client.Addr(), kvp, aesID)
	return nil
}

// vaultError maps the domain's errors to exit codes and hints.
func vaultError(err error, p vault.KVPath) error {
	switch {
	case errors.Is(err, vault.ErrUnreachable), errors.Is(err, vault.ErrSealed):
		return cmdutil.Unreachable(cmdutil.WithHint(err, "check --vault-addr (or VAULT_ADDR) and that Vault is running and unsealed"))
	case errors.Is(err, vault.ErrPermission):
		return cmdutil.PermissionDenied(cmdutil.WithHint(err, fmt.Sprintf(
			"the token needs create and update on %s and read on %s (and a valid, unexpired token)",
			p.Data("*"), p.Metadata("*"))))
	case errors.Is(err, vault.ErrNotKVv2):
		return cmdutil.WithExitCode(cmdutil.ExitUsage, cmdutil.WithHint(err, fmt.Sprintf(
			"upgrade the mount with `vault kv enable-versioning %s/`, or pass a --vault-path on a KV v2 mount", p.Mount)))
	case errors.Is(err, vault.ErrNoMount):
		return cmdutil.Failed(cmdutil.WithHint(err, fmt.Sprintf(
			"enable a KV v2 engine there with `vault secrets enable -path=%s kv-v2`, or pass another --vault-path", p.Mount)))
	case errors.Is(err, vault.ErrExists):
		return cmdutil.Failed(cmdutil.WithHint(err,
			"pass --force to write new versions (the old ones stay in Vault's version history; services using them must be restarted)"))
	}
	return cmdutil.Failed(err)
}
