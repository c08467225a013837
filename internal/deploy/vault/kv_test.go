package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

// These tests run against a real Vault dev server (testenv.Vault); each
// mounts engines under names of its own.

func rootClient(t *testing.T) *Client {
	t.Helper()
	v := testenv.Vault(t)
	c, err := NewClient(v.Addr, v.Token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func uniq(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// mount enables a KV engine of version ("1" or "2") at a fresh path and
// returns that path.
func mount(t *testing.T, c *Client, version string) string {
	t.Helper()
	name := uniq("kv" + version + "-")
	err := c.API().Sys().MountWithContext(t.Context(), name, &api.MountInput{Type: "kv", Options: map[string]string{"version": version}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.API().Sys().Unmount(name) })
	return name
}

// tokenWithPolicy writes policy hcl as name and returns a client whose
// token has only that policy (and Vault's default one).
func tokenWithPolicy(t *testing.T, root *Client, name, hcl string) *Client {
	t.Helper()
	if err := root.API().Sys().PutPolicyWithContext(t.Context(), name, hcl); err != nil {
		t.Fatal(err)
	}
	sec, err := root.API().Auth().Token().CreateWithContext(t.Context(), &api.TokenCreateRequest{Policies: []string{name}, TTL: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(root.Addr(), sec.Auth.ClientToken)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSet(t *testing.T) *secrets.Set {
	t.Helper()
	set, err := secrets.Generate(secrets.Options{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestWriteSetCheckAndSet(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := rootClient(t)
	m := mount(t, c, "2")
	p, mt, err := c.MountOf(ctx, KVPath{Mount: m, Prefix: "tars"})
	if err != nil || p != (KVPath{m, "tars"}) || mt.Version != "2" {
		t.Fatalf("MountOf = %+v %+v %v", p, mt, err)
	}

	first := newSet(t)
	written, err := c.WriteSet(ctx, first, WriteOptions{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(Entries()) {
		t.Fatalf("wrote %d entries, want %d", len(written), len(Entries()))
	}
	for i, w := range written {
		if w.Version != 1 || w.Path != p.Data(Entries()[i].Name) {
			t.Errorf("written[%d] = %+v", i, w)
		}
	}
	got, err := c.ReadEntries(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	want := Values(first)
	for _, e := range Entries() {
		if got[e.Name][e.Field] != want[e.Name] || len(got[e.Name]) != 1 {
			t.Errorf("%s: read back fields %v, not the written value", e.Name, keys(got[e.Name]))
		}
	}

	// Without Force an existing set stops the run: nothing changes.
	second := newSet(t)
	_, err = c.WriteSet(ctx, second, WriteOptions{Path: p})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("second write err = %v, want ErrExists", err)
	}
	assertNoSecret(t, err.Error(), second, first)
	got, _ = c.ReadEntries(ctx, p)
	if got["jwt-secret"]["value"] != first.JWTSecret {
		t.Error("a refused write changed jwt-secret")
	}

	// One existing entry is enough to refuse the whole set.
	p2 := KVPath{m, "partial"}
	if _, err := c.API().KVv2(m).Put(ctx, "partial/redis", map[string]any{"password": "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteSet(ctx, second, WriteOptions{Path: p2}); !errors.Is(err, ErrExists) {
		t.Fatalf("partial: err = %v, want ErrExists", err)
	}
	if _, err := c.API().KVv2(m).Get(ctx, "partial/jwt-secret"); !errors.Is(err, api.ErrSecretNotFound) {
		t.Errorf("partial: jwt-secret was written (err %v)", err)
	}

	// Force writes version 2 with check-and-set on version 1.
	written, err = c.WriteSet(ctx, second, WriteOptions{Path: p, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if written[0].Version != 2 {
		t.Errorf("forced write version %d, want 2", written[0].Version)
	}
	got, _ = c.ReadEntries(ctx, p)
	if got["aes-key"]["value"] != hex.EncodeToString(second.AESKey) {
		t.Error("forced write did not replace aes-key")
	}
}

func TestMountErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := rootClient(t)

	v1 := mount(t, c, "1")
	_, _, err := c.MountOf(ctx, KVPath{v1, "tars"})
	if !errors.Is(err, ErrNotKVv2) || !strings.Contains(err.Error(), "KV version 1") {
		t.Errorf("KV v1 mount: err = %v", err)
	}

	// Vault answers the look-up of a path under no mount with 403, as it
	// does for a token that may not ask, so MountOf cannot tell; the first
	// request to the path says it.
	if _, err := c.WriteSet(ctx, newSet(t), WriteOptions{Path: KVPath{uniq("nomount-"), "tars"}}); !errors.Is(err, ErrNoMount) {
		t.Errorf("write to missing mount: err = %v, want ErrNoMount", err)
	}

	// A nested mount is found from the full path.
	nested := uniq("team-") + "/kv"
	if err := c.API().Sys().MountWithContext(ctx, nested, &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.API().Sys().Unmount(nested) })
	first, _, _ := strings.Cut(nested, "/")
	p, _, err := c.MountOf(ctx, KVPath{first, "kv/data/tars"})
	if err != nil || p != (KVPath{nested, "tars"}) {
		t.Errorf("nested mount: %+v, %v", p, err)
	}
	_, _, err = c.MountOf(ctx, KVPath{first, "kv"})
	if err == nil || !strings.Contains(err.Error(), "names mount") {
		t.Errorf("mount itself: err = %v", err)
	}
}

func TestPermissionAndReachability(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := rootClient(t)
	m := mount(t, root, "2")
	p := KVPath{m, "tars"}

	bad, _ := NewClient(root.Addr(), "not-a-token")
	_, err := bad.WriteSet(ctx, newSet(t), WriteOptions{Path: p})
	if !errors.Is(err, ErrPermission) || strings.Contains(err.Error(), "not-a-token") {
		t.Errorf("bad token: err = %v", err)
	}

	// A token that may read but not write: the metadata reads pass, the
	// first write is refused.
	ro := tokenWithPolicy(t, root, uniq("ro-"), fmt.Sprintf("path %q { capabilities = [\"read\"] }\n", m+"/*"))
	_, err = ro.WriteSet(ctx, newSet(t), WriteOptions{Path: p})
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "write "+p.Data("jwt-secret")) {
		t.Errorf("read-only token: err = %v", err)
	}
	// Such a token may not ask for the mount either; MountOf falls back.
	if q, _, err := ro.MountOf(ctx, p); err != nil || q != p {
		t.Errorf("read-only MountOf = %+v, %v", q, err)
	}

	port := testenv.FreePort(t)
	gone, _ := NewClient(fmt.Sprintf("http://127.0.0.1:%d", port), "x")
	ctx2, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err = gone.WriteSet(ctx2, newSet(t), WriteOptions{Path: p})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("closed port: err = %v", err)
	}

	for _, addr := range []string{"", "127.0.0.1:8200", "ftp://x", "http://"} {
		if _, err := NewClient(addr, "t"); err == nil {
			t.Errorf("NewClient(%q) accepted", addr)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// assertNoSecret fails if s holds any value of the sets.
func assertNoSecret(t *testing.T, s string, sets ...*secrets.Set) {
	t.Helper()
	for _, set := range sets {
		for name, v := range Values(set) {
			if strings.Contains(s, strings.TrimSpace(v)) {
				t.Errorf("output holds the value of %s", name)
			}
		}
	}
}
