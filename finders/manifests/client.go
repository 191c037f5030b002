package manifests

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
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
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
// It also checks every request's host against Options.Network: the registry's,
// a redirect target's and a token realm's, since each is a request of its own.
type guard struct {
	inner    http.RoundTripper
	insecure bool
	network  *netpolicy.Policy
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" && !g.insecure {
		return nil, &plainHTTPError{host: req.URL.Host}
	}
	if err := g.network.CheckHost(req.URL.Host); err != nil {
		return nil, err
	}
	return g.inner.RoundTrip(req)
}

// plainHTTPError is returned for a plain-HTTP request to a registry that is not insecure.
type plainHTTPError struct{ host string }

func (e *plainHTTPError) Error() string {
	return fmt.Sprintf("refusing plain HTTP to %s: the registry is not marked insecure", e.host)
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

// connect runs the authentication handshake once: a ping of /v2/ and, when the
// registry answers with a Bearer challenge, one token request for the pull scope
// named by the challenge's realm and service. Every later request of this
// resolution reuses the resulting transport and token.
func (r *resolver) connect(ctx context.Context) error {
	a, base, key, err := r.identity(ctx)
	if err != nil {
		return err
	}
	return r.dial(ctx, a, base, key)
}

// identity resolves the credentials and the base transport of this resolution
// and names them in a key: registry, repository, insecure, a hash of the
// credentials and the transport. The key is empty when the credentials cannot
// be hashed; nothing is then shared.
func (r *resolver) identity(ctx context.Context) (authn.Authenticator, http.RoundTripper, string, error) {
	base := r.opts.Transport
	if base == nil {
		base = sharedTransport
	}
	base, err := r.opts.Network.Transport(base)
	if err != nil {
		return nil, nil, "", newError(Unsupported, err, "unsupported: %v", err)
	}
	r.authSource = auth.Anonymous
	a, err := r.authenticator(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	return a, base, sessionKey(r.ref, r.opts, a, base), nil
}

// dial sets r.client: a cached session for key, or one from a new handshake.
// Concurrent handshakes for one key are coalesced.
func (r *resolver) dial(ctx context.Context, a authn.Authenticator, base http.RoundTripper, key string) error {
	s := r.opts.Sessions
	if s == nil || key == "" {
		c, err := r.handshake(ctx, a, base)
		r.client = c
		return err
	}
	if e := s.get(key); e != nil {
		r.opts.observer().CacheLookup("sessions", true)
		r.client = e.client
		return nil
	}
	r.opts.observer().CacheLookup("sessions", false)
	v, err := s.flights.do(ctx, key, r.opts.Timeout, func(ctx context.Context) (any, error) {
		if e := s.get(key); e != nil {
			return e.client, nil
		}
		c, err := r.handshake(ctx, a, base)
		if err != nil {
			return nil, err
		}
		s.put(key, &session{client: c})
		return c, nil
	})
	if err != nil {
		return err
	}
	r.client = v.(*http.Client)
	return nil
}

// handshake builds an authenticated client: the ping and, for a Bearer challenge, the token.
func (r *resolver) handshake(ctx context.Context, a authn.Authenticator, base http.RoundTripper) (*http.Client, error) {
	backoff := defaultBackoff
	if r.opts.RetryBackoff != nil {
		backoff = *r.opts.RetryBackoff
	}
	// instrumented sits under the retries, so that each try is observed.
	t := transport.NewRetry(&guard{inner: &instrumented{inner: base, now: time.Now}, insecure: r.opts.Insecure, network: r.opts.Network},
		transport.WithRetryBackoff(backoff),
		transport.WithRetryPredicate(isRetryable),
		transport.WithRetryStatusCodes(retryStatusCodes...))
	t = transport.NewUserAgent(t, r.opts.UserAgent)

	scopes := []string{r.ref.repo.Scope(transport.PullScope)}
	rt, err := transport.NewWithContext(ctx, r.ref.repo.Registry, a, t, scopes)
	if err != nil {
		return nil, r.classify(err, "/v2/ for the authentication handshake")
	}
	return &http.Client{Transport: rt, CheckRedirect: checkRedirect}, nil
}

// sharedTransport is the base transport when Options.Transport is nil: one
// connection pool for the process, rather than one per resolution.
var sharedTransport http.RoundTripper = http.DefaultTransport.(*http.Transport).Clone()

func (r *resolver) authenticator(ctx context.Context) (authn.Authenticator, error) {
	switch {
	case r.opts.Auth != nil:
		r.authSource = "credentials"
		return r.opts.Auth, nil
	case r.opts.Keychain != nil:
		a, err := authn.Resolve(ctx, r.opts.Keychain, r.ref.authRepo)
		if err != nil {
			return nil, newError(Unauthorized, err, "cannot read credentials for %s: %v", r.ref.authRepo.RegistryStr(), err)
		}
		if a != authn.Anonymous {
			r.authSource = "keychain"
		}
		return a, nil
	case len(r.opts.Credentials) > 0:
		a, src, err := r.opts.Credentials.Resolve(r.ref.authRepo)
		if err != nil {
			return nil, newError(Unauthorized, err, "cannot read credentials for %s: %v", r.ref.authRepo.RegistryStr(), err)
		}
		r.authSource = src
		return a, nil
	default:
		return authn.Anonymous, nil
	}
}

// retryAfter is the Retry-After of this resolution's last 429. go-containerregistry
// retries a 429 and hands back the last response, headers intact.
func (r *resolver) retryAfter() time.Duration {
	return parseRetryAfter(r.retryAfterHeader, time.Now())
}

// noteResponse remembers what a response says about rate limits.
func (r *resolver) noteResponse(resp *http.Response) {
	if resp.StatusCode == http.StatusTooManyRequests {
		r.retryAfterHeader = resp.Header.Get("Retry-After")
	}
}
