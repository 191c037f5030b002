package main

import (
	"crypto/tls"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
	"github.com/imageconfig/imageconfig-operator/internal/ui/clustersource"
)

// uiOptions are the web UI's flags.
type uiOptions struct {
	// Addr is --ui-bind-address.
	Addr string
	// Secure is --ui-secure: HTTPS, a bearer token that a TokenReview accepts,
	// and only the namespaces where a SubjectAccessReview lets the token's user
	// list ImageConfigs.
	Secure bool
	// TLSOpts are applied to the HTTPS configuration (--enable-http2).
	TLSOpts []func(*tls.Config)
	// Files serves the file pages of ImageConfigs with spec.files.index.
	Files ui.ObjectFileIndexer
}

// addUI serves the read-only web UI from the manager's informer cache, on every
// replica: it needs no leader election.
func addUI(mgr ctrl.Manager, o uiOptions) error {
	log := ctrl.Log.WithName("ui")
	var (
		src       ui.Source = clustersource.Source{Reader: mgr.GetCache()}
		authn     authenticator.Request
		tlsConfig *tls.Config
	)
	if o.Secure {
		var authz authorizer.UnconditionalAuthorizer
		var err error
		if authn, authz, err = delegatingAuth(mgr.GetConfig(), mgr.GetHTTPClient()); err != nil {
			return err
		}
		if tlsConfig, err = selfSignedTLS(o.TLSOpts); err != nil {
			return err
		}
		src = ui.Authorized{Source: src, Authorizer: authz}
	}
	h, err := ui.New(ui.Options{Source: src, Instruction: manifests.DockerfileLine, ObjectFiles: o.Files})
	if err != nil {
		return err
	}
	if authn != nil {
		h = ui.Authenticate(authn, h)
	}
	return mgr.Add(&ui.Server{Addr: o.Addr, Handler: h, TLSConfig: tlsConfig, Listening: func(bound string) {
		scheme := "http"
		if o.Secure {
			scheme = "https"
		} else if !ui.IsLoopback(bound) {
			log.Info("The web UI serves every ImageConfig to whoever reaches its port, without authentication; bind it to loopback or pass --ui-secure", "address", bound)
		}
		log.Info("Serving the web UI", "address", bound, "url", scheme+"://"+bound+"/", "secure", o.Secure)
	}})
}
