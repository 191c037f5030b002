package manifests

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/flight"
	"github.com/imageconfig/imageconfig-operator/finders/manifests/session"
)

// observer returns o.Observer, or one that does nothing.
func (o Options) observer() Observer { return session.OrNop(o.Observer) }

// connect runs the authentication handshake once (session.Connect); every
// later request of this resolution reuses the resulting client and token.
func (r *resolver) connect(ctx context.Context) error {
	a, base, key, err := r.identity(ctx)
	if err != nil {
		return err
	}
	return r.dial(ctx, a, base, key)
}

// identity resolves the credentials and the base transport of this resolution
// and names them in a key (session.Key). The key is empty when the credentials
// cannot be hashed; nothing is then shared.
func (r *resolver) identity(ctx context.Context) (authn.Authenticator, http.RoundTripper, string, error) {
	base, err := session.BaseTransport(r.opts.Network.Transport, r.opts.Network.Policy)
	if err != nil {
		return nil, nil, "", newError(Unsupported, err, "unsupported: %v", err)
	}
	r.authSource = auth.Anonymous
	a, err := r.authenticator(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	key := session.Key(r.ref.host, r.ref.repo.RepositoryStr(), r.opts.Network.Insecure, a, base, r.opts.Network.UserAgent, r.opts.Network.Policy)
	return a, base, key, nil
}

// dial sets r.client: a cached session for key, or one from a new handshake.
// Concurrent handshakes for one key are coalesced.
func (r *resolver) dial(ctx context.Context, a authn.Authenticator, base http.RoundTripper, key string) error {
	c, err := r.opts.Cache.Sessions.Dial(ctx, key, r.opts.Network.Timeout, r.opts.observer(), func(ctx context.Context) (*http.Client, error) {
		return r.handshake(ctx, a, base)
	})
	r.client = c
	return waited(err)
}

// handshake builds an authenticated client: the ping and, for a Bearer challenge, the token.
func (r *resolver) handshake(ctx context.Context, a authn.Authenticator, base http.RoundTripper) (*http.Client, error) {
	c, err := session.Connect(ctx, r.ref.repo, a, session.Config{
		Base:      base,
		Insecure:  r.opts.Network.Insecure,
		Network:   r.opts.Network.Policy,
		Backoff:   r.opts.Network.RetryBackoff,
		UserAgent: r.opts.Network.UserAgent,
	})
	if err != nil {
		return nil, r.classify(err, "/v2/ for the authentication handshake")
	}
	return c, nil
}

// coalesce runs fn once for the concurrent callers of key (flight.Group.Do);
// a caller that stops waiting gets an Unavailable *Error.
func coalesce(ctx context.Context, g *flight.Group, key string, timeout time.Duration, fn func(context.Context) (any, error)) (any, error) {
	v, err := g.Do(ctx, key, timeout, fn)
	return v, waited(err)
}

// waited turns a flight's *flight.WaitError (the caller's context ended while it
// waited for another's call) into an Unavailable *Error; other errors pass.
func waited(err error) error {
	if w, ok := err.(*flight.WaitError); ok {
		return newError(Unavailable, w, "%s", w.Error())
	}
	return err
}

func (r *resolver) authenticator(ctx context.Context) (authn.Authenticator, error) {
	switch {
	case r.opts.Auth.Authenticator != nil:
		r.authSource = "credentials"
		return r.opts.Auth.Authenticator, nil
	case r.opts.Auth.Keychain != nil:
		a, err := authn.Resolve(ctx, r.opts.Auth.Keychain, r.ref.authRepo)
		if err != nil {
			return nil, newError(Unauthorized, err, "cannot read credentials for %s: %v", r.ref.authRepo.RegistryStr(), err)
		}
		if a != authn.Anonymous {
			r.authSource = "keychain"
		}
		return a, nil
	case len(r.opts.Auth.Sources) > 0:
		a, src, err := r.opts.Auth.Sources.Resolve(r.ref.authRepo)
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

// finish attaches the resolution's last rate-limit headers to its result or error.
func (r *resolver) finish(res *Result, err error) (*Result, error) {
	info := r.obs.LastRateLimit()
	if err != nil {
		var e *Error
		if errors.As(err, &e) && info != nil {
			e.RateLimit = info
		}
		return nil, err
	}
	res.RateLimit = info
	return res, nil
}

// Connect returns an authenticated client for the repository of o, for other
// requests than a resolution's (the referrers listing, say): the session that
// o.Cache.Sessions keeps for o's registry, repository, credentials, transport
// and network policy (the one a resolution with the same o built), or else one
// from a new handshake, which the cache then keeps. With no cache it always
// runs the handshake. o must name a tag or a digest, as for Resolve; the
// client is not bound to it. repo is the repository the session is for, on
// the host it talks to (registry-1.docker.io/library/nginx for Docker Hub's
// "nginx"): build the URLs of requests through the client from it.
//
// Every request sent through the client, each retry and token refresh
// included, is reported to o.Observer, as a resolution's are; the network
// policy and HTTPS enforcement of the session apply to each. The handshake, when
// one is needed, is bounded by o.Network.Timeout and reported too. Errors are
// *Error.
func Connect(ctx context.Context, o Options) (client *http.Client, repo name.Repository, err error) {
	r, _, cancel, err := start(ctx, o)
	if err != nil {
		return nil, name.Repository{}, err
	}
	defer cancel()
	return &http.Client{
		Transport:     &observing{inner: r.client.Transport, observer: o.observer()},
		CheckRedirect: r.client.CheckRedirect,
	}, r.ref.repo, nil
}

// observing gives each request a new session.Observation for observer, so
// that the session's instrumented transport (under its retries) reports every
// request sent to it. The session's transport is shared; the observer is this
// client's.
type observing struct {
	inner    http.RoundTripper
	observer Observer
}

// RoundTrip implements http.RoundTripper.
func (t *observing) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, _ := session.WithObservation(req.Context(), t.observer)
	return t.inner.RoundTrip(req.WithContext(ctx))
}
