package supplychain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
)

// typedError makes err a *manifests.Error whose Reason the controller can report:
// a refusal by the network policy, credentials refused, a rate limit, or else
// the registry being unavailable. *manifests.Error values pass unchanged.
func typedError(err error) error {
	var me *manifests.Error
	if err == nil || errors.As(err, &me) {
		return err
	}
	reason := manifests.Unavailable
	var naerr *netpolicy.NotAllowedError
	var terr *transport.Error
	switch {
	case errors.As(err, &naerr):
		reason = manifests.RegistryNotAllowed
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		reason = manifests.Unauthorized
	case errors.As(err, &terr) && terr.StatusCode == http.StatusTooManyRequests:
		reason = manifests.RateLimited
	}
	return &manifests.Error{Reason: reason, Message: oneLine(err.Error()), Err: err}
}

// connect authenticates to the image's repository with the options of its
// resolution, counting every request.
func connect(ctx context.Context, o ReferrersOptions) (*lister, error) {
	ro := o.Registry
	if err := manifests.CheckReference(manifests.Options{Registry: ro.Registry, Repository: ro.Repository, Digest: o.Subjects[0]}); err != nil {
		return nil, fmt.Errorf("referrers: %w", err)
	}
	n := &atomic.Int64{}
	client, repo, err := dial(ctx, o, n)
	if err != nil {
		return &lister{requests: n}, fmt.Errorf("referrers: %w", err)
	}
	max := o.Max
	if max <= 0 {
		max = MaxReferrers
	}
	return &lister{
		client:   client,
		base:     fmt.Sprintf("%s://%s/v2/%s", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr()),
		repo:     repo.Name(),
		max:      max,
		requests: n,
		out:      &Referrers{Entries: []Referrer{}},
		seen:     map[string]bool{},
	}, nil
}

// dial returns the listing's authenticated client (manifests.Connect),
// counting in n the requests the registry answered. With
// o.Registry.Cache.Sessions set (the manager) it is the session of the
// resolution, so a listing right after a resolution of the same repository
// with the same credentials costs no handshake; without it (the CLI) the
// listing runs its own. The repository returned is the one to build URLs from
// (with Docker Hub's "library/").
func dial(ctx context.Context, o ReferrersOptions, n *atomic.Int64) (*http.Client, name.Repository, error) {
	so := o.Registry
	so.Tag, so.Digest, so.Previous = "", o.Subjects[0], nil
	so.Observer = &counting{answered: n, inner: o.Registry.Observer}
	return manifests.Connect(ctx, so)
}

// counting is the Observer of a listing through a session: it counts the
// requests the registry answered and passes everything on
// to the caller's Observer.
type counting struct {
	answered *atomic.Int64
	inner    manifests.Observer
}

func (c *counting) RegistryRequest(host, method, code string, d time.Duration) {
	if code != "error" {
		c.answered.Add(1)
	}
	if c.inner != nil {
		c.inner.RegistryRequest(host, method, code, d)
	}
}

func (c *counting) RateLimit(host string, info manifests.RateLimitInfo) {
	if c.inner != nil {
		c.inner.RateLimit(host, info)
	}
}

func (c *counting) CacheLookup(cache string, hit bool) {
	if c.inner != nil {
		c.inner.CacheLookup(cache, hit)
	}
}
