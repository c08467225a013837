package slsa

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
)

// readFileCapped reads at most limit+1 bytes of path, so a parser with the
// same limit sees that the file is too large without reading all of it.
func readFileCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// PublicKeysFlag returns the --public-key value, or when it is empty the
// configured signing.verify_keys (the runbook's VERIFY_KEYS) as the same
// comma-separated list, so verification during an RSA key transition
// accepts old and new keys without naming them.
func PublicKeysFlag(flag string, cfg func() (*config.Config, error)) (string, error) {
	if flag != "" {
		return flag, nil
	}
	const missing = "--public-key KEY is required, or signing.verify_keys (VERIFY_KEYS) in the configuration"
	if cfg == nil {
		return "", cmdutil.FlagErrorf(missing)
	}
	c, err := cfg()
	if err != nil {
		return "", err
	}
	if len(c.Signing.VerifyKeys) == 0 {
		return "", cmdutil.FlagErrorf(missing)
	}
	return strings.Join(c.Signing.VerifyKeys, ","), nil
}
