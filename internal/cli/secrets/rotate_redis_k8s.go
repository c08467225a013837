package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/deploy/k8sapi"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/secrets"
)

// errSecretChanged: the Secret no longer holds the password the rotation
// started from, so someone else is rotating it.
var errSecretChanged = errors.New("changed while the rotation ran (is another rotation running?); nothing of it was overwritten")

// errAlreadyInPlace stops a restore that finds the old password in place.
var errAlreadyInPlace = errors.New("the old password is in place")

// k8sPasswordStore is the Redis password in the Kubernetes Secret
// tars-redis: writing it restarts every Deployment whose pods mount it and
// watches the rollouts, so the daemons use the new password once Write
// returns.
type k8sPasswordStore struct {
	runner   k8srunner.Runner
	target   k8sapi.Target
	timeout  time.Duration // each rollout's
	progress func(k8sapi.RolloutProgress)
}

func (s *k8sPasswordStore) String() string {
	ns := s.target.Namespace
	if ns == "" {
		return fmt.Sprintf("Secret %s key %s", secrets.K8sRedisSecret, secrets.K8sRedisKey)
	}
	return fmt.Sprintf("Secret %s/%s key %s", ns, secrets.K8sRedisSecret, secrets.K8sRedisKey)
}

func (s *k8sPasswordStore) Read(ctx context.Context) (string, error) {
	b, err := s.runner.ReadSecret(ctx, s.target, secrets.K8sRedisSecret, secrets.K8sRedisKey)
	if errors.Is(err, k8sapi.ErrNotFound) {
		return "", fmt.Errorf("%w; create it with the password Redis has now (tarsctl secrets generate --format k8s writes its manifest)", err)
	}
	return strings.TrimRight(string(b), "\r\n"), err
}

func (s *k8sPasswordStore) Write(ctx context.Context, old, pw string) (string, error) {
	res, err := s.update(ctx, func(current string) (string, error) {
		if current != old {
			return "", fmt.Errorf("%s %w", s, errSecretChanged)
		}
		return pw, nil
	})
	if err != nil {
		return "", err
	}
	if len(res.Restarted) == 0 {
		return fmt.Sprintf("no Deployment in namespace %s mounts Secret %s: nothing restarted", res.Namespace, secrets.K8sRedisSecret), nil
	}
	return fmt.Sprintf("restarted %s: rolled out, the pods read the new password", strings.Join(res.Restarted, ", ")), nil
}

// Restore writes old back and restarts the pods again. The rollouts get
// at least the default timeout: a rollback that gives up early leaves pods
// on a password about to be removed.
func (s *k8sPasswordStore) Restore(ctx context.Context, old, pw string) error {
	undo := *s
	undo.timeout = max(s.timeout, k8sapi.DefaultRolloutTimeout)
	_, err := undo.update(ctx, func(current string) (string, error) {
		switch current {
		case old:
			return "", errAlreadyInPlace
		case pw:
			return old, nil
		}
		return "", fmt.Errorf("%s %w", s, errSecretChanged)
	})
	if errors.Is(err, errAlreadyInPlace) {
		return nil
	}
	return err
}

func (s *k8sPasswordStore) update(ctx context.Context, next func(current string) (string, error)) (*k8sapi.SecretUpdateResult, error) {
	return s.runner.UpdateSecret(ctx, k8sapi.SecretUpdate{
		Target: s.target,
		Secret: secrets.K8sRedisSecret,
		Key:    secrets.K8sRedisKey,
		Generate: func(current []byte) ([]byte, error) {
			v, err := next(strings.TrimRight(string(current), "\r\n"))
			return []byte(v), err
		},
		Timeout:  s.timeout,
		Progress: s.progress,
	})
}
