package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
)

// UpdateSecret rotates one key of a Secret: the new value from u.Generate
// goes under u.Key and the replaced one under Key+PreviousSuffix (with
// u.Rollback the two swap). Then every Deployment whose pods use the
// Secret gets a rolling restart, watched until rolled out. A missing Secret
// is created (labelled managed-by tarsctl). The update is conditional on
// the resourceVersion read, so a concurrent writer is not overwritten.
func (c *Conn) UpdateSecret(ctx context.Context, u k8sapi.SecretUpdate) (*k8sapi.SecretUpdateResult, error) {
	api := c.Client.CoreV1().Secrets(c.Namespace)
	res := &k8sapi.SecretUpdateResult{Secret: u.Secret, Namespace: c.Namespace, Key: u.Key, Restarted: []string{}}
	sec, err := api.Get(ctx, u.Secret, metav1.GetOptions{})
	switch {
	case isNotFound(err):
		if u.Rollback {
			return nil, fmt.Errorf("%w: Secret %s/%s does not exist: nothing to roll back", k8sapi.ErrNotFound, c.Namespace, u.Secret)
		}
		res.Created = true
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: u.Secret, Namespace: c.Namespace,
				Labels: map[string]string{"app.kubernetes.io/part-of": "tars", "app.kubernetes.io/managed-by": "tarsctl"}},
			Type: corev1.SecretTypeOpaque,
		}
	case err != nil:
		return nil, Classify(fmt.Errorf("get Secret %s/%s: %w", c.Namespace, u.Secret, err))
	}
	prevKey := u.Key + k8sapi.PreviousSuffix
	current := sec.Data[u.Key]
	var next []byte
	if u.Rollback {
		next = sec.Data[prevKey]
		if len(next) == 0 {
			return nil, fmt.Errorf("%w: Secret %s/%s has no %s to roll back to", k8sapi.ErrNotFound, c.Namespace, u.Secret, prevKey)
		}
		res.RolledBack = true
	} else {
		if next, err = u.Generate(current); err != nil {
			return nil, err
		}
		if bytes.Equal(next, current) {
			return nil, fmt.Errorf("the generated value of %s equals the current one", u.Key)
		}
	}
	deps, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, Classify(fmt.Errorf("list deployments in %s: %w", c.Namespace, err))
	}
	for _, d := range deps.Items {
		if usesSecret(&d.Spec.Template.Spec, u.Secret) {
			res.Restarted = append(res.Restarted, d.Name)
		}
	}
	if u.DryRun {
		return res, nil
	}
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	if len(current) > 0 {
		sec.Data[prevKey] = current
	}
	sec.Data[u.Key] = next
	if res.Created {
		sec, err = api.Create(ctx, sec, metav1.CreateOptions{})
	} else {
		sec, err = api.Update(ctx, sec, metav1.UpdateOptions{})
	}
	if err != nil {
		// Never the error's object dump: it would hold the values.
		return nil, classifyRedacted(err, fmt.Sprintf("write Secret %s/%s", c.Namespace, u.Secret))
	}
	res.ResourceVer = sec.ResourceVersion
	at := time.Now()
	for _, name := range res.Restarted {
		if err := c.restartDeployment(ctx, name, at); err != nil {
			return res, err
		}
	}
	for _, name := range res.Restarted {
		if _, err := c.WaitRollout(ctx, name, u.Timeout, u.Progress); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ReadSecret returns one key of a Secret. A missing Secret or key is
// [k8sapi.ErrNotFound].
func (c *Conn) ReadSecret(ctx context.Context, name, key string) ([]byte, error) {
	sec, err := c.Client.CoreV1().Secrets(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case isNotFound(err):
		return nil, fmt.Errorf("%w: Secret %s/%s does not exist", k8sapi.ErrNotFound, c.Namespace, name)
	case err != nil:
		return nil, classifyRedacted(err, fmt.Sprintf("get Secret %s/%s", c.Namespace, name))
	}
	v, ok := sec.Data[key]
	if !ok {
		return nil, fmt.Errorf("%w: Secret %s/%s has no key %s", k8sapi.ErrNotFound, c.Namespace, name, key)
	}
	return v, nil
}

// classifyRedacted classifies err but reports only its redacted form.
func classifyRedacted(err error, what string) error {
	c := Classify(err)
	for _, s := range sentinels {
		if errors.Is(c, s) {
			return fmt.Errorf("%w: %s: %v", s, what, redactedErr(err))
		}
	}
	return fmt.Errorf("%s: %v", what, redactedErr(err))
}

// redactedErr keeps an API error's status reason and drops anything else.
func redactedErr(err error) error {
	if s, ok := err.(interface{ Status() metav1.Status }); ok {
		st := s.Status()
		return fmt.Errorf("%s (%s)", st.Reason, st.Message)
	}
	return err
}
