package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
)

// The RBAC for serviceaccounts/token is deliberately not a kubebuilder marker: it
// is granted only with --enable-object-level-workload-identity, by the kustomize
// component config/components/object-level-workload-identity or the chart's
// workloadIdentity.objectLevel value.

// tokenExpirationSeconds is the lifetime asked for a service-account token: the
// API server's minimum. It is used once, for the exchange.
const tokenExpirationSeconds = 600

var (
	defaultBrokerOnce sync.Once
	defaultBroker     *cloudauth.Broker
)

func (r *ImageConfigReconciler) broker() *cloudauth.Broker {
	if r.CloudAuth != nil {
		return r.CloudAuth
	}
	defaultBrokerOnce.Do(func() { defaultBroker = cloudauth.NewBroker(cloudauth.Options{}) })
	return defaultBroker
}

// usesProvider reports whether obj takes its credentials from a cloud provider.
func usesProvider(obj *imagesv1alpha1.ImageConfig) bool {
	return obj.Spec.Provider != "" && obj.Spec.Provider != string(cloudauth.Generic)
}

// providerCredentials exchanges the workload identity the object names (the
// controller's own, or its ServiceAccount's through a TokenRequest) for the
// registry's credentials. No token is logged or stored in the status.
func (r *ImageConfigReconciler) providerCredentials(ctx context.Context, obj *imagesv1alpha1.ImageConfig) (auth.Sources, error) {
	p, err := cloudauth.ParseProvider(obj.Spec.Provider)
	if err != nil {
		return nil, &credentialError{reason: imagesv1alpha1.ProviderIdentityInvalidReason, msg: "spec.provider: " + err.Error()}
	}
	var id cloudauth.Identity
	if name := obj.Spec.ServiceAccountName; name != "" {
		if !r.ObjectLevelWorkloadIdentity {
			return nil, &credentialError{reason: imagesv1alpha1.ObjectLevelWorkloadIdentityDisabledReason, msg: fmt.Sprintf(
				"spec.provider %s with spec.serviceAccountName %q asks for object-level workload identity, but the manager runs without --enable-object-level-workload-identity: enable it, or remove spec.serviceAccountName to use the controller's own identity", p, name)}
		}
		sa := &corev1.ServiceAccount{}
		if err := r.reader().Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: name}, sa); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &credentialError{reason: imagesv1alpha1.ServiceAccountNotFoundReason, msg: fmt.Sprintf("ServiceAccount %q named by spec.serviceAccountName does not exist in namespace %q", name, obj.Namespace)}
			}
			return nil, fmt.Errorf("reading ServiceAccount %q: %w", name, err)
		}
		id = cloudauth.Identity{
			ServiceAccount: obj.Namespace + "/" + name,
			Annotations:    sa.Annotations,
			Token: func(ctx context.Context, audience string) (string, error) {
				tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
					Audiences:         []string{audience},
					ExpirationSeconds: ptr.To[int64](tokenExpirationSeconds),
				}}
				if err := r.Client.SubResource("token").Create(ctx, sa, tr); err != nil {
					return "", fmt.Errorf("TokenRequest for ServiceAccount %s/%s: %w", obj.Namespace, name, err)
				}
				return tr.Status.Token, nil
			},
		}
	}
	c, err := r.broker().Credentials(ctx, p, obj.Spec.Registry, id)
	if err != nil {
		reason := cloudauth.Reason(err)
		if reason == "" {
			return nil, err
		}
		msg := err.Error()
		var ie *cloudauth.IdentityError
		if errors.As(err, &ie) && id.ServiceAccount == "" {
			msg += "; or name a ServiceAccount in spec.serviceAccountName for object-level identity"
		}
		return nil, &credentialError{reason: reason, msg: msg, transient: reason == imagesv1alpha1.ProviderUnavailableReason}
	}
	return auth.Sources{{Name: c.Source, Keychain: auth.Static{Username: c.Username, Password: c.Password}}}, nil
}

// NewProviderHooks counts the exchanges with cloud providers and their failures
// in two metrics registered with reg, by provider (and reason).
func NewProviderHooks(reg prometheus.Registerer) (cloudauth.Hooks, error) {
	exchanges := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imageconfig_provider_exchanges_total",
		Help: "Exchanges of a workload identity for registry credentials (cache misses), by provider.",
	}, []string{"provider"})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imageconfig_provider_exchange_failures_total",
		Help: "Failed exchanges and refusals before any request, by provider and condition reason.",
	}, []string{"provider", "reason"})
	for _, c := range []prometheus.Collector{exchanges, failures} {
		if err := reg.Register(c); err != nil {
			return cloudauth.Hooks{}, fmt.Errorf("registering the provider metrics: %w", err)
		}
	}
	return cloudauth.Hooks{
		Exchange: func(p cloudauth.Provider) { exchanges.WithLabelValues(string(p)).Inc() },
		Failure:  func(p cloudauth.Provider, reason string) { failures.WithLabelValues(string(p), reason).Inc() },
	}, nil
}
