package manifests_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestStatusClassification: every registry status maps to the reason that decides
// how the controller retries it.
func TestStatusClassification(t *testing.T) {
	tests := []struct {
		status   int
		want     manifests.Reason
		terminal bool
	}{
		{http.StatusBadRequest, manifests.Unsupported, true},
		{http.StatusUnauthorized, manifests.Unauthorized, true},
		{http.StatusForbidden, manifests.Unauthorized, true},
		{http.StatusNotFound, manifests.NotFound, true},
		{http.StatusGone, manifests.Unsupported, true},
		{http.StatusTooManyRequests, manifests.RateLimited, false},
		{http.StatusRequestTimeout, manifests.Unavailable, false},
		{http.StatusInternalServerError, manifests.Unavailable, false},
		{http.StatusBadGateway, manifests.Unavailable, false},
		{http.StatusServiceUnavailable, manifests.Unavailable, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{})
			reg.PushImage(t, "r", "t", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"x"}}))
			reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/r/manifests/*", tt.status, 0, nil))
			_, err := manifests.Resolve(context.Background(), options(reg, false, "r", "t", platforms.Platform{}))
			var e *manifests.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *manifests.Error", err)
			}
			if e.Reason != tt.want || e.Terminal() != tt.terminal {
				t.Errorf("HTTP %d: reason %s (terminal %v), want %s (terminal %v): %s", tt.status, e.Reason, e.Terminal(), tt.want, tt.terminal, e)
			}
		})
	}
}

// TestRetryAfterBelongsToItsResolution: a Retry-After seen by one resolution is
// not reported by a later one that shares its session.
func TestRetryAfterBelongsToItsResolution(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	reg.PushImage(t, "r", "t", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"x"}}))
	opts := options(reg, false, "r", "t", platforms.Platform{})
	opts.Cache.Sessions = manifests.NewSessions(1<<62, 10)
	reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/r/manifests/*", http.StatusTooManyRequests, 0, http.Header{"Retry-After": {"42"}}))
	_, err := manifests.Resolve(context.Background(), opts)
	var e *manifests.Error
	if !errors.As(err, &e) || e.Reason != manifests.RateLimited || e.RetryAfter.Seconds() != 42 {
		t.Fatalf("first: %v", err)
	}
	reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/r/manifests/*", http.StatusTooManyRequests, 0, nil))
	_, err = manifests.Resolve(context.Background(), opts)
	if !errors.As(err, &e) || e.Reason != manifests.RateLimited || e.RetryAfter != 0 {
		t.Fatalf("second: RetryAfter = %v (err %v), want 0: the first resolution's header leaked", e.RetryAfter, err)
	}
}
