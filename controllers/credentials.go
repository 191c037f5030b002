package controllers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/auth"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get

// credentialError is a problem with a referenced Secret or ServiceAccount. It is
// reported with its own reason and retried like Unauthorized, because Secrets are
// not watched: a fixed Secret is read at the next attempt.
type credentialError struct {
	reason, msg string
	// transient is true when a cloud provider's endpoint failed: the object is
	// retried with the controller's backoff rather than marked Stalled.
	transient bool
}

func (e *credentialError) Error() string { return e.msg }

// credentials reads the objects the spec references, with direct GETs through the
// uncached API reader: the manager may get Secrets and ServiceAccounts by name, but
// never list or watch them. The sources are in the order they are tried:
// spec.secretRef, then the ServiceAccount's imagePullSecrets; anonymous comes last.
// With a cloud spec.provider, the provider's workload identity replaces them.
func (r *ImageConfigReconciler) credentials(ctx context.Context, obj *imagesv1alpha1.ImageConfig) (auth.Sources, http.RoundTripper, error) {
	// client-go logs request and response bodies through the context's logger at
	// high verbosity; a Secret's body must never reach a log.
	ctx = logr.NewContext(ctx, logr.Discard())
	var sources auth.Sources
	if usesProvider(obj) {
		var err error
		if sources, err = r.providerCredentials(ctx, obj); err != nil {
			return nil, nil, err
		}
	} else {
		if ref := obj.Spec.SecretRef; ref != nil {
			secret, err := r.secret(ctx, obj.Namespace, ref.Name, "spec.secretRef")
			if err != nil {
				return nil, nil, err
			}
			kc, err := pullSecretKeychain(secret)
			if err != nil {
				return nil, nil, err
			}
			sources = append(sources, auth.Source{Name: "secret/" + ref.Name, Keychain: kc})
		}

		if name := obj.Spec.ServiceAccountName; name != "" {
			sa := &corev1.ServiceAccount{}
			if err := r.reader().Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: name}, sa); err != nil {
				if apierrors.IsNotFound(err) {
					return nil, nil, &credentialError{reason: imagesv1alpha1.ServiceAccountNotFoundReason, msg: fmt.Sprintf("ServiceAccount %q named by spec.serviceAccountName does not exist in namespace %q", name, obj.Namespace)}
				}
				return nil, nil, fmt.Errorf("reading ServiceAccount %q: %w", name, err)
			}
			for _, ps := range sa.ImagePullSecrets {
				secret, err := r.secret(ctx, obj.Namespace, ps.Name, fmt.Sprintf("ServiceAccount %q's imagePullSecrets", name))
				if err != nil {
					return nil, nil, err
				}
				kc, err := pullSecretKeychain(secret)
				if err != nil {
					return nil, nil, err
				}
				sources = append(sources, auth.Source{Name: "serviceAccount/" + name, Keychain: kc})
			}
		}
	}

	var transport http.RoundTripper
	if ref := obj.Spec.CertSecretRef; ref != nil {
		secret, err := r.secret(ctx, obj.Namespace, ref.Name, "spec.certSecretRef")
		if err != nil {
			return nil, nil, err
		}
		if transport, err = r.tlsTransport(secret); err != nil {
			return nil, nil, err
		}
	}
	return sources, transport, nil
}

type tlsTransport struct {
	resourceVersion string
	transport       http.RoundTripper
	used            time.Time
}

// tlsTransportIdle is how long a certSecretRef transport is kept unused.
const tlsTransportIdle = 2 * time.Hour

// tlsTransport builds, or reuses while the Secret is unchanged, the transport of a
// certSecretRef Secret.
func (r *ImageConfigReconciler) tlsTransport(secret *corev1.Secret) (http.RoundTripper, error) {
	key := types.NamespacedName{Namespace: secret.Namespace, Name: secret.Name}
	now := r.now()
	// Drop what no object used for a while, such as the transport of a deleted Secret.
	r.tlsTransports.Range(func(k, v any) bool {
		if t := v.(tlsTransport); now.Sub(t.used) > tlsTransportIdle {
			r.tlsTransports.Delete(k)
			closeIdle(t.transport)
		}
		return true
	})
	if v, ok := r.tlsTransports.Load(key); ok && v.(tlsTransport).resourceVersion == secret.ResourceVersion {
		t := v.(tlsTransport)
		t.used = now
		r.tlsTransports.Store(key, t)
		return t.transport, nil
	}
	ca, crt, tlsKey := secret.Data["ca.crt"], secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]
	if len(ca) == 0 && len(crt) == 0 && len(tlsKey) == 0 {
		return nil, invalidSecret(secret, "has none of the keys ca.crt, tls.crt and tls.key")
	}
	cfg, err := auth.TLSConfig(ca, crt, tlsKey)
	if err != nil {
		return nil, invalidSecret(secret, err.Error())
	}
	t := auth.Transport(cfg)
	if old, ok := r.tlsTransports.Swap(key, tlsTransport{secret.ResourceVersion, t, now}); ok {
		closeIdle(old.(tlsTransport).transport)
	}
	return t, nil
}

func closeIdle(t http.RoundTripper) {
	if c, ok := t.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (r *ImageConfigReconciler) secret(ctx context.Context, namespace, name, by string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := r.reader().Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			if v, ok := r.tlsTransports.LoadAndDelete(types.NamespacedName{Namespace: namespace, Name: name}); ok {
				closeIdle(v.(tlsTransport).transport)
			}
			return nil, &credentialError{reason: imagesv1alpha1.SecretNotFoundReason, msg: fmt.Sprintf("Secret %q named by %s does not exist in namespace %q", name, by, namespace)}
		}
		return nil, fmt.Errorf("reading Secret %q: %w", name, err)
	}
	return s, nil
}

// pullSecretKeychain reads registry credentials from a Secret of one of the three
// supported types.
func pullSecretKeychain(s *corev1.Secret) (authn.Keychain, error) {
	switch s.Type {
	case corev1.SecretTypeDockerConfigJson:
		data, ok := s.Data[corev1.DockerConfigJsonKey]
		if !ok {
			return nil, invalidSecret(s, "has no "+corev1.DockerConfigJsonKey+" key")
		}
		kc, err := auth.ParseDockerConfigJSON(data)
		if err != nil {
			return nil, invalidSecret(s, corev1.DockerConfigJsonKey+" is invalid: "+err.Error())
		}
		return kc, nil
	case corev1.SecretTypeDockercfg:
		data, ok := s.Data[corev1.DockerConfigKey]
		if !ok {
			return nil, invalidSecret(s, "has no "+corev1.DockerConfigKey+" key")
		}
		kc, err := auth.ParseDockerCfg(data)
		if err != nil {
			return nil, invalidSecret(s, corev1.DockerConfigKey+" is invalid: "+err.Error())
		}
		return kc, nil
	case corev1.SecretTypeBasicAuth:
		user, pass := s.Data[corev1.BasicAuthUsernameKey], s.Data[corev1.BasicAuthPasswordKey]
		if len(user) == 0 || len(pass) == 0 {
			return nil, invalidSecret(s, "needs both the username and password keys")
		}
		return auth.Static{Username: string(user), Password: string(pass)}, nil
	default:
		return nil, invalidSecret(s, fmt.Sprintf("has type %q; want %s, %s or %s", s.Type, corev1.SecretTypeDockerConfigJson, corev1.SecretTypeDockercfg, corev1.SecretTypeBasicAuth))
	}
}

func invalidSecret(s *corev1.Secret, problem string) error {
	return &credentialError{reason: imagesv1alpha1.InvalidSecretReason, msg: fmt.Sprintf("Secret %q %s", s.Name, problem)}
}
