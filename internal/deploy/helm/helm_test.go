package helm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tars-ops/tarsctl/internal/deploy/helm"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/kube"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// miniChart is a small chart in the shape of the real one: a Deployment
// per service labelled with its component, reading a Secret by name, and a
// ConfigMap from the values. The domain tests use it so they do not depend
// on the T.A.R.S. chart's content; the CLI tests install the real chart.
var miniChart = []helm.File{
	{Name: "mini/Chart.yaml", Data: []byte("apiVersion: v2\nname: mini\nversion: 0.1.0\nappVersion: \"1.0\"\nkubeVersion: \">=1.30.0-0\"\n")},
	{Name: "mini/values.yaml", Data: []byte("replicas: 2\ngreeting: hello\nprofile: none\n")},
	{Name: "mini/templates/configmap.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  labels: {app.kubernetes.io/instance: {{ .Release.Name }}}
data:
  greeting: {{ .Values.greeting | quote }}
  profile: {{ .Values.profile | quote }}
`)},
	{Name: "mini/templates/deployment.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  labels: {app.kubernetes.io/instance: {{ .Release.Name }}, app.kubernetes.io/component: web}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/instance: {{ .Release.Name }}, app.kubernetes.io/component: web}
  template:
    metadata:
      labels: {app.kubernetes.io/instance: {{ .Release.Name }}, app.kubernetes.io/component: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        env:
        - name: JWT_SECRET
          valueFrom: {secretKeyRef: {name: tars-jwt-secret, key: jwt-secret, optional: true}}
`)},
	{Name: "mini/templates/NOTES.txt", Data: []byte("mini {{ .Release.Name }} installed\n")},
}

func newClient() *helm.Client {
	return &helm.Client{
		ChartFiles: func() ([]helm.File, error) { return miniChart, nil },
		ProfileValues: func(p string) (map[string]any, error) {
			if p != "staging" {
				return nil, errors.New("unknown profile")
			}
			return map[string]any{"profile": p, "replicas": 2}, nil
		},
	}
}

func TestValuesPrecedence(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "v.yaml")
	if err := os.WriteFile(file, []byte("greeting: from-file\nnested: {a: 1, b: 2}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vals, err := newClient().Values(k8sapi.ReleaseRequest{Profile: "staging", ValueFiles: []string{file}, SetValues: []string{"nested.b=3,replicas=5"}})
	if err != nil {
		t.Fatal(err)
	}
	nested := vals["nested"].(map[string]any)
	if vals["profile"] != "staging" || vals["greeting"] != "from-file" || vals["replicas"] != int64(5) || nested["a"] != float64(1) || nested["b"] != int64(3) {
		t.Errorf("values = %#v", vals)
	}
	for _, req := range []k8sapi.ReleaseRequest{
		{Profile: "nope"},
		{ValueFiles: []string{filepath.Join(t.TempDir(), "missing.yaml")}},
		{SetValues: []string{"a.b"}},
	} {
		if _, err := newClient().Values(req); !errors.Is(err, k8sapi.ErrBadInput) {
			t.Errorf("Values(%+v) = %v, want ErrBadInput", req, err)
		}
	}
}

func TestTemplateNeedsNoCluster(t *testing.T) {
	t.Parallel()
	rel, err := newClient().Template(t.Context(), k8sapi.ReleaseRequest{Release: "tpl", Target: k8sapi.Target{Namespace: "x"}, SetValues: []string{"greeting=hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rel.Manifest, `greeting: "hi"`) || !strings.Contains(rel.Manifest, "name: tpl-web") {
		t.Errorf("manifest:\n%s", rel.Manifest)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	port := testenv.FreePort(t)
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:" + itoa(port) + "\", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: x}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newClient().Status(t.Context(), k8sapi.ReleaseRequest{Release: "x", Target: k8sapi.Target{Kubeconfig: kc}})
	if !errors.Is(err, k8sapi.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

// TestReleaseLifecycle drives one release through every verb against the
// real control plane, and the client-go operations on its Deployment.
func TestReleaseLifecycle(t *testing.T) {
	cl := testenv.Kubernetes(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	target := k8sapi.Target{Kubeconfig: cl.Kubeconfig, Namespace: "lifecycle"}
	req := k8sapi.ReleaseRequest{Target: target, Release: "mini", Profile: "staging", Wait: true, Timeout: 2 * time.Minute, CreateNamespace: true}
	c := newClient()

	rel, err := c.Install(ctx, req)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if rel.Revision != 1 || rel.Status != "deployed" || rel.Chart != "mini-0.1.0" || !strings.Contains(rel.Notes, "mini mini installed") {
		t.Fatalf("install = %+v", rel)
	}
	conn, err := kube.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	d, err := conn.Client.AppsV1().Deployments("lifecycle").Get(ctx, "mini-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 2 {
		t.Errorf("after install --wait: %d available replicas, want 2", d.Status.AvailableReplicas)
	}
	if _, err := c.Install(ctx, req); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second install: %v", err)
	}

	up := req
	up.SetValues = []string{"greeting=upgraded"}
	if rel, err = c.Upgrade(ctx, up); err != nil || rel.Revision != 2 {
		t.Fatalf("upgrade = %+v, %v", rel, err)
	}
	if g := configValue(t, conn, "mini-config", "greeting"); g != "upgraded" {
		t.Errorf("after upgrade greeting = %q", g)
	}
	hist, err := c.History(ctx, req)
	if err != nil || len(hist) != 2 || hist[0].Revision != 1 || hist[1].Revision != 2 || hist[1].Status != "deployed" || hist[0].Status != "superseded" {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	rb := req
	rb.Revision = 1
	if rel, err = c.Rollback(ctx, rb); err != nil || rel.Revision != 3 {
		t.Fatalf("rollback = %+v, %v", rel, err)
	}
	if g := configValue(t, conn, "mini-config", "greeting"); g != "hello" {
		t.Errorf("after rollback greeting = %q", g)
	}
	rb.Revision = 9
	if _, err := c.Rollback(ctx, rb); !errors.Is(err, k8sapi.ErrNotFound) {
		t.Errorf("rollback to 9: %v, want ErrNotFound", err)
	}

	// client-go side: scale, watched restart, secret rotation, status.
	sc, err := conn.Scale(ctx, "web", 3)
	if err != nil || sc.Deployment != "mini-web" || sc.Previous != 2 || sc.Replicas != 3 {
		t.Fatalf("scale = %+v, %v", sc, err)
	}
	if _, err := conn.WaitRollout(ctx, "mini-web", 2*time.Minute, nil); err != nil {
		t.Fatalf("wait after scale: %v", err)
	}
	st, err := conn.Workloads(ctx, "mini")
	if err != nil || len(st.Deployments) != 1 || st.Deployments[0].Available != 3 || len(st.Pods) != 3 || !st.Healthy() {
		t.Fatalf("workloads after scale = %+v, %v", st, err)
	}
	before := podNames(st)
	var msgs []string
	w, err := conn.Restart(ctx, "web", 2*time.Minute, func(p k8sapi.RolloutProgress) { msgs = append(msgs, p.Message) })
	if err != nil || w.Updated != 3 || w.Available != 3 {
		t.Fatalf("restart = %+v, %v", w, err)
	}
	if last := msgs[len(msgs)-1]; last != `deployment "mini-web" successfully rolled out` {
		t.Errorf("last rollout message %q", last)
	}
	st, _ = conn.Workloads(ctx, "mini")
	for _, p := range st.Pods {
		if before[p.Name] {
			t.Errorf("pod %s survived the restart", p.Name)
		}
	}
	if _, err := conn.Scale(ctx, "nope", 1); !errors.Is(err, k8sapi.ErrNotFound) || !strings.Contains(err.Error(), "mini-web") {
		t.Errorf("scale nope: %v", err)
	}

	old := []byte("old-secret")
	if _, err := conn.Client.CoreV1().Secrets("lifecycle").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tars-jwt-secret"},
		Data: map[string][]byte{"jwt-secret": old}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before = podNames(st)
	res, err := conn.UpdateSecret(ctx, k8sapi.SecretUpdate{Secret: "tars-jwt-secret", Key: "jwt-secret", Timeout: 2 * time.Minute,
		Generate: func(cur []byte) ([]byte, error) { return []byte("new-secret"), nil }})
	if err != nil || len(res.Restarted) != 1 || res.Restarted[0] != "mini-web" || res.Created {
		t.Fatalf("update secret = %+v, %v", res, err)
	}
	sec, _ := conn.Client.CoreV1().Secrets("lifecycle").Get(ctx, "tars-jwt-secret", metav1.GetOptions{})
	if string(sec.Data["jwt-secret"]) != "new-secret" || !bytes.Equal(sec.Data["jwt-secret.previous"], old) {
		t.Errorf("secret keys after rotation: %v", keys(sec.Data))
	}
	st, _ = conn.Workloads(ctx, "mini")
	for _, p := range st.Pods {
		if before[p.Name] {
			t.Errorf("pod %s survived the secret rotation", p.Name)
		}
	}
	if _, err := conn.UpdateSecret(ctx, k8sapi.SecretUpdate{Secret: "tars-jwt-secret", Key: "jwt-secret", Rollback: true, Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	sec, _ = conn.Client.CoreV1().Secrets("lifecycle").Get(ctx, "tars-jwt-secret", metav1.GetOptions{})
	if !bytes.Equal(sec.Data["jwt-secret"], old) {
		t.Error("rollback did not restore the old secret")
	}

	// A rollout that cannot finish in time: the pods never fit the node.
	if _, err := conn.Client.AppsV1().Deployments("lifecycle").Patch(ctx, "mini-web", "application/strategic-merge-patch+json",
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"1000"}}}]}}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WaitRollout(ctx, "mini-web", 2*time.Second, nil); !errors.Is(err, k8sapi.ErrTimeout) {
		t.Errorf("wait for an impossible rollout: %v, want ErrTimeout", err)
	}

	un, err := c.Uninstall(ctx, req)
	if err != nil || un.Release.Name != "mini" {
		t.Fatalf("uninstall = %+v, %v", un, err)
	}
	if _, err := c.Status(ctx, req); !errors.Is(err, k8sapi.ErrNotFound) {
		t.Errorf("status after uninstall: %v, want ErrNotFound", err)
	}
}

func configValue(t *testing.T, conn *kube.Conn, name, key string) string {
	t.Helper()
	cm, err := conn.Client.CoreV1().ConfigMaps(conn.Namespace).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data[key]
}

func podNames(st *k8sapi.ClusterStatus) map[string]bool {
	m := map[string]bool{}
	for _, p := range st.Pods {
		m[p.Name] = true
	}
	return m
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
