package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

func TestClassifySupplyChain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("verify signature: %w", verify.ErrVerificationFailed), ExitFailure},
		{fmt.Errorf("open k.pem: %w", fs.ErrPermission), ExitPermission},
		{fmt.Errorf("artifact: %w", fs.ErrNotExist), ExitUsage},
		{sbom.ErrUnknownFormat, ExitUsage},
		{fmt.Errorf("k.pem: %w", signing.ErrEncryptedKey), ExitUsage},
		{verify.ErrMalformedEnvelope, ExitUsage},
		{&provenance.SourceDateEpochError{Value: "soon"}, ExitUsage},
		{errors.New("disk full"), ExitFailure},
	} {
		if got := ExitCode(ClassifySupplyChain(tt.err)); got != tt.code {
			t.Errorf("ClassifySupplyChain(%v): exit %d, want %d", tt.err, got, tt.code)
		}
	}
	var fe *FlagError
	if !errors.As(ClassifySupplyChain(&provenance.SourceDateEpochError{Value: "x"}), &fe) {
		t.Error("a bad SOURCE_DATE_EPOCH is a usage error")
	}
	if ClassifySupplyChain(nil) != nil {
		t.Error("nil must stay nil")
	}
}

func TestPublicKeysFlagDefaultsToVerifyKeys(t *testing.T) {
	t.Parallel()
	withKeys := func() (*config.Config, error) {
		return &config.Config{Signing: config.SigningConfig{VerifyKeys: []string{"new.pem", "old.pem"}}}, nil
	}
	none := func() (*config.Config, error) { return &config.Config{}, nil }
	broken := func() (*config.Config, error) { return nil, errors.New("config: bad file") }
	for _, tc := range []struct {
		name, flag string
		cfg        func() (*config.Config, error)
		want       string
		wantErr    string
	}{
		{"flag wins", "k.pem", withKeys, "k.pem", ""},
		{"verify_keys", "", withKeys, "new.pem,old.pem", ""},
		{"neither", "", none, "", "--public-key KEY is required, or signing.verify_keys"},
		{"no config", "", nil, "", "--public-key KEY is required"},
		{"config error", "", broken, "", "config: bad file"},
		{"flag needs no config", "k.pem", broken, "k.pem", ""},
	} {
		got, err := PublicKeysFlag(tc.flag, tc.cfg)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: PublicKeysFlag = %q, %v; want %q, error %q", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}
