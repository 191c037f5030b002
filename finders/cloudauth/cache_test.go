package cloudauth_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth/cloudfake"
)

// TestRenewedOncePerExpiryPerIdentity: 100 objects, half with each of two service
// accounts, ask at the same time, at each of three moments: all fresh, inside the
// renewal margin, and after expiry. Each identity is exchanged once per moment.
func TestRenewedOncePerExpiryPerIdentity(t *testing.T) {
	clock := newClock()
	cloud := cloudfake.NewCloud(t)
	aws := cloudfake.NewAWS(cloud, clock, "eu-west-1")
	aws.Trust(awsRole, "team-a", "puller")
	aws.Trust("arn:aws:iam::123456789012:role/other", "team-b", "puller")
	var exchanges atomic.Int64
	b := newBroker(t, cloud, clock, env{}, cloudauth.Hooks{Exchange: func(p cloudauth.Provider) {
		if p == cloudauth.AWS {
			exchanges.Add(1)
		}
	}})
	sa := &saIdentity{clock: clock}
	ids := []cloudauth.Identity{
		sa.identity("team-a", "puller", map[string]string{cloudauth.AWSRoleARNAnnotation: awsRole}),
		sa.identity("team-b", "puller", map[string]string{cloudauth.AWSRoleARNAnnotation: "arn:aws:iam::123456789012:role/other"}),
	}
	round := func() map[string]int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		passwords := map[string]int{}
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Go(func() {
				c, err := b.Credentials(context.Background(), cloudauth.AWS, ecrRegistry, ids[i%2])
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				passwords[c.Password]++
				mu.Unlock()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		return passwords
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    int64 // exchanges so far
	}{
		{"first", 0, 2},
		{"still fresh", 11*time.Hour + 44*time.Minute, 2},
		{"within 15 minutes of expiry: renewed", 2 * time.Minute, 4},
		{"the renewed token is fresh", time.Hour, 4},
		{"the renewed token expired mid-interval", 12 * time.Hour, 6},
	}
	for _, s := range steps {
		clock.Step(s.advance)
		passwords := round()
		if got := exchanges.Load(); got != s.want {
			t.Errorf("%s: %d exchanges, want %d", s.name, got, s.want)
		}
		if len(passwords) != 2 || passwords[firstKey(passwords)] != 50 {
			t.Errorf("%s: passwords handed out %v, want two, 50 each", s.name, counts(passwords))
		}
		for p := range passwords {
			if !aws.ValidPassword("AWS", p) {
				t.Errorf("%s: a password handed out is not valid now", s.name)
			}
		}
	}
	if got := aws.Calls.Get("sts"); got != 6 {
		t.Errorf("STS calls = %d, want 6", got)
	}
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}

func counts(m map[string]int) []int {
	var c []int
	for _, v := range m {
		c = append(c, v)
	}
	return c
}

// TestRenewalFailureKeepsValidCredentials: a 5xx during renewal does not take away
// a credential that is still valid, but once it expired the error shows.
func TestRenewalFailureKeepsValidCredentials(t *testing.T) {
	clock, cloud, g := newGCP(t)
	var failures []string
	b := newBroker(t, cloud, clock, env{"GCE_METADATA_HOST": g.MetadataHost}, cloudauth.Hooks{Failure: func(p cloudauth.Provider, r string) { failures = append(failures, string(p)+"/"+r) }})
	first, err := b.Credentials(context.Background(), cloudauth.GCP, garRegistry, cloudauth.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	clock.Step(50 * time.Minute) // within the last fifth of the hour
	g.MetadataFaults.FailNext(1, http.StatusServiceUnavailable)
	again, err := b.Credentials(context.Background(), cloudauth.GCP, garRegistry, cloudauth.Identity{})
	if err != nil || again.Password != first.Password {
		t.Fatalf("during a failed renewal: %v, %v; want the cached credential", again, err)
	}
	clock.Step(10 * time.Minute) // expired
	g.MetadataFaults.FailNext(1, http.StatusServiceUnavailable)
	if _, err := b.Credentials(context.Background(), cloudauth.GCP, garRegistry, cloudauth.Identity{}); cloudauth.Reason(err) != "ProviderUnavailable" {
		t.Fatalf("after expiry with the endpoint down: %v, want ProviderUnavailable", err)
	}
	if fmt.Sprint(failures) != "[gcp/ProviderUnavailable gcp/ProviderUnavailable]" {
		t.Errorf("failure hooks = %v", failures)
	}
	renewed, err := b.Credentials(context.Background(), cloudauth.GCP, garRegistry, cloudauth.Identity{})
	if err != nil || renewed.Password == first.Password || !g.ValidPassword(renewed.Username, renewed.Password) {
		t.Fatalf("once the endpoint is back: %v, %v; want a new valid credential", renewed, err)
	}
}

// TestForget: a credential the registry refused is exchanged again, for that
// identity and registry only.
func TestForget(t *testing.T) {
	clock, cloud, a := newAzure(t)
	cloud.Handle("other.azurecr.io", a.ACR(http.NotFoundHandler()))
	b := newBroker(t, cloud, clock, env{}, cloudauth.Hooks{})
	sa := &saIdentity{clock: clock}
	id := sa.identity("team-a", "puller", map[string]string{cloudauth.AzureClientIDAnnotation: azClient, cloudauth.AzureTenantIDAnnotation: azTenant})
	for _, reg := range []string{acrRegistry, "other.azurecr.io"} {
		if _, err := b.Credentials(context.Background(), cloudauth.Azure, reg, id); err != nil {
			t.Fatal(err)
		}
	}
	b.Forget(cloudauth.Azure, acrRegistry, id)
	for _, reg := range []string{acrRegistry, "other.azurecr.io"} {
		if _, err := b.Credentials(context.Background(), cloudauth.Azure, reg, id); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Calls.Get("entra"); got != 3 {
		t.Errorf("Entra calls = %d, want 3 (two registries, then one forgotten)", got)
	}
}

// TestAnnotationChangeIsANewIdentity: a service account whose role annotation
// changed does not get the old role's cached credential.
func TestAnnotationChangeIsANewIdentity(t *testing.T) {
	clock := newClock()
	cloud := cloudfake.NewCloud(t)
	aws := cloudfake.NewAWS(cloud, clock, "eu-west-1")
	aws.Trust(awsRole, "team-a", "puller")
	b := newBroker(t, cloud, clock, env{}, cloudauth.Hooks{})
	sa := &saIdentity{clock: clock}
	if _, err := b.Credentials(context.Background(), cloudauth.AWS, ecrRegistry, sa.identity("team-a", "puller", map[string]string{cloudauth.AWSRoleARNAnnotation: awsRole})); err != nil {
		t.Fatal(err)
	}
	_, err := b.Credentials(context.Background(), cloudauth.AWS, ecrRegistry, sa.identity("team-a", "puller", map[string]string{cloudauth.AWSRoleARNAnnotation: "arn:aws:iam::123456789012:role/admin"}))
	if cloudauth.Reason(err) != "ProviderAuthFailed" {
		t.Errorf("with the changed annotation: %v, want ProviderAuthFailed from STS", err)
	}
}
