// Package kube does tarsctl's Kubernetes work through client-go: connect
// from a kubeconfig, scale a Deployment, a watched rolling restart, the
// workload status, and Secret rotation. It never prints; progress goes to a
// callback. Only the tarsctl-k8s companion binary links it.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
)

// Conn is a connection to one cluster and namespace.
type Conn struct {
	Flags     *genericclioptions.ConfigFlags
	Namespace string
	Client    kubernetes.Interface
}

// ConfigFlags turns a target into the RESTClientGetter Helm and client-go
// share.
func ConfigFlags(t k8sapi.Target) *genericclioptions.ConfigFlags {
	fl := genericclioptions.NewConfigFlags(true)
	if t.Kubeconfig != "" {
		fl.KubeConfig = &t.Kubeconfig
	}
	if t.Context != "" {
		fl.Context = &t.Context
	}
	if t.Namespace != "" {
		fl.Namespace = &t.Namespace
	}
	return fl
}

// Namespace resolves the target's namespace: the flag, else the context's,
// else "default".
func Namespace(fl *genericclioptions.ConfigFlags) (string, error) {
	ns, _, err := fl.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", Classify(fmt.Errorf("read kubeconfig: %w", err))
	}
	if ns == "" {
		ns = "default"
	}
	return ns, nil
}

// Connect builds a client for t and checks the API server answers.
func Connect(ctx context.Context, t k8sapi.Target) (*Conn, error) {
	fl := ConfigFlags(t)
	ns, err := Namespace(fl)
	if err != nil {
		return nil, err
	}
	rc, err := fl.ToRESTConfig()
	if err != nil {
		return nil, Classify(fmt.Errorf("read kubeconfig: %w", err))
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, Classify(fmt.Errorf("kubernetes client: %w", err))
	}
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		return nil, Classify(fmt.Errorf("reach the Kubernetes API at %s: %w", rc.Host, err))
	}
	return &Conn{Flags: fl, Namespace: ns, Client: cs}, nil
}

var sentinels = []error{k8sapi.ErrUnreachable, k8sapi.ErrTimeout, k8sapi.ErrNotFound, k8sapi.ErrForbidden, k8sapi.ErrBadInput}

// Classify wraps err with the k8sapi sentinel that fits it, so the CLI can
// pick the exit code; it keeps the message.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return err
		}
	}
	var (
		urlErr *url.Error
		netErr *net.OpError
		dnsErr *net.DNSError
	)
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(msg, "context deadline exceeded"), strings.Contains(msg, "would exceed context deadline"),
		strings.Contains(msg, "timed out waiting for the condition"):
		return fmt.Errorf("%w: %w", k8sapi.ErrTimeout, err)
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &dnsErr), errors.As(err, &netErr),
		errors.As(err, &urlErr), strings.Contains(msg, "connection refused"), strings.Contains(msg, "Kubernetes cluster unreachable"):
		return fmt.Errorf("%w: %w", k8sapi.ErrUnreachable, err)
	case apierrors.IsUnauthorized(err), apierrors.IsForbidden(err):
		return fmt.Errorf("%w: %w", k8sapi.ErrForbidden, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %w", k8sapi.ErrNotFound, err)
	case clientcmd.IsEmptyConfig(err), clientcmd.IsConfigurationInvalid(err), errors.Is(err, fs.ErrNotExist), strings.Contains(msg, "context was not found"):
		return fmt.Errorf("%w: %w", k8sapi.ErrBadInput, err)
	}
	return err
}

func isNotFound(err error) bool { return err != nil && apierrors.IsNotFound(err) }
