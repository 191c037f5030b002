package manifests

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/flight"
)

// TestCoalesceWaiterIsUnavailable: a caller that stops waiting for another's
// registry call gets an Unavailable *Error wrapping its context's error, while
// the call goes on.
func TestCoalesceWaiterIsUnavailable(t *testing.T) {
	var g flight.Group
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_, _ = g.Do(context.Background(), "k", time.Minute, func(context.Context) (any, error) {
			close(started)
			<-release
			return "v", nil
		})
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := coalesce(ctx, &g, "k", time.Minute, func(context.Context) (any, error) { return "other", nil })
	close(release)
	var e *Error
	if !errors.As(err, &e) || e.Reason != Unavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Unavailable wrapping context.Canceled", err)
	}
	if want := "gave up waiting for a registry call: context canceled"; e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}
}
