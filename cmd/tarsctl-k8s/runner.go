package main

import (
	"context"
	"time"

	"github.com/tars-ops/tarsctl/internal/deploy/chart"
	"github.com/tars-ops/tarsctl/internal/deploy/helm"
	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/deploy/kube"
)

// runner is the in-process [k8srunner.Runner]: the embedded chart through
// internal/deploy/helm, the workloads and Secrets through
// internal/deploy/kube.
type runner struct{ helm *helm.Client }

var _ k8srunner.Runner = runner{}

func newRunner() runner {
	return runner{helm: &helm.Client{
		ChartFiles: func() ([]helm.File, error) {
			files, err := chart.Files()
			if err != nil {
				return nil, err
			}
			out := make([]helm.File, len(files))
			for i, f := range files {
				out[i] = helm.File{Name: f.Name, Data: f.Data}
			}
			return out, nil
		},
		ProfileValues: chart.ProfileValues,
	}}
}

func (r runner) Install(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	return r.helm.Install(ctx, req)
}

func (r runner) Upgrade(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	return r.helm.Upgrade(ctx, req)
}

func (r runner) Rollback(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	return r.helm.Rollback(ctx, req)
}

func (r runner) Uninstall(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.UninstallResult, error) {
	return r.helm.Uninstall(ctx, req)
}

func (r runner) Status(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	return r.helm.Status(ctx, req)
}

func (r runner) History(ctx context.Context, req k8sapi.ReleaseRequest) ([]k8sapi.Release, error) {
	return r.helm.History(ctx, req)
}

func (r runner) Template(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	return r.helm.Template(ctx, req)
}

func (r runner) Scale(ctx context.Context, t k8sapi.Target, service string, replicas int32) (*k8sapi.ScaleResult, error) {
	c, err := kube.Connect(ctx, t)
	if err != nil {
		return nil, err
	}
	return c.Scale(ctx, service, replicas)
}

func (r runner) Restart(ctx context.Context, t k8sapi.Target, service string, timeout time.Duration, progress func(k8sapi.RolloutProgress)) (*k8sapi.Workload, error) {
	c, err := kube.Connect(ctx, t)
	if err != nil {
		return nil, err
	}
	return c.Restart(ctx, service, timeout, progress)
}

func (r runner) Workloads(ctx context.Context, t k8sapi.Target, release string) (*k8sapi.ClusterStatus, error) {
	c, err := kube.Connect(ctx, t)
	if err != nil {
		return nil, err
	}
	return c.Workloads(ctx, release)
}

func (r runner) UpdateSecret(ctx context.Context, u k8sapi.SecretUpdate) (*k8sapi.SecretUpdateResult, error) {
	c, err := kube.Connect(ctx, u.Target)
	if err != nil {
		return nil, err
	}
	return c.UpdateSecret(ctx, u)
}

func (r runner) ReadSecret(ctx context.Context, t k8sapi.Target, secret, key string) ([]byte, error) {
	c, err := kube.Connect(ctx, t)
	if err != nil {
		return nil, err
	}
	return c.ReadSecret(ctx, secret, key)
}
