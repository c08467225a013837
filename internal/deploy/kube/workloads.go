package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
)

// Labels the chart puts on its objects.
const (
	LabelComponent = "app.kubernetes.io/component"
	LabelInstance  = "app.kubernetes.io/instance"
	// RestartedAtAnnotation is what `kubectl rollout restart` sets on the
	// pod template.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
)

// FindDeployment returns the Deployment for service: the one named
// service, else the one labelled app.kubernetes.io/component=service.
func (c *Conn) FindDeployment(ctx context.Context, service string) (*appsv1.Deployment, error) {
	d, err := c.Client.AppsV1().Deployments(c.Namespace).Get(ctx, service, metav1.GetOptions{})
	if err == nil {
		return d, nil
	}
	if !isNotFound(err) {
		return nil, Classify(fmt.Errorf("get deployment %s/%s: %w", c.Namespace, service, err))
	}
	list, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelComponent + "=" + service})
	if err != nil {
		return nil, Classify(fmt.Errorf("list deployments in %s: %w", c.Namespace, err))
	}
	switch len(list.Items) {
	case 1:
		return &list.Items[0], nil
	case 0:
		all, _ := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{})
		var names []string
		if all != nil {
			for _, d := range all.Items {
				names = append(names, d.Name)
			}
		}
		have := "none"
		if len(names) > 0 {
			have = strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w: no Deployment %q (by name or %s label) in namespace %s; there: %s", k8sapi.ErrNotFound, service, LabelComponent, c.Namespace, have)
	default:
		var names []string
		for _, d := range list.Items {
			names = append(names, d.Name)
		}
		return nil, fmt.Errorf("%w: %d Deployments are labelled %s=%s in namespace %s (%s): name one", k8sapi.ErrBadInput, len(names), LabelComponent, service, c.Namespace, strings.Join(names, ", "))
	}
}

// Scale sets service's Deployment to replicas through the scale
// subresource.
func (c *Conn) Scale(ctx context.Context, service string, replicas int32) (*k8sapi.ScaleResult, error) {
	d, err := c.FindDeployment(ctx, service)
	if err != nil {
		return nil, err
	}
	api := c.Client.AppsV1().Deployments(c.Namespace)
	var prev int32
	// The controller updates the Deployment while a rollout runs (right
	// after an upgrade or a rollback): a conflict means "read it again",
	// as kubectl scale does, not a failure.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := api.GetScale(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get scale of deployment %s: %w", d.Name, err)
		}
		prev = sc.Spec.Replicas
		sc.Spec.Replicas = replicas
		if _, err := api.UpdateScale(ctx, d.Name, sc, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("scale deployment %s: %w", d.Name, err)
		}
		return nil
	})
	if err != nil {
		return nil, Classify(err)
	}
	return &k8sapi.ScaleResult{Deployment: d.Name, Namespace: c.Namespace, Previous: prev, Replicas: replicas}, nil
}

// Restart sets the restartedAt annotation on service's Deployment pod
// template (as kubectl rollout restart) and watches the rollout until it
// completes or timeout passes.
func (c *Conn) Restart(ctx context.Context, service string, timeout time.Duration, progress func(k8sapi.RolloutProgress)) (*k8sapi.Workload, error) {
	d, err := c.FindDeployment(ctx, service)
	if err != nil {
		return nil, err
	}
	if err := c.restartDeployment(ctx, d.Name, time.Now()); err != nil {
		return nil, err
	}
	return c.WaitRollout(ctx, d.Name, timeout, progress)
}

func (c *Conn) restartDeployment(ctx context.Context, name string, at time.Time) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`, RestartedAtAnnotation, at.UTC().Format(time.RFC3339Nano))
	_, err := c.Client.AppsV1().Deployments(c.Namespace).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return Classify(fmt.Errorf("restart deployment %s/%s: %w", c.Namespace, name, err))
	}
	return nil
}

// WaitRollout polls the Deployment the way `kubectl rollout status` judges
// it until its latest generation is fully rolled out; after timeout it
// returns an error wrapping [k8sapi.ErrTimeout].
func (c *Conn) WaitRollout(ctx context.Context, name string, timeout time.Duration, progress func(k8sapi.RolloutProgress)) (*k8sapi.Workload, error) {
	if progress == nil {
		progress = func(k8sapi.RolloutProgress) {}
	}
	var last k8sapi.Workload
	var lastMsg string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		d, err := c.Client.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if strings.Contains(err.Error(), "would exceed context deadline") {
				// client-go's rate limiter refuses a request that could
				// not start before the deadline: the timeout, a little
				// early. Let the poll run out.
				return false, nil
			}
			return false, Classify(fmt.Errorf("get deployment %s/%s: %w", c.Namespace, name, err))
		}
		last = workload(d)
		msg, done, err := rolloutStatus(d)
		if err != nil {
			return false, err
		}
		lastMsg = msg
		progress(k8sapi.RolloutProgress{Deployment: name, Workload: last, Message: msg, Done: done})
		return done, nil
	})
	if err != nil {
		if wait.Interrupted(err) || ctx.Err() == nil && strings.Contains(err.Error(), "context deadline exceeded") {
			if lastMsg == "" {
				// Timed out before the first look at the Deployment.
				return &last, fmt.Errorf("%w: deployment %s/%s not rolled out after %s", k8sapi.ErrTimeout, c.Namespace, name, timeout)
			}
			return &last, fmt.Errorf("%w: deployment %s/%s not rolled out after %s (%s)", k8sapi.ErrTimeout, c.Namespace, name, timeout, lastMsg)
		}
		return &last, err
	}
	return &last, nil
}

// rolloutStatus is kubectl's DeploymentStatusViewer logic.
func rolloutStatus(d *appsv1.Deployment) (string, bool, error) {
	if d.Generation > d.Status.ObservedGeneration {
		return fmt.Sprintf("Waiting for deployment %q spec update to be observed...", d.Name), false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, s.UpdatedReplicas, want), false, nil
	case s.Replicas > s.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, s.Replicas-s.UpdatedReplicas), false, nil
	case s.AvailableReplicas < s.UpdatedReplicas:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, s.AvailableReplicas, s.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", d.Name), true, nil
}

func workload(d *appsv1.Deployment) k8sapi.Workload {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return k8sapi.Workload{Name: d.Name, Service: serviceOf(d.Labels), Replicas: want,
		Ready: d.Status.ReadyReplicas, Updated: d.Status.UpdatedReplicas, Available: d.Status.AvailableReplicas}
}

// Workloads lists the release's Deployments, pods and HPAs (every one in
// the namespace when release is empty).
func (c *Conn) Workloads(ctx context.Context, release string) (*k8sapi.ClusterStatus, error) {
	sel := metav1.ListOptions{}
	if release != "" {
		sel.LabelSelector = LabelInstance + "=" + release
	}
	st := &k8sapi.ClusterStatus{Namespace: c.Namespace, Deployments: []k8sapi.Workload{}, Pods: []k8sapi.Pod{}, HPAs: []k8sapi.HPA{}}
	ds, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, sel)
	if err != nil {
		return nil, Classify(fmt.Errorf("list deployments in %s: %w", c.Namespace, err))
	}
	for i := range ds.Items {
		st.Deployments = append(st.Deployments, workload(&ds.Items[i]))
	}
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, sel)
	if err != nil {
		return nil, Classify(fmt.Errorf("list pods in %s: %w", c.Namespace, err))
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue // terminating: kubectl get pods shows them, status is about what serves
		}
		pod := k8sapi.Pod{Name: p.Name, Service: serviceOf(p.Labels), Phase: string(p.Status.Phase), Node: p.Spec.NodeName, Created: p.CreationTimestamp.Time}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				pod.Ready = cond.Status == corev1.ConditionTrue
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			pod.Restarts += cs.RestartCount
		}
		st.Pods = append(st.Pods, pod)
	}
	hpas, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers(c.Namespace).List(ctx, sel)
	if err != nil {
		return nil, Classify(fmt.Errorf("list HPAs in %s: %w", c.Namespace, err))
	}
	for _, h := range hpas.Items {
		hpa := k8sapi.HPA{Name: h.Name, Target: h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name, MaxReplicas: h.Spec.MaxReplicas,
			CurrentReplicas: h.Status.CurrentReplicas, DesiredReplicas: h.Status.DesiredReplicas, MinReplicas: 1, Metrics: hpaMetrics(&h)}
		if h.Spec.MinReplicas != nil {
			hpa.MinReplicas = *h.Spec.MinReplicas
		}
		st.HPAs = append(st.HPAs, hpa)
	}
	sort.Slice(st.Deployments, func(i, j int) bool { return st.Deployments[i].Name < st.Deployments[j].Name })
	sort.Slice(st.Pods, func(i, j int) bool { return st.Pods[i].Name < st.Pods[j].Name })
	sort.Slice(st.HPAs, func(i, j int) bool { return st.HPAs[i].Name < st.HPAs[j].Name })
	return st, nil
}

// hpaMetrics describes resource metrics as "cpu <unknown>/70%".
func hpaMetrics(h *autoscalingv2.HorizontalPodAutoscaler) string {
	current := map[string]string{}
	for _, m := range h.Status.CurrentMetrics {
		if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
			current[string(m.Resource.Name)] = fmt.Sprintf("%d%%", *m.Resource.Current.AverageUtilization)
		}
	}
	var parts []string
	for _, m := range h.Spec.Metrics {
		if m.Resource == nil || m.Resource.Target.AverageUtilization == nil {
			continue
		}
		name := string(m.Resource.Name)
		cur, ok := current[name]
		if !ok {
			cur = "<unknown>"
		}
		parts = append(parts, fmt.Sprintf("%s %s/%d%%", name, cur, *m.Resource.Target.AverageUtilization))
	}
	return strings.Join(parts, ", ")
}

// usesSecret reports whether a pod template reads the Secret: env
// secretKeyRef, envFrom, a secret volume or a projected one.
func usesSecret(spec *corev1.PodSpec, secret string) bool {
	containers := slices.Concat(spec.InitContainers, spec.Containers)
	for _, c := range containers {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == secret {
				return true
			}
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && e.SecretRef.Name == secret {
				return true
			}
		}
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			return true
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil && s.Secret.Name == secret {
					return true
				}
			}
		}
	}
	return false
}

// serviceOf is the T.A.R.S. service an object belongs to, by its labels.
func serviceOf(labels map[string]string) string {
	if s := labels[LabelComponent]; s != "" {
		return s
	}
	return labels["app.kubernetes.io/name"]
}
