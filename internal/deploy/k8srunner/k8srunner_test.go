package k8srunner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindCompanion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "tarsctl")
	companion := filepath.Join(dir, CompanionName)
	for _, p := range []string{exe, companion} {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	noenv := func(string) string { return "" }
	executable := func() (string, error) { return exe, nil }
	noPath := func(string) (string, error) { return "", errors.New("not found") }

	if p, _, err := FindCompanion(noenv, executable, noPath); err != nil || p != companion {
		t.Errorf("next to tarsctl: %q, %v", p, err)
	}
	other := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string { return map[string]string{EnvCompanion: other}[k] }
	if p, _, err := FindCompanion(env, executable, noPath); err != nil || p != other {
		t.Errorf("$TARSCTL_K8S: %q, %v", p, err)
	}
	lonely := func() (string, error) { return filepath.Join(t.TempDir(), "tarsctl"), nil }
	onPath := func(string) (string, error) { return "/opt/bin/tarsctl-k8s", nil }
	if p, _, err := FindCompanion(noenv, lonely, onPath); err != nil || p != "/opt/bin/tarsctl-k8s" {
		t.Errorf("$PATH: %q, %v", p, err)
	}
	_, looked, err := FindCompanion(noenv, lonely, noPath)
	var nf *CompanionNotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrCompanion) || len(looked) != 2 || len(nf.Looked) != 2 ||
		!strings.Contains(err.Error(), "$PATH") || !strings.Contains(err.Error(), "tarsctl-k8s companion binary, which was not found") {
		t.Errorf("missing: %v (looked %v)", err, looked)
	}
	bad := func(k string) string { return map[string]string{EnvCompanion: filepath.Join(dir, "nope")}[k] }
	if _, _, err := FindCompanion(bad, executable, onPath); err == nil || !strings.Contains(err.Error(), "$TARSCTL_K8S") {
		t.Errorf("a wrong $TARSCTL_K8S must not fall back: %v", err)
	}
}

func TestIsKubernetesCommandLine(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]bool{
		"deploy k8s install":                 true,
		"scale x --replicas 2":               true,
		"restart x --target k8s":             true,
		"status --target=k8s":                true,
		"-test.run=TestX -test.v":            false,
		"restart x --target local -n k8s-ns": false,
	} {
		if got := isKubernetesCommandLine(strings.Fields(args)); got != want {
			t.Errorf("%q: %v, want %v", args, got, want)
		}
	}
}

// TestGetWithoutARunner: without an in-process runner, a process whose
// command line is not a Kubernetes one (this test binary) is not handed
// over, and a process that was handed over never execs again.
func TestGetWithoutARunner(t *testing.T) {
	if _, err := Get(); !errors.Is(err, ErrNotCommandLine) {
		t.Fatalf("Get() = %v, want ErrNotCommandLine", err)
	}
	t.Setenv(envHandedOver, "1")
	t.Setenv(EnvCompanion, "/usr/bin/true")
	_, err := Get()
	if !errors.Is(err, ErrCompanion) || !strings.Contains(err.Error(), "TARSCTL_K8S=/usr/bin/true does not have the Kubernetes commands built in") {
		t.Fatalf("handed over: %v", err)
	}
}
