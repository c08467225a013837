package k8s_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/secrets"
	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

type result struct {
	code           int
	stdout, stderr string
}

// run runs the real tarsctl binary, which hands the Kubernetes commands
// over to the real tarsctl-k8s next to it.
func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "TARSCTL_K8S=", "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run tarsctl: %v", err)
	}
	t.Logf("$ tarsctl %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return result{code, out.String(), errb.String()}
}

func must(t *testing.T, r result) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s", r.code, r.stderr)
	}
	return r
}

// TestKubernetesEndToEnd drives the embedded chart and the workload
// commands through the real binaries against a real control plane
// (etcd, kube-apiserver, controller-manager, scheduler, kwok).
func TestKubernetesEndToEnd(t *testing.T) {
	bin := testenv.TarsctlK8s(t)
	cl := testenv.Kubernetes(t)
	const ns = "e2e"
	conn := []string{"--kubeconfig", cl.Kubeconfig, "-n", ns}
	k8s := func(args ...string) []string { return append(append([]string{"deploy", "k8s"}, args...), conn...) }
	cs := clientset(t, cl.Kubeconfig)
	ctx := t.Context()

	// install --wait: every Deployment available.
	r := must(t, run(t, bin, k8s("install", "--profile", "staging", "--create-namespace", "--wait", "--timeout", "3m", "-o", "json")...))
	var rel k8sapi.Release
	if err := json.Unmarshal([]byte(r.stdout), &rel); err != nil || rel.Revision != 1 || rel.Status != "deployed" || rel.Chart == "" {
		t.Fatalf("install -o json = %q (%v)", r.stdout, err)
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(deps.Items) == 0 {
		t.Fatalf("deployments after install: %v, %v", deps, err)
	}
	for _, d := range deps.Items {
		if d.Status.AvailableReplicas < 1 || d.Status.AvailableReplicas != *d.Spec.Replicas {
			t.Errorf("after install --wait %s has %d of %d available", d.Name, d.Status.AvailableReplicas, *d.Spec.Replicas)
		}
	}
	// A second install is refused: exit 1 with a hint at upgrade.
	if r := run(t, bin, k8s("install", "--profile", "staging")...); r.code != 1 || !strings.Contains(r.stderr, "use upgrade") {
		t.Errorf("second install: exit %d, %s", r.code, r.stderr)
	}

	// status --target k8s: the release's Deployments, pods and HPAs.
	r = must(t, run(t, bin, append([]string{"status", "--target", "k8s", "-o", "json"}, conn...)...))
	var st k8sapi.ClusterStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Deployments) != len(deps.Items) || len(st.Pods) == 0 || len(st.HPAs) == 0 {
		t.Fatalf("status --target k8s = %q (%v)", r.stdout, err)
	}
	r = must(t, run(t, bin, append([]string{"status", "--target", "k8s"}, conn...)...))
	if !strings.Contains(r.stdout, "deployment/dashboard-api\t") || !strings.Contains(r.stdout, "pod/dashboard-api-") || !strings.Contains(r.stdout, "hpa/") {
		t.Errorf("status --target k8s text:\n%s", r.stdout)
	}

	// upgrade: a value change shows in the cluster.
	must(t, run(t, bin, k8s("upgrade", "--profile", "staging", "--set-value", "podAnnotations.e2e-mark=v2", "--wait", "--timeout", "3m")...))
	if got := podAnnotation(t, cs, ns, "dashboard-api", "e2e-mark"); got != "v2" {
		t.Errorf("after upgrade the pod template annotation is %q, want v2", got)
	}
	r = must(t, run(t, bin, k8s("history", "-o", "json")...))
	var hist []k8sapi.Release
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil || len(hist) != 2 || hist[1].Revision != 2 || hist[1].Status != "deployed" {
		t.Fatalf("history = %q (%v)", r.stdout, err)
	}

	// rollback to 1: the value is gone again; it needs --yes without a terminal.
	if r := run(t, bin, k8s("rollback", "1")...); r.code != 2 {
		t.Errorf("rollback without --yes: exit %d, want 2", r.code)
	}
	must(t, run(t, bin, k8s("rollback", "1", "--yes", "--wait", "--timeout", "3m")...))
	if got := podAnnotation(t, cs, ns, "dashboard-api", "e2e-mark"); got != "" {
		t.Errorf("after rollback the annotation is %q, want none", got)
	}
	r = must(t, run(t, bin, k8s("status", "-o", "json")...))
	if err := json.Unmarshal([]byte(r.stdout), &rel); err != nil || rel.Revision != 3 || rel.Status != "deployed" {
		t.Errorf("status after rollback = %q (%v)", r.stdout, err)
	}

	// scale: the replicas are observed.
	must(t, run(t, bin, append([]string{"scale", "hypersync", "--replicas", "4"}, conn...)...))
	waitFor(t, "4 available hypersync replicas", func() bool {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "hypersync", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 4 && d.Status.AvailableReplicas == 4
	})
	if r := run(t, bin, append([]string{"scale", "no-such-service", "--replicas", "1"}, conn...)...); r.code != 1 || !strings.Contains(r.stderr, "hypersync") {
		t.Errorf("scale of an unknown service: exit %d, %s", r.code, r.stderr)
	}

	// restart --target k8s: a rollout watched to completion; every pod new.
	before := podSet(t, cs, ns, "dashboard-api")
	r = must(t, run(t, bin, append([]string{"restart", "dashboard-api", "--target", "k8s"}, conn...)...))
	if !strings.Contains(r.stderr, `deployment "dashboard-api" successfully rolled out`) {
		t.Errorf("restart stderr:\n%s", r.stderr)
	}
	assertReplaced(t, before, podSet(t, cs, ns, "dashboard-api"))
	// A watch that cannot finish in time exits 6.
	if r := run(t, bin, append([]string{"restart", "dashboard-api", "--target", "k8s", "--timeout", "1ms"}, conn...)...); r.code != 6 {
		t.Errorf("restart --timeout 1ms: exit %d, want 6", r.code)
	}
	must(t, run(t, bin, append([]string{"restart", "dashboard-api", "--target", "k8s"}, conn...)...))

	// secrets rotate jwt --target k8s: the Secret changes, its users restart.
	before = podSet(t, cs, ns, "dashboard-api")
	r = must(t, run(t, bin, append([]string{"secrets", "rotate", "jwt", "--target", "k8s", "--yes", "-o", "json"}, conn...)...))
	var rot k8sapi.SecretUpdateResult
	if err := json.Unmarshal([]byte(r.stdout), &rot); err != nil || !strings.Contains(strings.Join(rot.Restarted, ","), "dashboard-api") {
		t.Fatalf("rotate -o json = %q (%v)", r.stdout, err)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "tars-jwt-secret", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := string(sec.Data["jwt-secret"])
	if len(first) < 40 || strings.Contains(r.stdout+r.stderr, first) {
		t.Errorf("the new JWT secret is too short or was printed")
	}
	assertReplaced(t, before, podSet(t, cs, ns, "dashboard-api"))
	must(t, run(t, bin, append([]string{"secrets", "rotate", "jwt", "--target", "k8s", "--yes"}, conn...)...))
	sec, _ = cs.CoreV1().Secrets(ns).Get(ctx, "tars-jwt-secret", metav1.GetOptions{})
	if string(sec.Data["jwt-secret"]) == first || string(sec.Data["jwt-secret.previous"]) != first {
		t.Error("a second rotation did not replace the secret and keep the first as .previous")
	}
	must(t, run(t, bin, append([]string{"secrets", "rotate", "jwt", "--target", "k8s", "--rollback", "--yes"}, conn...)...))
	sec, _ = cs.CoreV1().Secrets(ns).Get(ctx, "tars-jwt-secret", metav1.GetOptions{})
	if string(sec.Data["jwt-secret"]) != first {
		t.Error("--rollback did not put the previous secret back")
	}

	redisRotation(t, bin, cs, ns, conn)

	// uninstall: the release and its objects go; the Secret stays.
	must(t, run(t, bin, k8s("uninstall", "--yes", "--wait")...))
	if r := run(t, bin, k8s("status")...); r.code != 1 {
		t.Errorf("status after uninstall: exit %d, want 1", r.code)
	}
	if deps, _ := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); len(deps.Items) != 0 {
		t.Errorf("%d Deployments left after uninstall", len(deps.Items))
	}
	if _, err := cs.CoreV1().Secrets(ns).Get(ctx, "tars-jwt-secret", metav1.GetOptions{}); err != nil {
		t.Errorf("tars-jwt-secret after uninstall: %v", err)
	}
}

// redisRotation: secrets rotate redis-password --target k8s against a real
// ACL Redis. The Secret and the ACL move together; the pods that mount the
// Secret restart; a rollout that does not finish rolls everything back.
func redisRotation(t *testing.T, bin string, cs kubernetes.Interface, ns string, conn []string) {
	ctx := t.Context()
	const old = "redis-password-before-the-rotation"
	srv := testenv.RedisWith(t, testenv.RedisOptions{Users: []string{"tars on >" + old + " ~* &* +@all", "default off"}})
	rotate := func(extra ...string) result {
		args := append([]string{"secrets", "rotate", "redis-password", "--target", "k8s", "--redis-addr", srv.Addr, "--redis-user", "tars", "--yes"}, extra...)
		return run(t, bin, append(args, conn...)...)
	}
	password := func(key string) string {
		sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "tars-redis", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(sec.Data[key])
	}
	auth := func(pw string) error {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "tars", Password: pw, MaxRetries: -1, PoolSize: 1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	wrongpass := func(pw string) bool {
		err := auth(pw)
		return err != nil && strings.HasPrefix(err.Error(), "WRONGPASS")
	}

	// Bad input and a missing Secret change nothing.
	if r := run(t, bin, append([]string{"secrets", "rotate", "redis-password", "--target", "k8s", "--yes"}, conn...)...); r.code != 2 || !strings.Contains(r.stderr, "--redis-addr") {
		t.Errorf("without --redis-addr: exit %d, %s", r.code, r.stderr)
	}
	if r := rotate(); r.code != 1 || !strings.Contains(r.stderr, "tars-redis does not exist") {
		t.Errorf("without the Secret: exit %d, %s", r.code, r.stderr)
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tars-redis"},
		StringData: map[string]string{"password": old}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	unreachable := []string{"secrets", "rotate", "redis-password", "--target", "k8s", "--redis-addr", "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)), "--yes"}
	if r := run(t, bin, append(unreachable, conn...)...); r.code != 3 {
		t.Errorf("unreachable Redis: exit %d, want 3", r.code)
	}
	if r := rotate("--dry-run"); r.code != 0 || password("password") != old || password("password.previous") != "" {
		t.Errorf("--dry-run: exit %d, or the Secret changed", r.code)
	}

	// The rotation: new password in the Secret and the ACL, the old one dead.
	before := podSet(t, cs, ns, "dashboard-api")
	r := must(t, rotate("-o", "json"))
	var res secrets.RedisRotation
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.OldRejected || res.RolledBack || len(res.Steps) != 7 {
		t.Fatalf("rotate -o json = %q (%v)", r.stdout, err)
	}
	assertReplaced(t, before, podSet(t, cs, ns, "dashboard-api"))
	first := password("password")
	switch {
	case first == old || len(first) < 20 || password("password.previous") != old:
		t.Fatalf("after the rotation the Secret holds the old password, a short one, or not the old one as password.previous")
	case strings.Contains(r.stdout+r.stderr, first) || strings.Contains(r.stdout+r.stderr, old):
		t.Error("a password was printed")
	}
	if err := auth(first); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if !wrongpass(old) {
		t.Error("the old password still authenticates")
	}

	// A rollout that cannot finish in time: the Secret and the ACL go back.
	r = rotate("--timeout", "1ms")
	if r.code != 6 || !strings.Contains(r.stderr, "rolled back") {
		t.Errorf("--timeout 1ms: exit %d, want 6 and a rollback\n%s", r.code, r.stderr)
	}
	if password("password") != first {
		t.Error("after the rollback the Secret does not hold the password from before")
	}
	if err := auth(first); err != nil {
		t.Errorf("after the rollback the password from before: %v", err)
	}
	if attempted := password("password.previous"); attempted == first || !wrongpass(attempted) {
		t.Error("after the rollback the password it tried still authenticates")
	}
}

// TestUnreachableCluster: a kubeconfig pointing at nothing exits 3.
func TestUnreachableCluster(t *testing.T) {
	bin := testenv.TarsctlK8s(t)
	kc := t.TempDir() + "/kubeconfig"
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "\"}\nusers:\n- name: u\n  user: {token: x}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"deploy", "k8s", "status"}, {"scale", "x", "--replicas", "1"}, {"status", "--target", "k8s"}} {
		if r := run(t, bin, append(args, "--kubeconfig", kc)...); r.code != 3 {
			t.Errorf("%v: exit %d, want 3", args, r.code)
		}
	}
}

func clientset(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func podAnnotation(t *testing.T, cs kubernetes.Interface, ns, deploy, key string) string {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(t.Context(), deploy, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Annotations[key]
}

// podSet is the names of the running, not terminating pods of deploy.
func podSet(t *testing.T, cs kubernetes.Interface, ns, app string) map[string]bool {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + app})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			m[p.Name] = true
		}
	}
	return m
}

func assertReplaced(t *testing.T, before, after map[string]bool) {
	t.Helper()
	if len(after) == 0 {
		t.Fatal("no pods after the restart")
	}
	for p := range after {
		if before[p] {
			t.Errorf("pod %s was not replaced", p)
		}
	}
}

// waitFor polls cond for up to two minutes: state the cluster reaches
// asynchronously (no timing is asserted, only the end state).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
