package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// k8sBuild says how to get the control plane binaries; a missing one fails
// the test with it.
const k8sBuild = "run `make test-deps` or `scripts/k8s-testenv.sh build` (once, ~20 min; cached in ~/.cache/tarsctl-k8s-testenv)"

// KubernetesCluster is a control plane started by [Kubernetes]: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok (one
// fake node that runs pods without containers), all on 127.0.0.1.
type KubernetesCluster struct {
	// Kubeconfig is the path of an admin kubeconfig for it.
	Kubeconfig string
	// Dir holds its state and logs (Dir/log/*.log).
	Dir string
}

var sharedKubernetes = sync.OnceValues(startKubernetes)

// Kubernetes returns the package's shared control plane, started by
// scripts/k8s-testenv.sh on free ports on first use and stopped by [Main]
// when the tests end. One per test binary: tests share it and keep apart by
// namespace. It fails t (never skips) when the binaries are not built.
func Kubernetes(t testing.TB) *KubernetesCluster {
	t.Helper()
	requireMain(t, "Kubernetes")
	c, err := sharedKubernetes()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return c
}

func startKubernetes() (*KubernetesCluster, error) {
	script, err := repoFile("scripts/k8s-testenv.sh")
	if err != nil {
		return nil, err
	}
	bin, err := exec.Command(script, "bin").Output()
	if err != nil {
		return nil, fmt.Errorf("%s bin: %w", script, err)
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(bin)), b)); err != nil {
			return nil, fmt.Errorf("the Kubernetes test control plane is not built (%s missing in %s): %s", b, strings.TrimSpace(string(bin)), k8sBuild)
		}
	}
	var lastErr error
	for range startAttempts {
		dir, err := os.MkdirTemp("", "tarsctl-k8s-testenv-")
		if err != nil {
			return nil, err
		}
		env := os.Environ()
		for _, name := range []string{"ETCD_PORT", "ETCD_PEER_PORT", "APISERVER_PORT", "KCM_PORT", "SCHEDULER_PORT", "KWOK_PORT"} {
			port, err := freePort()
			if err != nil {
				return nil, err
			}
			env = append(env, name+"="+strconv.Itoa(port))
		}
		cmd := exec.Command(script, "up", dir)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil {
			c := &KubernetesCluster{Kubeconfig: filepath.Join(dir, "kubeconfig"), Dir: dir}
			registerShared(c.stop)
			return c, nil
		}
		// A port taken between picking and binding, most likely: stop what
		// started and try other ports.
		lastErr = fmt.Errorf("%s up: %w\n%s%s", script, err, out, logTails(dir))
		down := exec.Command(script, "down", dir)
		_ = down.Run()
		_ = os.RemoveAll(dir)
	}
	return nil, lastErr
}

func (c *KubernetesCluster) stop() error {
	script, err := repoFile("scripts/k8s-testenv.sh")
	if err != nil {
		return err
	}
	out, err := exec.Command(script, "down", c.Dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("k8s-testenv down: %w\n%s", err, out)
	}
	return os.RemoveAll(c.Dir)
}

// logTails returns the last lines of each component's log, for a failed start.
func logTails(dir string) string {
	var b strings.Builder
	logs, _ := filepath.Glob(filepath.Join(dir, "log", "*.log"))
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(l), strings.Join(lines, "\n"))
	}
	return b.String()
}

// repoFile finds rel in the repository holding the working directory.
func repoFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("find %s: %w", rel, err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
