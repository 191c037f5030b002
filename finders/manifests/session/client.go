// Package session is the HTTP side of talking to a registry: the
// authenticated client of one resolution (the /v2/ ping and token handshake,
// go-containerregistry's retries, HTTPS enforcement, the network policy on
// every request, redirect rules), the cache that keeps those clients between
// resolutions, and the instrumentation that reports each request to an
// Observer and captures Docker Hub's rate-limit headers. Its errors are
// go-containerregistry's and net/http's; package manifests classifies them.
package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
)

// retryStatusCodes are the statuses go-containerregistry's remote package retries.
var retryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
	http.StatusTooManyRequests,
	499, // nginx: client closed request
	522, // Cloudflare: connection timed out
}

// defaultBackoff is go-containerregistry's remote default: 3 tries, 1 s then 3 s apart.
var defaultBackoff = transport.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}

// isRetryable is go-containerregistry's remote default predicate: temporary
// errors, which include the statuses in retryStatusCodes, and dropped connections.
func isRetryable(err error) bool {
	if err == nil {
		return false
	}
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() {
		return true
	}
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout() ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed)
}

// guard is the innermost transport. It refuses plain HTTP unless the caller asked
// for insecure: go-containerregistry silently uses HTTP for localhost, loopback,
// RFC 1918 and .local registries.
// It also checks every request's host against Config.Network: the registry's,
// a redirect target's and a token realm's, since each is a request of its own.
type guard struct {
	inner    http.RoundTripper
	insecure bool
	network  *netpolicy.Policy
}

// RoundTrip implements http.RoundTripper.
func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !g.insecure {
		return nil, &PlainHTTPError{Host: req.URL.Host}
	}
	if err := g.network.CheckHost(req.URL.Host); err != nil {
		return nil, err
	}
	return g.inner.RoundTrip(req)
}

// PlainHTTPError is returned for a plain-HTTP request to a registry that is not insecure.
type PlainHTTPError struct {
	// Host is the host (with port) the request was for.
	Host string
}

// Error implements error.
func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: the registry is not marked insecure", e.Host)
}

// checkRedirect follows at most 10 redirects and, like go-containerregistry,
// refuses a redirect from one host to a private or link-local IP literal on
// another host (a cloud metadata endpoint, say). Plain HTTP targets are refused
// by guard unless the registry is insecure. Authorization headers are added per
// request by go-containerregistry's transports only for the registry's own host,
// so a CDN on another host never sees them.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	from, to := via[0].URL.Hostname(), req.URL.Hostname()
	if from == to {
		return nil
	}
	if addr, err := netip.ParseAddr(strings.Trim(to, "[]")); err == nil {
		addr = addr.Unmap()
		if addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsUnspecified() {
			return fmt.Errorf("refusing redirect from %s to private or link-local address %s", from, to)
		}
	}
	return nil
}

// Config says how to reach a registry.
type Config struct {
	// Base is the base transport, from BaseTransport.
	Base http.RoundTripper
	// Insecure allows plain HTTP.
	Insecure bool
	// Network, when set, says where requests may go; nil allows everything.
	Network *netpolicy.Policy
	// Backoff overrides go-containerregistry's retry backoff; nil keeps it.
	Backoff *transport.Backoff
	// UserAgent is sent with every request.
	UserAgent string
}

// BaseTransport returns t, or the process's shared transport when t is nil,
// with the network policy's dialer checks applied.
func BaseTransport(t http.RoundTripper, network *netpolicy.Policy) (http.RoundTripper, error) {
	if t == nil {
		t = sharedTransport
	}
	return network.Transport(t)
}

// Connect builds the authenticated client of a resolution of repo: it runs
// the handshake once, a ping of /v2/ and, when the registry answers with a
// Bearer challenge, one token request for the pull scope named by the
// challenge's realm and service. Every later request through the client reuses
// the resulting transport and token. Its error is for the caller to classify.
func Connect(ctx context.Context, repo name.Repository, a authn.Authenticator, cfg Config) (*http.Client, error) {
	backoff := defaultBackoff
	if cfg.Backoff != nil {
		backoff = *cfg.Backoff
	}
	// instrumented sits under the retries, so that each try is observed.
	t := transport.NewRetry(&guard{inner: &instrumented{inner: cfg.Base, now: time.Now}, insecure: cfg.Insecure, network: cfg.Network},
		transport.WithRetryBackoff(backoff),
		transport.WithRetryPredicate(isRetryable),
		transport.WithRetryStatusCodes(retryStatusCodes...))
	t = transport.NewUserAgent(t, cfg.UserAgent)

	rt, err := transport.NewWithContext(ctx, repo.Registry, a, t, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect}, nil
}

// sharedTransport is the base transport when the caller gives none: one
// connection pool for the process, rather than one per resolution.
var sharedTransport http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()
