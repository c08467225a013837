package vault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/tars-ops/tarsctl/internal/secrets"
)

// Errors [Client] methods wrap, for callers to map to exit codes.
var (
	// ErrUnreachable: no HTTP answer from Vault (refused, DNS, TLS, timeout).
	ErrUnreachable = errors.New("vault unreachable")
	// ErrPermission: Vault answered 401 or 403 (bad token or policy).
	ErrPermission = errors.New("permission denied by vault")
	// ErrNoMount: no secrets engine is mounted at the path.
	ErrNoMount = errors.New("no secrets engine mounted")
	// ErrNotKVv2: the mount is a KV version 1 mount or not KV at all.
	ErrNotKVv2 = errors.New("not a KV version 2 mount")
	// ErrExists: an entry already exists and overwriting was not asked for.
	ErrExists = errors.New("secret already exists")
	// ErrSealed: Vault answered 503 (sealed or standby without forwarding).
	ErrSealed = errors.New("vault unavailable")
)

// Client talks to one Vault server through github.com/hashicorp/vault/api.
type Client struct {
	api  *api.Client
	addr string
}

// NewClient returns a client for addr with token. The token is sent as
// the X-Vault-Token header and never appears in errors. The environment's
// VAULT_CACERT, VAULT_CLIENT_CERT, VAULT_SKIP_VERIFY, VAULT_NAMESPACE and
// VAULT_CLIENT_TIMEOUT apply as they do for the vault CLI.
func NewClient(addr, token string) (*Client, error) {
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("vault address %q: want http(s)://HOST:PORT", addr)
	}
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("vault client configuration: %w", cfg.Error)
	}
	cfg.Address = addr
	// Retry 5xx and connection errors briefly: a CLI run should fail fast.
	cfg.MaxRetries = 2
	cfg.MinRetryWait = 100 * time.Millisecond
	cfg.MaxRetryWait = 500 * time.Millisecond
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	c.SetToken(token)
	return &Client{api: c, addr: addr}, nil
}

// Addr is the server's address.
func (c *Client) Addr() string { return c.addr }

// API returns the underlying vault/api client.
func (c *Client) API() *api.Client { return c.api }

// Mount describes the secrets engine a path is under.
type Mount struct {
	Path    string // without the trailing slash
	Type    string // "kv" for KV
	Version string // "2" for KV v2
}

// MountOf asks Vault which mount p lives under (what the vault CLI asks
// before `vault kv put`) and returns p re-split at that mount, so that
// secret/tars and a nested mount such as kv/prod/tars both work. When the
// token may not ask (403), p is returned as given and the mount is assumed
// to be KV v2; the writes then say if it is not.
func (c *Client) MountOf(ctx context.Context, p KVPath) (KVPath, *Mount, error) {
	sec, err := c.api.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+p.String())
	if err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == 403 {
			return p, &Mount{Path: p.Mount, Type: "kv", Version: "2"}, nil
		}
		if errors.As(err, &re) && (re.StatusCode == 400 || re.StatusCode == 404) {
			return p, nil, fmt.Errorf("%s: %w", p.Mount, ErrNoMount)
		}
		return p, nil, c.wrap("look up the mount of "+p.String(), err)
	}
	if sec == nil || sec.Data == nil {
		return p, nil, fmt.Errorf("%s: %w", p.Mount, ErrNoMount)
	}
	m := &Mount{}
	m.Path, _ = sec.Data["path"].(string)
	m.Path = strings.Trim(m.Path, "/")
	m.Type, _ = sec.Data["type"].(string)
	if opts, ok := sec.Data["options"].(map[string]any); ok {
		m.Version, _ = opts["version"].(string)
	}
	if m.Path == "" {
		return p, nil, fmt.Errorf("%s: %w", p.Mount, ErrNoMount)
	}
	if m.Type != "kv" && m.Type != "generic" || m.Version != "2" {
		kind := m.Type + " secrets engine"
		if m.Type == "kv" || m.Type == "generic" {
			kind = "KV version 1 mount"
		}
		return p, m, fmt.Errorf("%s/ is a %s: %w", m.Path, kind, ErrNotKVv2)
	}
	rest, ok := strings.CutPrefix(p.String(), m.Path+"/")
	rest = stripDataSegment(rest)
	if !ok || rest == "" {
		return p, m, fmt.Errorf("KV path %s names mount %s/ itself: add a path under it, for example %s/tars", p, m.Path, m.Path)
	}
	return KVPath{Mount: m.Path, Prefix: rest}, m, nil
}

// WriteOptions tune [Client.WriteSet].
type WriteOptions struct {
	Path  KVPath
	Force bool // write new versions over existing entries
}

// Written is one entry [Client.WriteSet] wrote; it holds no secret value.
type Written struct {
	Path    string   `json:"path"` // the KV v2 data path
	Version int      `json:"version"`
	Fields  []string `json:"fields"`
}

// WriteSet writes set as the entries of [Entries] under opts.Path. Every
// write is a KV v2 check-and-set: without Force, cas=0 (only if the entry
// does not exist); with Force, cas=the version just read, so a concurrent
// writer is never overwritten unseen. Without Force every entry is checked
// before any is written, so an existing one stops the run with nothing
// written (the error wraps [ErrExists]).
func (c *Client) WriteSet(ctx context.Context, set *secrets.Set, opts WriteOptions) ([]Written, error) {
	kv := c.api.KVv2(opts.Path.Mount)
	values := Values(set)
	entries := Entries()
	current := make(map[string]int, len(entries))
	var existing []string
	for _, e := range entries {
		name := opts.Path.Prefix + "/" + e.Name
		md, err := kv.GetMetadata(ctx, name)
		switch {
		case errors.Is(err, api.ErrSecretNotFound):
			current[e.Name] = 0
		case err != nil:
			return nil, c.wrap("read "+opts.Path.Metadata(e.Name), err)
		default:
			current[e.Name] = md.CurrentVersion
			existing = append(existing, opts.Path.Data(e.Name))
		}
	}
	if len(existing) > 0 && !opts.Force {
		return nil, fmt.Errorf("%s: %w (%d of %d entries exist); nothing was written",
			strings.Join(existing, ", "), ErrExists, len(existing), len(entries))
	}
	var out []Written
	for _, e := range entries {
		name := opts.Path.Prefix + "/" + e.Name
		s, err := kv.Put(ctx, name, map[string]any{e.Field: values[e.Name]}, api.WithCheckAndSet(current[e.Name]))
		if err != nil {
			var re *api.ResponseError
			if errors.As(err, &re) && re.StatusCode == 400 && strings.Contains(strings.Join(re.Errors, " "), "check-and-set") {
				err = fmt.Errorf("%s changed while tarsctl was writing (check-and-set version %d no longer current): %w",
					opts.Path.Data(e.Name), current[e.Name], ErrExists)
				return out, err
			}
			return out, c.wrap("write "+opts.Path.Data(e.Name), err)
		}
		v := 0
		if s != nil && s.VersionMetadata != nil {
			v = s.VersionMetadata.Version
		}
		out = append(out, Written{Path: opts.Path.Data(e.Name), Version: v, Fields: []string{e.Field}})
	}
	return out, nil
}

// ReadEntries reads the current value of every entry under p, for checks
// and tests: entry name → field → value.
func (c *Client) ReadEntries(ctx context.Context, p KVPath) (map[string]map[string]string, error) {
	kv := c.api.KVv2(p.Mount)
	out := map[string]map[string]string{}
	for _, e := range Entries() {
		s, err := kv.Get(ctx, p.Prefix+"/"+e.Name)
		if err != nil {
			return nil, c.wrap("read "+p.Data(e.Name), err)
		}
		fields := map[string]string{}
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fields[k], _ = s.Data[k].(string)
		}
		out[e.Name] = fields
	}
	return out, nil
}

// wrap turns a vault/api error into one that wraps the sentinel errors
// above and says what was being done. vault/api's messages name the URL and
// Vault's own error strings, never the token.
func (c *Client) wrap(what string, err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		msg := strings.Join(re.Errors, "; ")
		if msg == "" {
			msg = "HTTP " + strconv.Itoa(re.StatusCode)
		}
		switch {
		case re.StatusCode == 401 || re.StatusCode == 403:
			return fmt.Errorf("%s: %w (HTTP %d: %s)", what, ErrPermission, re.StatusCode, msg)
		case re.StatusCode == 503:
			return fmt.Errorf("%s: %w (HTTP 503: %s)", what, ErrSealed, msg)
		case re.StatusCode == 404 || strings.Contains(msg, "no handler for route"):
			return fmt.Errorf("%s: %w (HTTP %d: %s)", what, ErrNoMount, re.StatusCode, msg)
		}
		return fmt.Errorf("%s: vault answered HTTP %d: %s", what, re.StatusCode, msg)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w at %s: %v", what, ErrUnreachable, c.addr, rootCause(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// rootCause is the innermost error: "connection refused" rather than
// retryablehttp's "giving up after 3 attempt(s): Put ...: dial tcp ...".
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
