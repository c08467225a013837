package vault

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"go.yaml.in/yaml/v3"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestRenderDefaults(t *testing.T) {
	t.Parallel()
	r, err := Render(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	// The runbook's policy block, verbatim.
	if !strings.Contains(r.Policy, "path \"secret/data/tars/*\" {\n  capabilities = [\"read\"]\n}") {
		t.Errorf("policy lacks the runbook's block:\n%s", r.Policy)
	}
	// The runbook's role.
	role, _ := json.Marshal(r.Role)
	if string(role) != `{"bound_service_account_names":["tars"],"bound_service_account_namespaces":["tars-prod"],"policies":["tars-read"],"ttl":"24h"}` {
		t.Errorf("role = %s", role)
	}
	if r.Annotations["vault.hashicorp.com/agent-inject"] != "true" || r.Annotations["vault.hashicorp.com/role"] != "tars" {
		t.Errorf("annotations: %v", r.Annotations)
	}
	if got := r.Annotations["vault.hashicorp.com/agent-inject-secret-jwt_secret"]; got != "secret/data/tars/jwt-secret" {
		t.Errorf("jwt annotation = %q", got)
	}
	if got := r.Annotations["vault.hashicorp.com/agent-inject-template-redis_password"]; got != `{{- with secret "secret/data/tars/redis" -}}{{ .Data.data.password }}{{- end -}}` {
		t.Errorf("redis template = %q", got)
	}
	for k := range r.Annotations {
		if strings.Contains(k, "admin") {
			t.Errorf("pods get the admin password: %s", k)
		}
	}
	var names []string
	for _, f := range r.Files {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != "tars-read.hcl tars-role.json vault-setup.sh pod-annotations.yaml values-vault.yaml" {
		t.Errorf("files %v", names)
	}

	// The annotations file is YAML that decodes to the same map.
	var ann map[string]string
	if err := yaml.Unmarshal(r.Files[3].Data, &ann); err != nil {
		t.Fatal(err)
	}
	if len(ann) != len(r.Annotations) || ann["vault.hashicorp.com/agent-inject-template-aes.key"] != r.Annotations["vault.hashicorp.com/agent-inject-template-aes.key"] {
		t.Errorf("annotations file decodes to %v", ann)
	}
}

// TestHelmValuesMatchChart: values-vault.yaml sets the chart's vault.*
// keys (internal/deploy/chart/tars/values.yaml) with the same paths and
// fields the chart's defaults use for the default names.
func TestHelmValuesMatchChart(t *testing.T) {
	t.Parallel()
	r, err := Render(DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ServiceAccount struct{ Name string } `yaml:"serviceAccount"`
		Vault          struct {
			Enabled     bool
			Role        string
			AuthPath    string `yaml:"authPath"`
			SecretsPath string `yaml:"secretsPath"`
			Secrets     map[string]struct{ Path, Field string }
		}
	}
	if err := yaml.Unmarshal([]byte(r.HelmValues), &v); err != nil {
		t.Fatal(err)
	}
	// The chart's defaults (values.yaml, vault.secrets).
	want := map[string][2]string{
		"jwt":       {"secret/data/tars/jwt-secret", "value"},
		"aes":       {"secret/data/tars/aes-key", "value"},
		"rsa":       {"secret/data/tars/rsa-private", "key"},
		"rsaPublic": {"secret/data/tars/rsa-public", "key"},
		"redis":     {"secret/data/tars/redis", "password"},
		"database":  {"secret/data/tars/database", "password"},
	}
	if !v.Vault.Enabled || v.Vault.Role != "tars" || v.Vault.AuthPath != "auth/kubernetes" || v.Vault.SecretsPath != "/vault/secrets" || v.ServiceAccount.Name != "tars" {
		t.Errorf("values %+v", v)
	}
	if len(v.Vault.Secrets) != len(want) {
		t.Errorf("secrets %v", v.Vault.Secrets)
	}
	for k, w := range want {
		if got := v.Vault.Secrets[k]; got.Path != w[0] || got.Field != w[1] {
			t.Errorf("vault.secrets.%s = %+v, want %v", k, got, w)
		}
	}
}

func TestParamsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		edit func(*Params)
		want string
	}{
		{func(p *Params) { p.Namespace = "Tars_Prod" }, "--namespace"},
		{func(p *Params) { p.Role = "ta rs" }, "--role"},
		{func(p *Params) { p.Policy = `x"y` }, "--policy"},
		{func(p *Params) { p.ServiceAccount = "" }, "--service-account"},
		{func(p *Params) { p.AuthPath = "kubernetes" }, "--auth-path"},
		{func(p *Params) { p.TTL = "1 day" }, "--ttl"},
		{func(p *Params) { p.TTL = "-1h" }, "--ttl"},
		{func(p *Params) { p.KubernetesHost = "http://k8s" }, "--kubernetes-host"},
		{func(p *Params) { p.KubernetesCACert = "ca.pem; rm -rf /" }, "--kubernetes-ca-cert"},
		{func(p *Params) { p.KV = KVPath{Mount: "secret", Prefix: "*"} }, "wildcards"},
	}
	for _, tt := range tests {
		p := DefaultParams()
		tt.edit(&p)
		if _, err := Render(p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q", p, err, tt.want)
		}
	}
}

// TestRenderedPolicyInVault writes the rendered policy to a real Vault,
// stores a generated set where --sink vault puts it, and checks what a
// token holding only that policy can do: read every secret the pods need,
// nothing else, and write nothing.
func TestRenderedPolicyInVault(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := rootClient(t)
	m := mount(t, root, "2")
	p := DefaultParams()
	p.KV = KVPath{m, "tars"}
	p.Policy = uniq("tars-read-")
	r, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	set := newSet(t)
	if _, err := root.WriteSet(ctx, set, WriteOptions{Path: p.KV}); err != nil {
		t.Fatal(err)
	}
	// A neighbour the policy must not reach.
	if _, err := root.API().KVv2(m).Put(ctx, "other/x", map[string]any{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	pod := tokenWithPolicy(t, root, p.Policy, r.Policy)
	kv := pod.API().KVv2(m)
	values := Values(set)
	for _, e := range podEntries() {
		s, err := kv.Get(ctx, "tars/"+e.Name)
		if err != nil {
			t.Errorf("pod token cannot read %s: %v", p.KV.Data(e.Name), err)
			continue
		}
		if s.Data[e.Field] != values[e.Name] {
			t.Errorf("%s: wrong value read", e.Name)
		}
		if _, err := kv.GetMetadata(ctx, "tars/"+e.Name); err != nil {
			t.Errorf("pod token cannot read the metadata of %s: %v", e.Name, err)
		}
	}
	denied := func(what string, err error) {
		t.Helper()
		var re *api.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 403 {
			t.Errorf("%s: err = %v, want 403", what, err)
		}
	}
	_, err = kv.Get(ctx, "tars/admin")
	denied("read admin password", err)
	_, err = kv.Get(ctx, "other/x")
	denied("read outside the prefix", err)
	_, err = kv.Put(ctx, "tars/jwt-secret", map[string]any{"value": "x"})
	denied("write jwt-secret", err)
	_, err = kv.Put(ctx, "tars/new", map[string]any{"value": "x"})
	denied("create under the prefix", err)
	err = kv.Delete(ctx, "tars/redis")
	denied("delete redis", err)
	_, err = pod.API().Logical().ReadWithContext(ctx, "secret/data/tars/jwt-secret")
	denied("read the default mount", err)
	_, err = pod.API().Logical().ListWithContext(ctx, m+"/metadata/tars")
	denied("list the prefix", err)
}

// TestSetupScriptInVault runs the rendered vault-setup.sh with the real
// vault CLI against the dev server: policy and role land as rendered, and
// running it twice works.
func TestSetupScriptInVault(t *testing.T) {
	t.Parallel()
	v := testenv.Vault(t)
	root := rootClient(t)
	p := DefaultParams()
	p.AuthPath = "auth/" + uniq("k8s-")
	p.Policy = uniq("tars-read-")
	p.Role = uniq("tars-")
	p.Namespace = "tars-test"
	// Vault runs outside any cluster here, so it is given a CA to check
	// the cluster's certificate with, as a Vault outside the cluster would.
	p.KubernetesCACert = "k8s-ca.pem"
	r, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-k8s-ca",
		"-keyout", filepath.Join(dir, "k8s-ca.key"), "-out", filepath.Join(dir, "k8s-ca.pem")).CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	for _, f := range r.Files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, os.FileMode(f.Perm)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = root.API().Sys().DisableAuth(strings.TrimPrefix(p.AuthPath, "auth/")) })
	for i := range 2 {
		cmd := exec.Command(filepath.Join(dir, SetupFile))
		cmd.Env = append([]string{"PATH=" + filepath.Dir(v.Bin) + ":" + os.Getenv("PATH")}, v.Env()...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
	}
	pol, err := root.API().Sys().GetPolicyWithContext(t.Context(), p.Policy)
	if err != nil || pol != r.Policy {
		t.Errorf("policy in Vault differs from the rendered one (%v):\n%s", err, pol)
	}
	sec, err := root.API().Logical().ReadWithContext(t.Context(), p.AuthPath+"/role/"+p.Role)
	if err != nil || sec == nil {
		t.Fatalf("read role: %v", err)
	}
	d := sec.Data
	if s(d["bound_service_account_names"]) != "tars" || s(d["bound_service_account_namespaces"]) != "tars-test" ||
		s(d["token_policies"]) != p.Policy || jsonNumber(d["token_ttl"]) != "86400" {
		t.Errorf("role in Vault: %v", d)
	}
	cfg, err := root.API().Logical().ReadWithContext(t.Context(), p.AuthPath+"/config")
	if err != nil || cfg == nil || cfg.Data["kubernetes_host"] != DefaultKubernetesHost {
		t.Errorf("auth config: %v %v", cfg, err)
	}
}

// s joins a []any of strings.
func s(v any) string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		out = append(out, x.(string))
	}
	return strings.Join(out, ",")
}

func jsonNumber(v any) string {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}
