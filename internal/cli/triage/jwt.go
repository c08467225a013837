package triage

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/triage"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// NewCmdJWT returns the `tarsctl triage jwt` group.
func NewCmdJWT(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "jwt <command>", Short: "Inspect JSON Web Tokens"}
	cmdutil.GroupCommand(cmd)
	cmd.AddCommand(NewCmdJWTDecode(f, nil))
	return cmd
}

// JWTDecodeOptions are the inputs of `tarsctl triage jwt decode`.
type JWTDecodeOptions struct {
	IO  *iostreams.IOStreams
	Now func() time.Time

	Output     string
	Token      string
	SecretFile string
}

// NewCmdJWTDecode returns `tarsctl triage jwt decode`.
func NewCmdJWTDecode(f *cmdutil.Factory, runF func(context.Context, *JWTDecodeOptions) error) *cobra.Command {
	opts := &JWTDecodeOptions{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "decode <token|->",
		Short: "Show a token's header, claims and expiry",
		Long: heredoc.Doc(`
			Decode a JWT (or read it from stdin with -) and show its header, claims,
			and its issue and expiry times, local and relative. The signature is not
			verified unless --secret-file names the HS256 secret.

			EXIT STATUS
			  0  decoded (and verified with --secret-file)
			  1  the signature did not verify
			  2  not a JWT
		`),
		Example: heredoc.Doc(`
			$ tarsctl triage jwt decode "$TOKEN"
			$ pbpaste | tarsctl triage jwt decode - --secret-file ~/.local/share/tarsctl/secrets/jwt_secret
		`),
		Args: cmdutil.ExactArgs(1, "a token, or - for stdin"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Globals.Output
			opts.Token = args[0]
			if opts.Token == "-" {
				b, err := io.ReadAll(io.LimitReader(opts.IO.In, 64<<10))
				if err != nil {
					return fmt.Errorf("read token from stdin: %w", err)
				}
				opts.Token = string(b)
			}
			opts.Token = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(opts.Token), "Bearer "))
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return jwtDecodeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.SecretFile, "secret-file", "", "verify the HS256 signature with the secret in this file")
	return cmd
}

type jwtJSON struct {
	*triage.DecodedJWT
	Verified    bool   `json:"verified"`
	VerifyError string `json:"verify_error,omitempty"`
}

func jwtDecodeRun(_ context.Context, opts *JWTDecodeOptions) error {
	now := opts.Now()
	d, err := triage.DecodeJWT(opts.Token, now)
	if err != nil {
		return cmdutil.FlagErrorf("decode token: %v", err)
	}
	out := jwtJSON{DecodedJWT: d}
	if opts.SecretFile != "" {
		b, err := os.ReadFile(opts.SecretFile)
		if err != nil {
			return fmt.Errorf("read secret file: %w", err)
		}
		secret := []byte(strings.TrimRight(string(b), "\r\n"))
		// Verify the signature at the token's own time, so an expired but
		// genuine token still reports a good signature.
		at := now
		if d.ExpiresAt != nil && !now.Before(*d.ExpiresAt) {
			at = d.ExpiresAt.Add(-time.Second)
		}
		signer, err := auth.NewSigner(secret, time.Hour, func() time.Time { return at })
		if err != nil {
			return cmdutil.FlagErrorf("--secret-file: %v", err)
		}
		if _, err := signer.Verify(opts.Token); err != nil {
			out.VerifyError = err.Error()
		} else {
			out.Verified = true
		}
	}
	if opts.Output == cmdutil.OutputJSON {
		if err := ui.WriteJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		w := opts.IO.Out
		fmt.Fprintln(w, "header:")
		printMap(w, d.Header)
		fmt.Fprintln(w, "claims:")
		printMap(w, d.Claims)
		if d.IssuedAt != nil {
			fmt.Fprintf(w, "issued:   %s (%s)\n", d.IssuedAt.Local().Format(time.RFC3339), triage.Relative(*d.IssuedAt, now))
		}
		switch {
		case d.ExpiresAt == nil:
			fmt.Fprintln(w, "expires:  never (no exp claim)")
		case d.Expired:
			fmt.Fprintf(w, "expires:  %s (EXPIRED %s)\n", d.ExpiresAt.Local().Format(time.RFC3339), triage.Relative(*d.ExpiresAt, now))
		default:
			fmt.Fprintf(w, "expires:  %s (%s)\n", d.ExpiresAt.Local().Format(time.RFC3339), triage.Relative(*d.ExpiresAt, now))
		}
		switch {
		case opts.SecretFile == "":
			fmt.Fprintln(w, "signature: NOT VERIFIED (give --secret-file to verify)")
		case out.Verified:
			fmt.Fprintln(w, "signature: verified")
		default:
			fmt.Fprintf(w, "signature: INVALID (%s)\n", out.VerifyError)
		}
	}
	if opts.SecretFile != "" && !out.Verified {
		return cmdutil.ErrSilent
	}
	return nil
}

func printMap(w io.Writer, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-5s %v\n", k+":", m[k])
	}
}
