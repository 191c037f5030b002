// Package cloudauth exchanges a workload identity for the credentials of a cloud
// registry: Amazon ECR (and ECR Public), Google Artifact Registry and Container
// Registry, and Azure Container Registry.
//
// The identity is either the controller's own (the pod's web identity token
// file, or the GCE metadata server) or a Kubernetes service account's, given as a
// function that returns a token for an audience: the caller does the
// TokenRequest, this package knows nothing of Kubernetes.
//
// Credentials are cached per (provider, identity, registry), renewed once before
// they expire, and shared by every caller of that identity; concurrent callers
// wait for one exchange. Nothing here logs, and no error message holds a token.
package cloudauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Provider names a cloud whose registries take workload identity.
type Provider string

// The providers.
const (
	// Generic is no cloud: the registry's credentials come from Secrets, or none.
	Generic Provider = "generic"
	// AWS is Amazon ECR and ECR Public, through STS AssumeRoleWithWebIdentity.
	AWS Provider = "aws"
	// GCP is Artifact Registry and Container Registry, through Workload Identity Federation.
	GCP Provider = "gcp"
	// Azure is Azure Container Registry, through Entra ID workload identity federation.
	Azure Provider = "azure"
)

// Identity is whose credentials to get.
type Identity struct {
	// ServiceAccount is "<namespace>/<name>" of a Kubernetes service account for
	// object-level identity. Empty means the controller's own identity.
	ServiceAccount string
	// Annotations are the service account's annotations, which name the cloud
	// identity: eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account,
	// azure.workload.identity/client-id and azure.workload.identity/tenant-id.
	Annotations map[string]string
	// Token returns a token of the service account for the audience. It is
	// required with ServiceAccount.
	Token func(ctx context.Context, audience string) (string, error)
}

// Credentials are a registry's username and password, valid until ExpiresAt.
type Credentials struct {
	// Username and Password are sent to the registry. Never log them.
	Username, Password string
	// ExpiresAt is when the registry stops accepting them.
	ExpiresAt time.Time
	// Source describes where they came from without any secret, such as
	// "provider aws via serviceaccount team-a/puller (role arn:aws:iam::…)".
	Source string
}

// String hides the password.
func (c Credentials) String() string {
	return fmt.Sprintf("{%s, expires %s, user %q, password redacted}", c.Source, c.ExpiresAt.UTC().Format(time.RFC3339), c.Username)
}

// Clock tells the time; k8s.io/utils/clock's clocks satisfy it.
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Hooks are called on every exchange and every failed one, with the provider; the
// controller counts them in its metrics. Both may be nil.
type Hooks struct {
	// Exchange is called before each exchange with a provider (not on a cache hit).
	Exchange func(p Provider)
	// Failure is called when an exchange failed, with the reason Reason returns.
	Failure func(p Provider, reason string)
}

// Options configure a Broker. The zero value talks to the real endpoints.
type Options struct {
	// HTTPClient sends every request, to the providers and to ACR's
	// /oauth2/exchange. Default: a client with a 30s timeout.
	HTTPClient *http.Client
	// Clock default: the wall clock.
	Clock Clock
	// Getenv reads the controller's environment: the pod's identity and the
	// endpoint overrides. Default: os.Getenv.
	Getenv func(string) string
	// ReadFile reads the token files the environment names. Default: os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// GCPSTSEndpoint and GCPIAMEndpoint replace https://sts.googleapis.com and
	// https://iamcredentials.googleapis.com, for tests and private endpoints.
	GCPSTSEndpoint, GCPIAMEndpoint string
	// Hooks count exchanges and failures.
	Hooks Hooks
}

// Broker gets, caches and renews cloud registry credentials. It is safe for
// concurrent use; share one per process so that every object with the same
// identity shares one credential.
type Broker struct {
	opts   Options
	flight singleflight.Group

	mu    sync.Mutex
	cache map[string]entry
}

// entry is a cached credential and when to renew it.
type entry struct {
	creds   Credentials
	renewAt time.Time
}

// NewBroker returns a Broker.
func NewBroker(opts Options) *Broker {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	return &Broker{opts: opts, cache: map[string]entry{}}
}

// ParseProvider checks a provider name.
func ParseProvider(s string) (Provider, error) {
	switch p := Provider(s); p {
	case Generic, AWS, GCP, Azure:
		return p, nil
	case "":
		return Generic, nil
	}
	return "", fmt.Errorf("unknown provider %q: want generic, aws, gcp or azure", s)
}

// plan is a validated identity, ready to exchange.
type plan struct {
	key      string // identity part of the cache key: what makes two credentials differ
	source   string
	exchange func(ctx context.Context) (Credentials, error)
}

// Credentials returns credentials for registry (a host, optionally with a port)
// as identity, from the cache while they are fresh. A registry that does not
// belong to p is a *RegistryMismatchError, and an incomplete identity an
// *IdentityError; neither makes a request.
func (b *Broker) Credentials(ctx context.Context, p Provider, registry string, id Identity) (Credentials, error) {
	if p == Generic || p == "" {
		return Credentials{}, fmt.Errorf("provider %q has no workload identity", Generic)
	}
	reg, err := checkRegistry(p, registry)
	if err != nil {
		b.fail(p, err)
		return Credentials{}, err
	}
	if id.ServiceAccount != "" && id.Token == nil {
		return Credentials{}, fmt.Errorf("identity of serviceaccount %s has no token source", id.ServiceAccount)
	}
	var pl plan
	switch p {
	case AWS:
		pl, err = b.awsPlan(reg, id)
	case GCP:
		pl, err = b.gcpPlan(reg, id)
	case Azure:
		pl, err = b.azurePlan(reg, id)
	default:
		err = fmt.Errorf("unknown provider %q", p)
	}
	if err != nil {
		b.fail(p, err)
		return Credentials{}, err
	}
	key := string(p) + "\x00" + pl.key + "\x00" + reg.Host

	now := b.opts.Clock.Now()
	b.mu.Lock()
	cached, ok := b.cache[key]
	b.mu.Unlock()
	if ok && now.Before(cached.renewAt) {
		return cached.creds, nil
	}

	v, err, _ := b.flight.Do(key, func() (any, error) {
		// A caller that waited on the lock may find the work done.
		b.mu.Lock()
		e, ok := b.cache[key]
		b.mu.Unlock()
		if ok && b.opts.Clock.Now().Before(e.renewAt) {
			return e.creds, nil
		}
		if b.opts.Hooks.Exchange != nil {
			b.opts.Hooks.Exchange(p)
		}
		c, err := pl.exchange(ctx)
		if err != nil {
			return nil, err
		}
		c.Source = pl.source
		b.store(key, c)
		return c, nil
	})
	if err != nil {
		b.fail(p, err)
		// A renewal failed while the old credential is still valid: keep using it.
		if ok && now.Before(cached.creds.ExpiresAt) {
			return cached.creds, nil
		}
		return Credentials{}, err
	}
	return v.(Credentials), nil
}

// renewMargin is how long before expiry a credential is renewed: a fifth of its
// lifetime as seen when issued, at most 15 minutes (an ECR token of 12 hours is
// renewed at 11h45m, a GCP token of 1 hour at 48m).
const renewMargin = 15 * time.Minute

func (b *Broker) store(key string, c Credentials) {
	now := b.opts.Clock.Now()
	margin := min(c.ExpiresAt.Sub(now)/5, renewMargin)
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, v := range b.cache {
		if !now.Before(v.creds.ExpiresAt) {
			delete(b.cache, k)
		}
	}
	b.cache[key] = entry{creds: c, renewAt: c.ExpiresAt.Add(-margin)}
}

func (b *Broker) fail(p Provider, err error) {
	if b.opts.Hooks.Failure != nil {
		b.opts.Hooks.Failure(p, Reason(err))
	}
}

// Forget drops every cached credential of the identity for the registry, so that
// the next call exchanges again: call it when the registry refused a cached one.
func (b *Broker) Forget(p Provider, registry string, id Identity) {
	host := ParseRegistry(registry).Host
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.cache {
		if strings.HasPrefix(k, string(p)+"\x00") && strings.HasSuffix(k, "\x00"+host) &&
			strings.Contains(k, "\x00"+identityName(id)+"|") {
			delete(b.cache, k)
		}
	}
}

// identityName is how an identity appears in cache keys and sources.
func identityName(id Identity) string {
	if id.ServiceAccount == "" {
		return "controller"
	}
	return "serviceaccount " + id.ServiceAccount
}

// identityKey renders the identity and the values that select the cloud identity.
func identityKey(id Identity, values ...string) string {
	vs := append([]string(nil), values...)
	sort.Strings(vs)
	return identityName(id) + "|" + strings.Join(vs, "|")
}

// checkExpiry refuses a credential that expired before it arrived.
func (b *Broker) checkExpiry(p Provider, step string, expires time.Time) error {
	if now := b.opts.Clock.Now(); !now.Before(expires) {
		return &ClockSkewError{Provider: p, Step: step, ExpiresAt: expires, Now: now}
	}
	return nil
}

var errNoToken = errors.New("no token in the answer")
