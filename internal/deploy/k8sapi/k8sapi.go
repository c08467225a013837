// Package k8sapi holds the plain types, defaults and errors that tarsctl's
// Kubernetes commands, the runner they get from internal/deploy/k8srunner,
// and its implementation (internal/deploy/helm, internal/deploy/kube) share.
//
// It imports neither Helm nor client-go: tarsctl links it, and those
// libraries cost ~80 ms of package initialisation at every start, so they
// live only in the tarsctl-k8s companion binary.
package k8sapi

import (
	"errors"
	"time"
)

// DefaultRelease is the Helm release name unless the user names another.
const DefaultRelease = "tars"

// DefaultRolloutTimeout is how long a rollout restart is watched when the
// user gave no timeout.
const DefaultRolloutTimeout = 5 * time.Minute

// Errors the implementation wraps so the commands can pick an exit code.
var (
	// ErrUnreachable: the Kubernetes API server could not be reached (exit 3).
	ErrUnreachable = errors.New("the Kubernetes API is not reachable")
	// ErrTimeout: a wait (--wait, a rollout) did not finish in time (exit 6).
	ErrTimeout = errors.New("timed out")
	// ErrNotFound: the release, workload or Secret does not exist (exit 1).
	ErrNotFound = errors.New("not found")
	// ErrForbidden: the API refused the credentials (exit 4).
	ErrForbidden = errors.New("permission denied by the Kubernetes API")
	// ErrBadInput: a values file, --set-value or revision was wrong (exit 2).
	ErrBadInput = errors.New("bad input")
)

// Target says which cluster and namespace to talk to.
type Target struct {
	Kubeconfig string // empty: $KUBECONFIG, then ~/.kube/config
	Context    string // empty: the kubeconfig's current context
	Namespace  string // empty: the context's namespace, then "default"
}

// ReleaseRequest is the input of the Helm verbs.
type ReleaseRequest struct {
	Target
	Release         string
	Profile         string   // chart.ProfileValues(Profile) are the base values; empty: the chart's defaults
	ValueFiles      []string // merged over the profile, in order
	SetValues       []string // key=value (Helm --set syntax), over the files
	Wait            bool
	Timeout         time.Duration
	DryRun          bool
	CreateNamespace bool
	Revision        int // rollback: 0 is the previous revision
	KeepHistory     bool
	Max             int // history: 0 is all
}

// Release is one revision of a Helm release.
type Release struct {
	Name        string    `json:"name"`
	Namespace   string    `json:"namespace"`
	Revision    int       `json:"revision"`
	Status      string    `json:"status"`
	Chart       string    `json:"chart"`
	AppVersion  string    `json:"app_version"`
	Updated     time.Time `json:"updated"`
	Description string    `json:"description"`
	Notes       string    `json:"notes,omitempty"`
	// Manifest is the rendered manifest (for --dry-run and template); never
	// in JSON output: it may hold Secret data.
	Manifest string `json:"-"`
}

// UninstallResult reports an uninstall.
type UninstallResult struct {
	Release Release `json:"release"`
	Info    string  `json:"info,omitempty"`
}

// Workload is a Deployment's rollout state.
type Workload struct {
	Name      string `json:"name"`
	Service   string `json:"service,omitempty"` // app.kubernetes.io/component
	Replicas  int32  `json:"replicas"`          // desired
	Ready     int32  `json:"ready"`
	Updated   int32  `json:"updated"`
	Available int32  `json:"available"`
}

// Pod is one pod's state.
type Pod struct {
	Name     string    `json:"name"`
	Service  string    `json:"service,omitempty"`
	Phase    string    `json:"phase"`
	Ready    bool      `json:"ready"`
	Restarts int32     `json:"restarts"`
	Node     string    `json:"node,omitempty"`
	Created  time.Time `json:"created"`
}

// HPA is a HorizontalPodAutoscaler's state.
type HPA struct {
	Name            string `json:"name"`
	Target          string `json:"target"`
	MinReplicas     int32  `json:"min_replicas"`
	MaxReplicas     int32  `json:"max_replicas"`
	CurrentReplicas int32  `json:"current_replicas"`
	DesiredReplicas int32  `json:"desired_replicas"`
	Metrics         string `json:"metrics,omitempty"` // "cpu 12%/70%, memory 30%/80%"
}

// ClusterStatus is what `tarsctl status --target k8s` shows.
type ClusterStatus struct {
	Namespace   string     `json:"namespace"`
	Deployments []Workload `json:"deployments"`
	Pods        []Pod      `json:"pods"`
	HPAs        []HPA      `json:"hpas"`
}

// Healthy reports whether every Deployment has all its replicas updated
// and available and every pod is ready.
func (s *ClusterStatus) Healthy() bool {
	for _, d := range s.Deployments {
		if d.Available < d.Replicas || d.Updated < d.Replicas || d.Ready < d.Replicas {
			return false
		}
	}
	for _, p := range s.Pods {
		if !p.Ready {
			return false
		}
	}
	return true
}

// ScaleResult reports a scale.
type ScaleResult struct {
	Deployment string `json:"deployment"`
	Namespace  string `json:"namespace"`
	Previous   int32  `json:"previous_replicas"`
	Replicas   int32  `json:"replicas"`
}

// RolloutProgress is one observation while watching a rollout, like a line
// of `kubectl rollout status`.
type RolloutProgress struct {
	Deployment string
	Workload   Workload
	Message    string // "Waiting for deployment "x" rollout to finish: 1 of 2 updated replicas are available..."
	Done       bool
}

// SecretUpdate replaces one key of a Secret and restarts what uses it.
type SecretUpdate struct {
	Target
	Secret string // tars-jwt-secret
	Key    string // jwt-secret
	// Generate returns the new value; it gets the current one (nil when
	// the key is absent). Values never leave the implementation otherwise.
	Generate func(current []byte) ([]byte, error)
	// Rollback swaps the value kept under Key+PreviousSuffix back in.
	Rollback bool
	DryRun   bool
	Timeout  time.Duration
	Progress func(RolloutProgress)
}

// PreviousSuffix names the Secret key that keeps the value a rotation
// replaced: jwt-secret → jwt-secret.previous.
const PreviousSuffix = ".previous"

// SecretUpdateResult reports a SecretUpdate. It never holds secret values.
type SecretUpdateResult struct {
	Secret      string   `json:"secret"`
	Namespace   string   `json:"namespace"`
	Key         string   `json:"key"`
	Created     bool     `json:"created"`
	RolledBack  bool     `json:"rolled_back"`
	Restarted   []string `json:"restarted"` // Deployments whose pods use the Secret
	ResourceVer string   `json:"resource_version"`
}
