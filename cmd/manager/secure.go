package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authenticationv1 "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1 "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// tlsOptions are the TLS settings of every HTTPS server of the manager: the
// metrics, the UI with --ui-secure, and any webhook. Unless enableHTTP2, they
// offer HTTP/1.1 only, as kubebuilder's scaffold does, against the HTTP/2
// Stream Cancellation and Rapid Reset CVEs (GHSA-qppj-fm5r-hxr3,
// GHSA-4374-p667-p6c8).
func tlsOptions(enableHTTP2 bool) []func(*tls.Config) {
	if enableHTTP2 {
		return []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} }}
	}
	return []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
}

// metricsOptions configures the metrics endpoint on addr ("0" turns it off).
// Secure, it answers HTTPS, and only to bearer tokens that a TokenReview
// accepts and whose user a SubjectAccessReview allows to get /metrics (the
// metrics-reader ClusterRole). Its certificate is self-signed, as
// controller-runtime generates it; cert-manager can provide one instead
// (docs/security.md).
func metricsOptions(addr string, secure bool, tlsOpts []func(*tls.Config)) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr, SecureServing: secure, TLSOpts: tlsOpts}
	if secure {
		o.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return o
}

// delegatingAuth returns an authenticator of bearer tokens by TokenReview and
// an authorizer by SubjectAccessReview, both against the API server of cfg and
// cached, with the settings controller-runtime's metrics filter uses.
func delegatingAuth(cfg *rest.Config, hc *http.Client) (authenticator.Request, authorizer.Authorizer, error) {
	authn, err := authenticationv1.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the TokenReview client: %w", err)
	}
	authz, err := authorizationv1.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the SubjectAccessReview client: %w", err)
	}
	// apiserver's default webhook backoff.
	backoff := &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
	a, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                &apiserver.AnonymousAuthConfig{Enabled: false},
		CacheTTL:                 time.Minute,
		TokenAccessReviewClient:  authn,
		TokenAccessReviewTimeout: 10 * time.Second,
		WebhookRetryBackoff:      backoff,
	}.New()
	if err != nil {
		return nil, nil, fmt.Errorf("creating the authenticator: %w", err)
	}
	z, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: authz,
		AllowCacheTTL:             5 * time.Minute,
		DenyCacheTTL:              30 * time.Second,
		WebhookRetryBackoff:       backoff,
	}.New()
	if err != nil {
		return nil, nil, fmt.Errorf("creating the authorizer: %w", err)
	}
	return a, z, nil
}

// selfSignedTLS returns a TLS configuration with a new self-signed certificate
// for localhost and 127.0.0.1, as controller-runtime's metrics server makes
// one, with tlsOpts applied.
func selfSignedTLS(tlsOpts []func(*tls.Config)) (*tls.Config, error) {
	cert, key, err := certutil.GenerateSelfSignedCertKeyWithFixtures("localhost", []net.IP{{127, 0, 0, 1}}, nil, "")
	if err != nil {
		return nil, fmt.Errorf("generating a self-signed certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("loading the self-signed certificate: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	for _, o := range tlsOpts {
		o(c)
	}
	return c, nil
}
