// Package vault puts T.A.R.S. secrets in HashiCorp Vault and describes how
// the pods read them: the KV v2 layout (one entry per secret, the runbook's
// paths), writing a generated set there with check-and-set, and rendering
// the read policy, the Kubernetes auth role and the Vault Agent Injector pod
// annotations that the Helm chart's vault.enabled carries.
//
// It never prints; errors wrap the sentinel errors below so that callers can
// map them to exit codes.
package vault

import (
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"github.com/tars-ops/tarsctl/internal/secrets"
)

// Defaults: the runbook's names (Model 5: Enterprise with Vault).
const (
	DefaultKVPath         = "secret/tars" // as `vault kv put secret/tars/...` names it
	DefaultRole           = "tars"
	DefaultPolicy         = "tars-read"
	DefaultServiceAccount = "tars"
	DefaultNamespace      = "tars-prod"
	DefaultTTL            = "24h"
	DefaultAuthPath       = "auth/kubernetes"
	DefaultSecretsDir     = "/vault/secrets" // where the agent writes the files
	DefaultKubernetesHost = "https://kubernetes.default.svc:443"
)

// Entry is one KV v2 secret of the layout: MOUNT/PREFIX/Name holding the
// value in Field. File is the file the Vault Agent writes it to in a pod
// (the same names as `tarsctl secrets generate --dir` and the chart's
// mounted Secrets use), empty for a secret the pods never read.
type Entry struct {
	Name  string `json:"name"`
	Field string `json:"field"`
	File  string `json:"file,omitempty"`
}

// Entries returns the layout, in the order secrets are written. The names
// and fields are the runbook's (jwt-secret value, aes-key value,
// rsa-private key, redis password) plus rsa-public, database and admin,
// which it does not name; they agree with the chart's vault.secrets values.
func Entries() []Entry {
	return []Entry{
		{Name: "jwt-secret", Field: "value", File: secrets.JWTSecretFile},
		{Name: "aes-key", Field: "value", File: secrets.AESKeyFile},
		{Name: "rsa-private", Field: "key", File: secrets.RSAPrivateFile},
		{Name: "rsa-public", Field: "key", File: secrets.RSAPublicFile},
		{Name: "redis", Field: "password", File: secrets.RedisPasswordFile},
		{Name: "database", Field: "password", File: secrets.DBPasswordFile},
		// The initial admin password is for the operator who bootstraps
		// the dashboard (tarsctl users), not for the pods.
		{Name: "admin", Field: "password"},
	}
}

// Values returns the value of every entry of [Entries] for set, by entry
// name. The values are the bare strings the pods' files hold (the AES key
// as 64 hex digits, the RSA keys as PEM), without trailing newlines.
func Values(set *secrets.Set) map[string]string {
	return map[string]string{
		"jwt-secret":  set.JWTSecret,
		"aes-key":     hex.EncodeToString(set.AESKey),
		"rsa-private": string(set.RSA.PrivatePEM),
		"rsa-public":  string(set.RSA.PublicPEM),
		"redis":       set.RedisPassword,
		"database":    set.DBPassword,
		"admin":       set.AdminPassword,
	}
}

// KVPath is where the layout lives: the KV v2 mount (no slashes at either
// end, e.g. "secret") and the prefix under it (e.g. "tars").
type KVPath struct {
	Mount  string `json:"mount"`
	Prefix string `json:"prefix"`
}

// ParseKVPath splits "MOUNT/PREFIX" (as `vault kv put` writes it:
// secret/tars) at its first slash, or after mount when mount is given (for
// mounts whose path has a slash: kv/tars-prod with --vault-mount kv/tars).
// The API form MOUNT/data/PREFIX is accepted too. A prefix is required: the
// policy grants read on everything under it.
func ParseKVPath(s, mount string) (KVPath, error) {
	s = strings.Trim(strings.TrimSpace(s), "/")
	mount = strings.Trim(strings.TrimSpace(mount), "/")
	if s == "" {
		return KVPath{}, fmt.Errorf("empty KV path: give MOUNT/PATH, for example %s", DefaultKVPath)
	}
	if strings.Contains(s, "//") || strings.ContainsAny(s, "*+\"\n\r\t ") {
		return KVPath{}, fmt.Errorf("KV path %q: want MOUNT/PATH with no wildcards, quotes, spaces or empty segments", s)
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			return KVPath{}, fmt.Errorf("KV path %q: %q segments are not allowed", s, seg)
		}
	}
	var p KVPath
	if mount != "" {
		rest, ok := strings.CutPrefix(s, mount+"/")
		if !ok {
			return KVPath{}, fmt.Errorf("KV path %q is not under mount %q", s, mount)
		}
		p = KVPath{Mount: mount, Prefix: rest}
	} else {
		m, rest, ok := strings.Cut(s, "/")
		if !ok {
			return KVPath{}, fmt.Errorf("KV path %q has no path under the mount: give MOUNT/PATH, for example %s", s, DefaultKVPath)
		}
		p = KVPath{Mount: m, Prefix: rest}
	}
	p.Prefix = stripDataSegment(p.Prefix)
	if p.Prefix == "" {
		return KVPath{}, fmt.Errorf("KV path %q has no path under mount %q", s, p.Mount)
	}
	return p, nil
}

// stripDataSegment turns the API form's "data/tars" into "tars".
func stripDataSegment(prefix string) string {
	if prefix == "data" {
		return ""
	}
	if rest, ok := strings.CutPrefix(prefix, "data/"); ok {
		return rest
	}
	return prefix
}

// String is the CLI form, MOUNT/PREFIX.
func (p KVPath) String() string { return p.Mount + "/" + p.Prefix }

// Data is the API path of entry name's data: MOUNT/data/PREFIX/NAME, the
// path the agent's templates and the policy name.
func (p KVPath) Data(name string) string { return path.Join(p.Mount, "data", p.Prefix, name) }

// Metadata is the API path of entry name's metadata.
func (p KVPath) Metadata(name string) string {
	return path.Join(p.Mount, "metadata", p.Prefix, name)
}
