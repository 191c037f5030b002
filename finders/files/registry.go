package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/session"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
)

// BlobSource reads the blobs of one repository.
type BlobSource interface {
	// Blob opens the whole blob.
	Blob(ctx context.Context, digest string) (io.ReadCloser, error)
	// BlobRange reads length bytes at off. A registry that ignores the Range
	// header and sends the whole blob gets ErrRangeIgnored, with the open
	// body of the whole blob for the caller to stream (and close).
	BlobRange(ctx context.Context, digest string, off, length int64) ([]byte, io.ReadCloser, error)
}

// RegistryOptions say how to reach a repository's blobs.
type RegistryOptions struct {
	// Repository is the repository as "host[:port]/path", such as
	// "index.docker.io/library/nginx".
	Repository string
	// Insecure allows plain HTTP; without it every request must be HTTPS.
	Insecure bool
	// Auth authenticates; nil is anonymous.
	Auth authn.Authenticator
	// Transport is the base transport; nil is a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// UserAgent is sent with every request.
	UserAgent string
	// Network, when set, limits where requests may go (registry, redirects, token realm).
	Network *netpolicy.Policy
	// RetryBackoff overrides the retry backoff (3 tries, 1 s then 3 s apart).
	RetryBackoff *transport.Backoff
	// Wrap, when set, wraps the base transport after the network policy and under
	// the retries and authentication, so that it sees every request sent (pings,
	// token requests and retries included): to count or observe them.
	Wrap func(http.RoundTripper) http.RoundTripper
}

// Registry is a BlobSource over the registry API, authenticated once.
type Registry struct {
	client *http.Client
	base   string // scheme://host/v2/repository/blobs/
}

// NewRegistry runs the authentication handshake for pulling from o.Repository.
func NewRegistry(ctx context.Context, o RegistryOptions) (*Registry, error) {
	var opts []name.Option
	if o.Insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(o.Repository, opts...)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", o.Repository, err)
	}
	if err := o.Network.CheckHost(repo.RegistryStr()); err != nil {
		return nil, err
	}
	base, err := session.BaseTransport(o.Transport, o.Network)
	if err != nil {
		return nil, err
	}
	if o.Wrap != nil {
		base = o.Wrap(base)
	}
	a := o.Auth
	if a == nil {
		a = authn.Anonymous
	}
	// The same client as a resolution's: HTTPS unless insecure, the network
	// policy on every request, go-containerregistry's retries, redirect rules.
	client, err := session.Connect(ctx, repo, a, session.Config{
		Base: base, Insecure: o.Insecure, Network: o.Network, Backoff: o.RetryBackoff, UserAgent: o.UserAgent,
	})
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", repo.RegistryStr(), err)
	}
	return &Registry{
		client: client,
		base:   fmt.Sprintf("%s://%s/v2/%s/blobs/", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr()),
	}, nil
}

// Client returns the authenticated client, for other requests to the same
// repository (its manifests and referrers) through the same handshake.
func (r *Registry) Client() *http.Client { return r.client }

func (r *Registry) get(ctx context.Context, digest, rangeHeader string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+digest, nil)
	if err != nil {
		return nil, err
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching blob %s: %w", digest, err)
	}
	if err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching blob %s: %w", digest, err)
	}
	return resp, nil
}

// Blob opens the whole blob.
func (r *Registry) Blob(ctx context.Context, digest string) (io.ReadCloser, error) {
	resp, err := r.get(ctx, digest, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("fetching blob %s: status %d without a Range request", digest, resp.StatusCode)
	}
	return resp.Body, nil
}

// BlobRange reads length bytes at off with one Range request.
func (r *Registry) BlobRange(ctx context.Context, digest string, off, length int64) ([]byte, io.ReadCloser, error) {
	if off < 0 || length <= 0 {
		return nil, nil, fmt.Errorf("blob %s: invalid range %d+%d", digest, off, length)
	}
	resp, err := r.get(ctx, digest, fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return nil, resp.Body, ErrRangeIgnored
	}
	defer resp.Body.Close()
	start, end, err := contentRange(resp.Header.Get("Content-Range"))
	if err != nil || start != off || end != off+length-1 {
		return nil, nil, fmt.Errorf("blob %s: asked for bytes %d-%d, the registry answered Content-Range %q", digest, off, off+length-1, resp.Header.Get("Content-Range"))
	}
	b := make([]byte, length)
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		return nil, nil, fmt.Errorf("blob %s: reading bytes %d-%d: %w", digest, off, off+length-1, err)
	}
	return b, nil, nil
}

// contentRange parses "bytes START-END/SIZE".
func contentRange(v string) (start, end int64, err error) {
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, errors.New("no bytes unit")
	}
	spec, _, _ = strings.Cut(spec, "/")
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, errors.New("no range")
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, err
	}
	end, err = strconv.ParseInt(b, 10, 64)
	return start, end, err
}
