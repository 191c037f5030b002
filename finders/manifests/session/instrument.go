package session

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Observation is what one resolution (one call of Resolve, Digest, Platforms or
// PlatformDigest) observes. It travels in the request context, not in the
// transport: a session's transport is shared by every resolution that reuses it,
// so each request reports to the observer and the rate-limit capture of the
// resolution that sent it.
type Observation struct {
	observer Observer

	mu        sync.Mutex
	rateLimit *RateLimitInfo
}

type observationKey struct{}

// WithObservation returns ctx carrying a new Observation for o; every request
// sent with ctx through a client of this package reports to it.
func WithObservation(ctx context.Context, o Observer) (context.Context, *Observation) {
	obs := &Observation{observer: o}
	return context.WithValue(ctx, observationKey{}, obs), obs
}

// LastRateLimit returns a copy of the last rate-limit headers the resolution saw, or nil.
func (o *Observation) LastRateLimit() *RateLimitInfo {
	if o == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.rateLimit == nil {
		return nil
	}
	info := *o.rateLimit
	return &info
}

// instrumented is the transport that sees every request actually sent: it sits
// under go-containerregistry's retry, bearer and scheme transports (so retries,
// pings, token requests and redirects each pass through it once) and above the
// base transport. Requests that guard refuses are never sent, and are not seen.
type instrumented struct {
	inner http.RoundTripper
	now   func() time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *instrumented) RoundTrip(req *http.Request) (*http.Response, error) {
	obs, _ := req.Context().Value(observationKey{}).(*Observation)
	if obs == nil {
		return t.inner.RoundTrip(req)
	}
	start := t.now()
	resp, err := t.inner.RoundTrip(req)
	d := t.now().Sub(start)
	host := req.URL.Host
	if err != nil {
		obs.observer.RegistryRequest(host, req.Method, "error", d)
		return resp, err
	}
	obs.observer.RegistryRequest(host, req.Method, strconv.Itoa(resp.StatusCode), d)
	if info, ok := parseRateLimit(resp.Header, t.now()); ok {
		info.Host = host
		obs.mu.Lock()
		obs.rateLimit = &info
		obs.mu.Unlock()
		obs.observer.RateLimit(host, info)
	}
	return resp, nil
}

// parseRateLimit reads Docker Hub's "ratelimit-limit: 100;w=21600",
// "ratelimit-remaining: 76;w=21600" and "docker-ratelimit-source" headers. ok is
// false unless both numbers are present and not negative.
func parseRateLimit(h http.Header, now time.Time) (RateLimitInfo, bool) {
	limit, lw, ok := parseQuota(h.Get("ratelimit-limit"))
	if !ok {
		return RateLimitInfo{}, false
	}
	remaining, rw, ok := parseQuota(h.Get("ratelimit-remaining"))
	if !ok {
		return RateLimitInfo{}, false
	}
	w := lw
	if w == 0 {
		w = rw
	}
	src := strings.TrimSpace(h.Get("docker-ratelimit-source"))
	if len(src) > 256 {
		src = src[:256]
	}
	return RateLimitInfo{Limit: limit, Remaining: remaining, Window: w, Source: src, ObservedAt: now}, true
}

// parseQuota reads "76;w=21600": a count and an optional window in seconds.
func parseQuota(v string) (n int64, window time.Duration, ok bool) {
	parts := strings.Split(v, ";")
	n, err := strconv.ParseInt(strings.TrimSpace(parts[0]), 10, 64)
	if err != nil || n < 0 {
		return 0, 0, false
	}
	for _, p := range parts[1:] {
		k, val, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || strings.TrimSpace(k) != "w" {
			continue
		}
		s, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err == nil && s > 0 && s <= int64(366*24*time.Hour/time.Second) {
			window = time.Duration(s) * time.Second
		}
	}
	return n, window, true
}
