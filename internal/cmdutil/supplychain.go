package cmdutil

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/internal/ui"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

// ClassifySupplyChain gives an error of reading, signing and verifying
// artifacts (the sbom, slsa and release commands; deploy airgap maps its own
// bundle errors first) its exit
// code: 1 when something did not verify, 2 for input that could not be read
// or parsed (a missing file, an unknown SBOM format, a bad key, envelope,
// digest or SOURCE_DATE_EPOCH); a permission error keeps its own code (4),
// anything else is 1.
func ClassifySupplyChain(err error) error {
	var epochErr *provenance.SourceDateEpochError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, verify.ErrVerificationFailed):
		return Failed(err)
	case errors.Is(err, fs.ErrPermission):
		return err
	case errors.As(err, &epochErr):
		return FlagErrorWrap(err)
	case errors.Is(err, fs.ErrNotExist),
		errors.Is(err, sbom.ErrUnknownFormat), errors.Is(err, sbom.ErrNothingFound),
		errors.Is(err, verify.ErrMalformedKey), errors.Is(err, verify.ErrUnsupportedKey),
		errors.Is(err, verify.ErrMalformedEnvelope), errors.Is(err, verify.ErrMalformedDigest),
		errors.Is(err, signing.ErrMalformedKey), errors.Is(err, signing.ErrEncryptedKey):
		return WithExitCode(ExitUsage, err)
	}
	return err
}

// LoadSigningKey loads the --signing-key file path, or the configured
// signing.key_file when path is "", and warns on stderr when others may
// read the file. Without either it returns a usage error.
func LoadSigningKey(ios *iostreams.IOStreams, path string, cfg func() (*config.Config, error)) (*signing.Key, error) {
	if path == "" {
		if cfg == nil {
			return nil, FlagErrorf("--sign needs --signing-key")
		}
		c, err := cfg()
		if err != nil {
			return nil, err
		}
		if c.Signing.KeyFile == "" {
			return nil, FlagErrorf("--sign needs --signing-key, or signing.key_file in the configuration")
		}
		path = c.Signing.KeyFile
	}
	k, err := signing.LoadKey(path)
	if err != nil {
		return nil, err
	}
	if k.WorldReadable() {
		ui.NewStatus(ios, false).Warning("signing key %s can be read by other users; chmod 600 it", path)
	}
	return k, nil
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
		return "", FlagErrorf(missing)
	}
	c, err := cfg()
	if err != nil {
		return "", err
	}
	if len(c.Signing.VerifyKeys) == 0 {
		return "", FlagErrorf(missing)
	}
	return strings.Join(c.Signing.VerifyKeys, ","), nil
}
