package vault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Params are the names [Render] puts in the policy, role and annotations.
type Params struct {
	KV             KVPath // where the secrets live (secret/tars)
	Namespace      string // Kubernetes namespace of the release (tars-prod)
	Role           string // Kubernetes auth role (tars)
	Policy         string // ACL policy name (tars-read)
	ServiceAccount string // service account the role is bound to (tars)
	TTL            string // token TTL of the role (24h)
	AuthPath       string // Kubernetes auth mount (auth/kubernetes)
	KubernetesHost string // for auth/kubernetes/config
	// KubernetesCACert is a PEM file with the cluster's CA, for a Vault
	// that runs outside the cluster (inside, Vault reads the pod's own).
	KubernetesCACert string
	SecretsDir       string // where the agent writes the files (/vault/secrets)
}

// DefaultParams returns the runbook's names.
func DefaultParams() Params {
	return Params{
		KV:             KVPath{Mount: "secret", Prefix: "tars"},
		Namespace:      DefaultNamespace,
		Role:           DefaultRole,
		Policy:         DefaultPolicy,
		ServiceAccount: DefaultServiceAccount,
		TTL:            DefaultTTL,
		AuthPath:       DefaultAuthPath,
		KubernetesHost: DefaultKubernetesHost,
		SecretsDir:     DefaultSecretsDir,
	}
}

var (
	// Vault role and policy names, Kubernetes names (DNS-1123 labels; service
	// account names may have dots too).
	reVaultName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	reDNSLabel  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	reSAName    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	reAuthPath  = regexp.MustCompile(`^auth/[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9]$`)
)

// Validate checks every name, so the rendered HCL, JSON, shell and YAML
// need no escaping beyond quoting.
func (p Params) Validate() error {
	if _, err := ParseKVPath(p.KV.String(), p.KV.Mount); err != nil {
		return err
	}
	checks := []struct {
		flag, val string
		re        *regexp.Regexp
		want      string
	}{
		{"namespace", p.Namespace, reDNSLabel, "a Kubernetes namespace name (lower-case letters, digits, '-')"},
		{"role", p.Role, reVaultName, "letters, digits, '_', '.', '-'"},
		{"policy", p.Policy, reVaultName, "letters, digits, '_', '.', '-'"},
		{"service-account", p.ServiceAccount, reSAName, "a Kubernetes service account name"},
		{"auth-path", p.AuthPath, reAuthPath, "auth/MOUNT, for example auth/kubernetes"},
	}
	for _, c := range checks {
		if len(c.val) > 63 && c.flag != "auth-path" || !c.re.MatchString(c.val) {
			return fmt.Errorf("--%s %q: want %s", c.flag, c.val, c.want)
		}
	}
	if d, err := time.ParseDuration(p.TTL); err != nil || d <= 0 {
		return fmt.Errorf("--ttl %q: want a positive duration such as 24h or 90m", p.TTL)
	}
	if !strings.HasPrefix(p.KubernetesHost, "https://") || strings.ContainsAny(p.KubernetesHost, "\"'` \n\\$") {
		return fmt.Errorf("--kubernetes-host %q: want an https:// URL", p.KubernetesHost)
	}
	if strings.ContainsAny(p.KubernetesCACert, "\"'` \n\\$@") {
		return fmt.Errorf("--kubernetes-ca-cert %q: want a file path without spaces, quotes or shell characters", p.KubernetesCACert)
	}
	if !strings.HasPrefix(p.SecretsDir, "/") || strings.ContainsAny(p.SecretsDir, "\"'` \n\\$") {
		return fmt.Errorf("secrets directory %q: want an absolute path", p.SecretsDir)
	}
	return nil
}

// Rendered is what [Render] returns: the files of `tarsctl deploy vault
// render` and their parts in structured form for -o json.
type Rendered struct {
	Policy      string            `json:"policy"`       // the ACL policy, HCL
	Role        map[string]any    `json:"role"`         // auth/kubernetes/role/NAME payload
	Commands    []string          `json:"commands"`     // vault CLI lines that apply both
	Annotations map[string]string `json:"annotations"`  // pod template annotations
	HelmValues  string            `json:"helm_values"`  // the chart's vault.* values, YAML
	Files       []File            `json:"-"`            // the files, in order
	Secrets     []string          `json:"secret_paths"` // the KV v2 data paths the pods read
}

// File is one rendered file.
type File struct {
	Name string
	Data []byte
	Perm uint32
}

// File names of [Render].
const (
	SetupFile       = "vault-setup.sh"
	AnnotationsFile = "pod-annotations.yaml"
	ValuesFile      = "values-vault.yaml"
)

// PolicyFile is the policy's file name: POLICY.hcl.
func (p Params) PolicyFile() string { return p.Policy + ".hcl" }

// RoleFile is the role payload's file name: ROLE-role.json.
func (p Params) RoleFile() string { return p.Role + "-role.json" }

// podEntries are the entries the pods read.
func podEntries() []Entry {
	var out []Entry
	for _, e := range Entries() {
		if e.File != "" {
			out = append(out, e)
		}
	}
	return out
}

// Render returns the policy, role, annotations, chart values and setup
// commands for p. It fails only when p does not validate.
func Render(p Params) (*Rendered, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	r := &Rendered{
		Policy:      renderPolicy(p),
		Role:        rolePayload(p),
		Annotations: map[string]string{},
	}
	for _, e := range podEntries() {
		r.Secrets = append(r.Secrets, p.KV.Data(e.Name))
	}

	ann := annotationList(p)
	var ab bytes.Buffer
	ab.WriteString("# Vault Agent Injector annotations for a T.A.R.S. pod template\n")
	ab.WriteString("# (spec.template.metadata.annotations). The chart sets the same ones\n")
	fmt.Fprintf(&ab, "# with --values %s; the pod must run as service account %q.\n", ValuesFile, p.ServiceAccount)
	for _, kv := range ann {
		r.Annotations[kv[0]] = kv[1]
		fmt.Fprintf(&ab, "%s: %s\n", kv[0], quote(kv[1]))
	}

	r.HelmValues = renderValues(p)
	r.Commands = commands(p)
	role, _ := json.MarshalIndent(r.Role, "", "  ")

	var sb bytes.Buffer
	sb.WriteString("#!/bin/sh\n")
	sb.WriteString("# Configure Vault for T.A.R.S. (written by tarsctl deploy vault render):\n")
	fmt.Fprintf(&sb, "# the read policy %q and the Kubernetes auth role %q. Run it from this\n", p.Policy, p.Role)
	sb.WriteString("# directory with VAULT_ADDR set and a token allowed to write policies and\n")
	sb.WriteString("# auth configuration (VAULT_TOKEN or vault login).\n")
	sb.WriteString("set -eu\ncd \"$(dirname \"$0\")\"\n")
	for _, c := range r.Commands {
		sb.WriteString(c + "\n")
	}

	r.Files = []File{
		{Name: p.PolicyFile(), Data: []byte(r.Policy), Perm: 0o644},
		{Name: p.RoleFile(), Data: append(role, '\n'), Perm: 0o644},
		{Name: SetupFile, Data: sb.Bytes(), Perm: 0o755},
		{Name: AnnotationsFile, Data: ab.Bytes(), Perm: 0o644},
		{Name: ValuesFile, Data: []byte(r.HelmValues), Perm: 0o644},
	}
	return r, nil
}

func renderPolicy(p Params) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: what the T.A.R.S. pods may read from Vault (tarsctl deploy vault render).\n", p.Policy)
	fmt.Fprintf(&b, "# The secrets are KV v2 entries under %s/ (tarsctl secrets generate --sink vault).\n", p.KV)
	fmt.Fprintf(&b, "path %q {\n  capabilities = [\"read\"]\n}\n\n", p.KV.Data("*"))
	fmt.Fprintf(&b, "path %q {\n  capabilities = [\"read\"]\n}\n\n", p.KV.Metadata("*"))
	b.WriteString("# The initial admin password is for the operator, not for the pods.\n")
	fmt.Fprintf(&b, "path %q {\n  capabilities = [\"deny\"]\n}\n", p.KV.Data("admin"))
	return b.String()
}

func rolePayload(p Params) map[string]any {
	return map[string]any{
		"bound_service_account_names":      []string{p.ServiceAccount},
		"bound_service_account_namespaces": []string{p.Namespace},
		"policies":                         []string{p.Policy},
		"ttl":                              p.TTL,
	}
}

func commands(p Params) []string {
	mount := strings.TrimPrefix(p.AuthPath, "auth/")
	config := fmt.Sprintf("vault write %s/config kubernetes_host=%q", p.AuthPath, p.KubernetesHost)
	if p.KubernetesCACert != "" {
		config += " kubernetes_ca_cert=@" + p.KubernetesCACert
	}
	return []string{
		fmt.Sprintf("vault policy write %s %s", p.Policy, p.PolicyFile()),
		fmt.Sprintf("vault auth list -format=json | grep -q '\"%s/\"' || vault auth enable -path=%s kubernetes", mount, mount),
		config,
		fmt.Sprintf("vault write %s/role/%s @%s", p.AuthPath, p.Role, p.RoleFile()),
	}
}

// annotationList is the pod annotations in order, as the chart writes them.
func annotationList(p Params) [][2]string {
	out := [][2]string{
		{"vault.hashicorp.com/agent-inject", "true"},
		{"vault.hashicorp.com/role", p.Role},
		{"vault.hashicorp.com/auth-path", p.AuthPath},
		{"vault.hashicorp.com/secret-volume-path", p.SecretsDir},
	}
	for _, e := range podEntries() {
		data := p.KV.Data(e.Name)
		out = append(out,
			[2]string{"vault.hashicorp.com/agent-inject-secret-" + e.File, data},
			[2]string{"vault.hashicorp.com/agent-inject-template-" + e.File, AgentTemplate(data, e.Field)})
	}
	return out
}

// AgentTemplate is the Vault Agent template that writes field of the KV v2
// secret at dataPath as the file's whole content.
func AgentTemplate(dataPath, field string) string {
	return fmt.Sprintf("{{- with secret %q -}}{{ .Data.data.%s }}{{- end -}}", dataPath, field)
}

// chartKeys maps entry names to the chart's vault.secrets keys.
var chartKeys = map[string]string{
	"jwt-secret":  "jwt",
	"aes-key":     "aes",
	"rsa-private": "rsa",
	"rsa-public":  "rsaPublic",
	"redis":       "redis",
	"database":    "database",
}

func renderValues(p Params) string {
	var b strings.Builder
	b.WriteString("# The chart's Vault values for these names (tarsctl deploy vault render):\n")
	b.WriteString("#   tarsctl deploy k8s install --values values-vault.yaml\n")
	fmt.Fprintf(&b, "# Install into namespace %s: the role is bound to it.\n", p.Namespace)
	fmt.Fprintf(&b, "serviceAccount:\n  create: true\n  name: %s\n", quote(p.ServiceAccount))
	fmt.Fprintf(&b, "vault:\n  enabled: true\n  role: %s\n  authPath: %s\n  secretsPath: %s\n  secrets:\n",
		quote(p.Role), quote(p.AuthPath), quote(p.SecretsDir))
	for _, e := range podEntries() {
		fmt.Fprintf(&b, "    %s:\n      path: %s\n      field: %s\n", chartKeys[e.Name], quote(p.KV.Data(e.Name)), e.Field)
	}
	return b.String()
}

// quote returns s as a double-quoted YAML (and JSON) string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
