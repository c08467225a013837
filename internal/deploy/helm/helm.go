// Package helm installs and manages the T.A.R.S. release with the Helm v3
// SDK (helm.sh/helm/v3/pkg/action): no helm binary. It never prints. Only
// the tarsctl-k8s companion binary links it.
package helm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/kube"
)

// File is one file of a chart, by its path inside the chart directory
// ("tars/Chart.yaml" or "Chart.yaml").
type File struct {
	Name string
	Data []byte
}

// Client runs the Helm verbs for one chart.
type Client struct {
	// ChartFiles returns the chart's files.
	ChartFiles func() ([]File, error)
	// ProfileValues returns a profile's chart values (nil func: profiles
	// are not supported and a non-empty Profile is an error).
	ProfileValues func(profile string) (map[string]any, error)
	// Log receives Helm's debug lines (nil: dropped).
	Log func(format string, v ...any)
}

// LoadChart loads the chart from its files.
func (c *Client) LoadChart() (*chart.Chart, error) {
	files, err := c.ChartFiles()
	if err != nil {
		return nil, fmt.Errorf("read the chart: %w", err)
	}
	buf := make([]*loader.BufferedFile, 0, len(files))
	prefix := ""
	for _, f := range files {
		if strings.HasSuffix(f.Name, "/Chart.yaml") && strings.Count(f.Name, "/") == 1 {
			prefix = strings.TrimSuffix(f.Name, "Chart.yaml")
		}
	}
	for _, f := range files {
		buf = append(buf, &loader.BufferedFile{Name: strings.TrimPrefix(f.Name, prefix), Data: f.Data})
	}
	ch, err := loader.LoadFiles(buf)
	if err != nil {
		return nil, fmt.Errorf("load the chart: %w", err)
	}
	return ch, nil
}

// Values merges the request's values: the profile's, then each values file,
// then each --set-value.
func (c *Client) Values(req k8sapi.ReleaseRequest) (map[string]any, error) {
	vals := map[string]any{}
	if req.Profile != "" {
		if c.ProfileValues == nil {
			return nil, fmt.Errorf("%w: this chart has no profile values", k8sapi.ErrBadInput)
		}
		pv, err := c.ProfileValues(req.Profile)
		if err != nil {
			return nil, fmt.Errorf("%w: profile %q: %w", k8sapi.ErrBadInput, req.Profile, err)
		}
		vals = merge(vals, pv)
	}
	for _, path := range req.ValueFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: values file: %w", k8sapi.ErrBadInput, err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%w: values file %s: %w", k8sapi.ErrBadInput, path, err)
		}
		vals = merge(vals, m)
	}
	for _, kv := range req.SetValues {
		if err := strvals.ParseInto(kv, vals); err != nil {
			return nil, fmt.Errorf("%w: --set-value %q: %w", k8sapi.ErrBadInput, kv, err)
		}
	}
	return vals, nil
}

// merge deep-merges src over dst (maps merge, anything else replaces).
func merge(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = merge(dm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// config connects an action.Configuration to the request's cluster and
// namespace, with releases stored in Secrets (Helm's default).
func (c *Client) config(ctx context.Context, t k8sapi.Target) (*action.Configuration, string, error) {
	conn, err := kube.Connect(ctx, t)
	if err != nil {
		return nil, "", err
	}
	cfg := new(action.Configuration)
	if err := cfg.Init(conn.Flags, conn.Namespace, "secret", c.log); err != nil {
		return nil, "", classify(fmt.Errorf("helm: %w", err))
	}
	return cfg, conn.Namespace, nil
}

func (c *Client) log(format string, v ...any) {
	if c.Log != nil {
		c.Log(format, v...)
	}
}

// Install installs the chart as a new release.
func (c *Client) Install(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	ch, vals, err := c.prepare(req)
	if err != nil {
		return nil, err
	}
	cfg, ns, err := c.config(ctx, req.Target)
	if err != nil {
		return nil, err
	}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = req.Release, ns
	in.Wait, in.Timeout, in.CreateNamespace = req.Wait, req.Timeout, req.CreateNamespace
	if req.DryRun {
		in.DryRun, in.DryRunOption = true, "server"
	}
	rel, err := in.RunWithContext(ctx, ch, vals)
	if err != nil {
		if strings.Contains(err.Error(), "cannot re-use a name that is still in use") {
			return nil, fmt.Errorf("release %s already exists in namespace %s: use upgrade (%w)", req.Release, ns, err)
		}
		return nil, classify(fmt.Errorf("install release %s: %w", req.Release, err))
	}
	return convert(rel), nil
}

// Upgrade upgrades the release to the chart with the request's values.
func (c *Client) Upgrade(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	ch, vals, err := c.prepare(req)
	if err != nil {
		return nil, err
	}
	cfg, ns, err := c.config(ctx, req.Target)
	if err != nil {
		return nil, err
	}
	up := action.NewUpgrade(cfg)
	up.Namespace, up.Wait, up.Timeout = ns, req.Wait, req.Timeout
	if req.DryRun {
		up.DryRun, up.DryRunOption = true, "server"
	}
	rel, err := up.RunWithContext(ctx, req.Release, ch, vals)
	if err != nil {
		return nil, classify(fmt.Errorf("upgrade release %s in namespace %s: %w", req.Release, ns, err))
	}
	return convert(rel), nil
}

// Rollback rolls the release back to req.Revision (0: the previous one)
// and returns the new current revision.
func (c *Client) Rollback(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	cfg, ns, err := c.config(ctx, req.Target)
	if err != nil {
		return nil, err
	}
	// Check the release and the revision first, for a clear error.
	hist, err := action.NewHistory(cfg).Run(req.Release)
	if err != nil {
		return nil, classify(fmt.Errorf("release %s in namespace %s: %w", req.Release, ns, err))
	}
	if req.Revision > 0 {
		found := false
		for _, r := range hist {
			found = found || r.Version == req.Revision
		}
		if !found {
			return nil, fmt.Errorf("%w: release %s has no revision %d (it has 1 to %d)", k8sapi.ErrNotFound, req.Release, req.Revision, latest(hist).Version)
		}
	} else if len(hist) < 2 {
		return nil, fmt.Errorf("%w: release %s has only one revision: nothing to roll back to", k8sapi.ErrNotFound, req.Release)
	}
	rb := action.NewRollback(cfg)
	rb.Version, rb.Wait, rb.Timeout, rb.DryRun = req.Revision, req.Wait, req.Timeout, req.DryRun
	if err := rb.Run(req.Release); err != nil {
		return nil, classify(fmt.Errorf("roll back release %s: %w", req.Release, err))
	}
	if req.DryRun {
		return convert(latest(hist)), nil
	}
	rel, err := action.NewStatus(cfg).Run(req.Release)
	if err != nil {
		return nil, classify(fmt.Errorf("status of release %s: %w", req.Release, err))
	}
	return convert(rel), nil
}

// Uninstall removes the release.
func (c *Client) Uninstall(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.UninstallResult, error) {
	cfg, ns, err := c.config(ctx, req.Target)
	if err != nil {
		return nil, err
	}
	un := action.NewUninstall(cfg)
	un.DryRun, un.KeepHistory, un.Wait, un.Timeout = req.DryRun, req.KeepHistory, req.Wait, req.Timeout
	res, err := un.Run(req.Release)
	if err != nil {
		return nil, classify(fmt.Errorf("uninstall release %s from namespace %s: %w", req.Release, ns, err))
	}
	out := &k8sapi.UninstallResult{Info: res.Info}
	if res.Release != nil {
		out.Release = *convert(res.Release)
	}
	return out, nil
}

// Status returns the release's current revision.
func (c *Client) Status(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	cfg, ns, err := c.config(ctx, req.Target)
	if err != nil {
		return nil, err
	}
	rel, err := action.NewStatus(cfg).Run(req.Release)
	if err != nil {
		return nil, classify(fmt.Errorf("release %s in namespace %s: %w", req.Release, ns, err))
	}
	return convert(rel), nil
}

// History returns the release's revisions, oldest first.
func (c *Client) History(ctx context.Context, req k8sapi.ReleaseRequest) ([]k8sapi.Release, error) {
	cfg, ns, err := c.config(ctx, req.Target)
	if err != nil {
		return nil, err
	}
	h := action.NewHistory(cfg)
	h.Max = req.Max
	if h.Max == 0 {
		h.Max = 256
	}
	revs, err := h.Run(req.Release)
	if err != nil {
		return nil, classify(fmt.Errorf("release %s in namespace %s: %w", req.Release, ns, err))
	}
	// Newest last, at most Max of the newest.
	sortByVersion(revs)
	if req.Max > 0 && len(revs) > req.Max {
		revs = revs[len(revs)-req.Max:]
	}
	out := make([]k8sapi.Release, 0, len(revs))
	for _, r := range revs {
		out = append(out, *convert(r))
	}
	return out, nil
}

// TemplateKubeVersion is the Kubernetes version template renders for:
// the one the linked client-go (v0.37) belongs to.
const TemplateKubeVersion = "v1.37.0"

// Template renders the chart client-side, without a cluster.
func (c *Client) Template(ctx context.Context, req k8sapi.ReleaseRequest) (*k8sapi.Release, error) {
	ch, vals, err := c.prepare(req)
	if err != nil {
		return nil, err
	}
	ns := req.Namespace
	if ns == "" {
		ns = "default"
	}
	cfg := &action.Configuration{Log: c.log}
	in := action.NewInstall(cfg)
	in.ReleaseName, in.Namespace = req.Release, ns
	in.DryRun, in.ClientOnly, in.Replace, in.IncludeCRDs = true, true, true, true
	// Helm's default capabilities claim Kubernetes v1.20 when it cannot
	// read its build info; render for the version client-go speaks.
	kv, err := chartutil.ParseKubeVersion(TemplateKubeVersion)
	if err != nil {
		return nil, err
	}
	in.KubeVersion = kv
	rel, err := in.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, fmt.Errorf("render the chart: %w", err)
	}
	out := convert(rel)
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	b.WriteString("\n")
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, strings.TrimSpace(h.Manifest))
	}
	out.Manifest = b.String()
	return out, nil
}

func (c *Client) prepare(req k8sapi.ReleaseRequest) (*chart.Chart, map[string]any, error) {
	vals, err := c.Values(req)
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.LoadChart()
	if err != nil {
		return nil, nil, err
	}
	return ch, vals, nil
}

func convert(r *release.Release) *k8sapi.Release {
	out := &k8sapi.Release{Name: r.Name, Namespace: r.Namespace, Revision: r.Version, Manifest: r.Manifest}
	if r.Info != nil {
		out.Status = r.Info.Status.String()
		out.Updated = r.Info.LastDeployed.Time
		out.Description = r.Info.Description
		out.Notes = strings.TrimSpace(r.Info.Notes)
	}
	if r.Chart != nil && r.Chart.Metadata != nil {
		out.Chart = r.Chart.Metadata.Name + "-" + r.Chart.Metadata.Version
		out.AppVersion = r.Chart.Metadata.AppVersion
	}
	return out
}

func latest(revs []*release.Release) *release.Release {
	var l *release.Release
	for _, r := range revs {
		if l == nil || r.Version > l.Version {
			l = r
		}
	}
	return l
}

func sortByVersion(revs []*release.Release) {
	for i := 1; i < len(revs); i++ {
		for j := i; j > 0 && revs[j].Version < revs[j-1].Version; j-- {
			revs[j], revs[j-1] = revs[j-1], revs[j]
		}
	}
}

// classify adds Helm's own not-found to kube.Classify.
func classify(err error) error {
	if errors.Is(err, driver.ErrReleaseNotFound) || errors.Is(err, driver.ErrNoDeployedReleases) {
		return fmt.Errorf("%w: %w", k8sapi.ErrNotFound, err)
	}
	return kube.Classify(err)
}
