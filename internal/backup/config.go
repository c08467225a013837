package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/config"
)

// maxConfigSize caps a config part when it is checked.
const maxConfigSize = 1 << 20

// ConfigSource saves the effective configuration as a YAML config file,
// which `tarsctl --config FILE` reads back. Secrets are written as
// config show prints them ([redacted], or their file:/env: reference)
// unless IncludeSecrets is set, which the CLI allows only when the backup
// is encrypted; then each secret is resolved and written as its value, so
// the file works on a machine where the referenced files do not exist.
type ConfigSource struct {
	Config         *config.Config
	Profile        string
	IncludeSecrets bool
	// Getenv resolves env: references; nil means os.Getenv.
	Getenv func(string) string
}

var _ Source = (*ConfigSource)(nil)

// Spec describes the part.
func (s *ConfigSource) Spec() PartSpec {
	return PartSpec{Name: "config", Kind: KindConfig, Format: FormatYAML, Source: "profile " + s.Profile, Ext: ".yaml", Compress: true}
}

// Dump writes the configuration.
func (s *ConfigSource) Dump(_ context.Context, w io.Writer) (DumpResult, error) {
	b, n, err := RenderConfig(s.Config, s.Profile, s.IncludeSecrets, s.Getenv)
	if err != nil {
		return DumpResult{}, err
	}
	if _, err := w.Write(b); err != nil {
		return DumpResult{}, err
	}
	return DumpResult{Entries: int64(n)}, nil
}

// RenderConfig returns c as a YAML config file, and how many keys it
// holds. Secrets are redacted unless includeSecrets.
func RenderConfig(c *config.Config, profile string, includeSecrets bool, getenv func(string) string) ([]byte, int, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	out := map[string]any{}
	for _, f := range config.Fields() {
		v := c.Value(f)
		if sec, ok := v.(config.Secret); ok && includeSecrets {
			s, err := sec.Resolve(getenv)
			if err != nil {
				return nil, 0, fmt.Errorf("save configuration: %s: %w", f.Key, err)
			}
			v = s
		} else {
			v = config.DisplayValue(v)
		}
		config.PutNested(out, f.Key, v)
	}
	var b bytes.Buffer
	secrets := "secrets redacted"
	if includeSecrets {
		secrets = "SECRETS INCLUDED: keep this file private"
	}
	fmt.Fprintf(&b, "# tarsctl effective configuration (profile %s), saved by tarsctl backup; %s.\n", profile, secrets)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		return nil, 0, err
	}
	if err := enc.Close(); err != nil {
		return nil, 0, err
	}
	return b.Bytes(), len(config.Fields()), nil
}

// checkConfig parses a config part as YAML.
func checkConfig(r io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return err
	}
	if len(b) > maxConfigSize {
		return fmt.Errorf("%w: configuration larger than %d bytes", ErrCorrupt, maxConfigSize)
	}
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil || v == nil {
		return fmt.Errorf("%w: configuration is not a YAML mapping: %v", ErrCorrupt, err)
	}
	return nil
}

// FileTarget restores a part as one file: the configuration (kind
// config), or an RDB snapshot (kind redis-rdb) to put in a Redis data
// directory. The file is written with mode 0600, atomically, and never
// over an existing file unless Force is set.
type FileTarget struct {
	PartKind string // KindConfig or KindRedisRDB
	Path     string
	Force    bool
}

var _ Target = (*FileTarget)(nil)

func (t *FileTarget) Kind() string   { return t.PartKind }
func (t *FileTarget) String() string { return t.Path }

// Prepare checks that the file does not exist (unless Force) and that its
// directory does.
func (t *FileTarget) Prepare(context.Context) error {
	if _, err := os.Lstat(t.Path); err == nil && !t.Force {
		return fmt.Errorf("%w: %s exists", ErrTargetNotEmpty, t.Path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(t.Path)
	if fi, err := os.Stat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// Restore writes the file.
func (t *FileTarget) Restore(_ context.Context, r io.Reader, _ Part) (Restored, error) {
	var n int64
	err := atomicfile.Write(t.Path, atomicfile.Options{Perm: 0o600, NoOverwrite: !t.Force}, func(w io.Writer) error {
		var err error
		n, err = io.Copy(w, r)
		return err
	})
	if err != nil {
		return Restored{}, err
	}
	return Restored{Entries: 1, Note: fmt.Sprintf("%d bytes", n)}, nil
}
