package installer

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/manifests"
)

// StateSecret is the Secret in the install's namespace that keeps a copy of
// the state directory (keys secrets.json and config.yaml), so that a lost
// secrets.json is recovered instead of rotating every credential, and so
// that backups carry hakube's settings. The installer writes it through the
// API, never in a manifest file: k3s never prunes it.
const StateSecret = "hakube-state"

// saveState writes the cluster's copy of the state directory.
func (in *Installer) saveState(ctx context.Context, cfg *config.Config, sec manifests.Secrets) error {
	data, err := json.MarshalIndent(sec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: StateSecret, Namespace: cfg.Namespace, Labels: map[string]string{
			"app.kubernetes.io/name": "hakube", "app.kubernetes.io/instance": "hakube",
			"app.kubernetes.io/component": "state", "app.kubernetes.io/part-of": "hakube",
			"app.kubernetes.io/managed-by": "hakube"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{SecretsFile: append(data, '\n'), ConfigFile: cfg.Marshal()},
	}
	if err := in.Clients.Kube.Secrets.Apply(ctx, cfg.Namespace, StateSecret, s); err != nil {
		return fmt.Errorf("keep a copy of the credentials in Secret %s/%s: %w", cfg.Namespace, StateSecret, err)
	}
	return nil
}

// recoverState reads the credentials back from the cluster's copy; ok is
// false when there is none.
func (in *Installer) recoverState(ctx context.Context, namespace string) (manifests.Secrets, bool, error) {
	s, err := in.Clients.Kube.Secrets.Get(ctx, namespace, StateSecret)
	if apierrors.IsNotFound(err) {
		return manifests.Secrets{}, false, nil
	}
	if err != nil {
		return manifests.Secrets{}, false, fmt.Errorf("read Secret %s/%s: %w", namespace, StateSecret, err)
	}
	var sec manifests.Secrets
	if err := json.Unmarshal(s.Data[SecretsFile], &sec); err != nil || sec.MQTTHomeAssistant.Password == "" {
		return manifests.Secrets{}, false, fmt.Errorf("secret %s/%s is damaged: restore %s from a backup", namespace, StateSecret, SecretsFile)
	}
	return sec, true, nil
}
