package keys

import (
	"context"
	"fmt"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/crypto"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/keys"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// IDOptions are the inputs of `tarsctl keys id`.
type IDOptions struct {
	IO     *iostreams.IOStreams
	File   string
	Key    bool // FILE is a key file, not an encrypted file
	Output string
}

// NewCmdID returns `tarsctl keys id`.
func NewCmdID(f *cmdutil.Factory, runF func(context.Context, *IDOptions) error) *cobra.Command {
	opts := &IDOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "id FILE",
		Short: "Print the id of the key that sealed a file",
		Long: heredoc.Doc(`
			Print the id of the key that sealed FILE, read from its header, without
			needing any key. With --key-file, FILE is a key file and its own id is
			printed. A key id is the first 8 bytes of the key's SHA-256 in hex, the
			same as: xxd -r -p aes.key | sha256sum | cut -c1-16
		`),
		Example: heredoc.Doc(`
			$ tarsctl keys id /var/lib/tars/data/checkpoints/agent-1.ckpt
			$ tarsctl keys id --key-file aes.key
		`),
		Args: cmdutil.ExactArgs(1, "a FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File, opts.Output = args[0], f.Globals.Output
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return idRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Key, "key-file", false, "FILE is a key file: print its id")
	return cmd
}

func idRun(_ context.Context, opts *IDOptions) error {
	var id string
	if opts.Key {
		key, _, err := crypto.LoadKeyFile(opts.File)
		if err != nil {
			return classify(err)
		}
		id = crypto.KeyID(key)
	} else {
		var err error
		if id, err = keys.FileKeyID(opts.File); err != nil {
			return classify(err)
		}
	}
	if opts.Output == cmdutil.OutputJSON {
		return ui.WriteJSON(opts.IO.Out, map[string]string{"path": opts.File, "key_id": id})
	}
	fmt.Fprintln(opts.IO.Out, id)
	return nil
}
