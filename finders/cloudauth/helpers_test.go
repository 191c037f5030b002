package cloudauth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth/cloudfake"
)

// fakeClock is a settable clock (finders/ does not import k8s.io, so not k8s.io/utils').
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a fake environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// saIdentity is the object-level identity of namespace/name with annotations,
// whose tokens the fake clock dates; it counts the tokens requested per audience.
type saIdentity struct {
	clock     *fakeClock
	mu        sync.Mutex
	audiences []string
}

func (s *saIdentity) identity(namespace, name string, annotations map[string]string) cloudauth.Identity {
	return cloudauth.Identity{
		ServiceAccount: namespace + "/" + name,
		Annotations:    annotations,
		Token: func(_ context.Context, audience string) (string, error) {
			s.mu.Lock()
			s.audiences = append(s.audiences, audience)
			s.mu.Unlock()
			return cloudfake.ServiceAccountToken(namespace, name, audience, s.clock.Now().Add(time.Hour)), nil
		},
	}
}

// newBroker returns a broker talking to cloud, with the environment e.
func newBroker(t *testing.T, cloud *cloudfake.Cloud, clock *fakeClock, e env, hooks cloudauth.Hooks) *cloudauth.Broker {
	t.Helper()
	return cloudauth.NewBroker(cloudauth.Options{
		HTTPClient: cloud.Client(),
		Clock:      clock,
		Getenv:     e.get,
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := e["file:"+p]; ok {
				return []byte(v), nil
			}
			return nil, &fileError{p}
		},
		Hooks: hooks,
	})
}

type fileError struct{ path string }

func (e *fileError) Error() string { return "open " + e.path + ": no such file or directory" }
