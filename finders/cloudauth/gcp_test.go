package cloudauth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth/cloudfake"
)

const (
	garRegistry = "europe-west1-docker.pkg.dev"
	gsa         = "puller@my-project.iam.gserviceaccount.com"
)

func newGCP(t *testing.T) (*fakeClock, *cloudfake.Cloud, *cloudfake.GCP) {
	clock := newClock()
	cloud := cloudfake.NewCloud(t)
	g := cloudfake.NewGCP(t, cloud, clock, "my-project", "europe-west1", "prod")
	g.Bind(gsa, "team-a", "puller")
	return clock, cloud, g
}

func TestGCP(t *testing.T) {
	tests := []struct {
		name        string
		controller  bool
		annotations map[string]string
		wantSource  string
		wantCalls   map[string]int
		wantAud     []string
	}{
		{name: "object-level, federated token used directly", annotations: nil,
			wantSource: "provider gcp via serviceaccount team-a/puller",
			wantCalls:  map[string]int{"metadata": 3, "sts": 1, "iam": 0}, wantAud: []string{"my-project.svc.id.goog"}},
		{name: "object-level, impersonating a Google service account", annotations: map[string]string{cloudauth.GCPServiceAccountAnnotation: gsa},
			wantSource: "provider gcp via serviceaccount team-a/puller (impersonating " + gsa + ")",
			wantCalls:  map[string]int{"metadata": 3, "sts": 1, "iam": 1}, wantAud: []string{"my-project.svc.id.goog"}},
		{name: "controller-level, metadata server", controller: true,
			wantSource: "provider gcp via controller (metadata server)",
			wantCalls:  map[string]int{"metadata": 1, "sts": 0, "iam": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock, cloud, g := newGCP(t)
			b := newBroker(t, cloud, clock, env{"GCE_METADATA_HOST": g.MetadataHost}, cloudauth.Hooks{})
			sa := &saIdentity{clock: clock}
			id := sa.identity("team-a", "puller", tt.annotations)
			if tt.controller {
				id = cloudauth.Identity{}
			}
			c, err := b.Credentials(context.Background(), cloudauth.GCP, garRegistry, id)
			if err != nil {
				t.Fatal(err)
			}
			if !g.ValidPassword(c.Username, c.Password) {
				t.Errorf("the registry would refuse %v", c)
			}
			if c.Source != tt.wantSource {
				t.Errorf("Source = %q, want %q", c.Source, tt.wantSource)
			}
			if want := clock.Now().Add(time.Hour); !c.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %s, want %s", c.ExpiresAt, want)
			}
			got := map[string]int{"metadata": g.Calls.Get("metadata"), "sts": g.Calls.Get("sts"), "iam": g.Calls.Get("iam")}
			if diff := cmp.Diff(tt.wantCalls, got); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAud, sa.audiences); diff != "" {
				t.Errorf("token audiences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGCPRefusals(t *testing.T) {
	tests := []struct {
		name        string
		registry    string
		namespace   string
		annotations map[string]string
		prepare     func(*cloudfake.GCP, *fakeClock)
		wantReason  string
		wantMsg     string
	}{
		{name: "malformed service account annotation", annotations: map[string]string{cloudauth.GCPServiceAccountAnnotation: "puller"},
			wantReason: "ProviderIdentityInvalid", wantMsg: `annotation iam.gke.io/gcp-service-account="puller" is not a Google service account email`},
		{name: "malformed pool provider annotation", annotations: map[string]string{cloudauth.GCPWorkloadIdentityProviderAnnotation: "my-pool"},
			wantReason: "ProviderIdentityInvalid", wantMsg: `annotation gcp.auth.imageconfig.dev/workload-identity-provider="my-pool" is not projects/`},
		{name: "impersonation not granted", namespace: "team-b", annotations: map[string]string{cloudauth.GCPServiceAccountAnnotation: gsa},
			wantReason: "ProviderAuthFailed", wantMsg: "gcp iamcredentials answered 403 PERMISSION_DENIED: Permission 'iam.serviceAccounts.getAccessToken' denied"},
		{name: "STS 5xx", prepare: func(g *cloudfake.GCP, _ *fakeClock) { g.STSFaults.FailNext(1, http.StatusBadGateway) },
			wantReason: "ProviderUnavailable", wantMsg: "gcp gcp-sts answered 502"},
		{name: "metadata server down", prepare: func(g *cloudfake.GCP, _ *fakeClock) { g.MetadataFaults.FailNext(1, http.StatusServiceUnavailable) },
			wantReason: "ProviderUnavailable", wantMsg: "gcp metadata answered 503"},
		{name: "not a GKE cluster", prepare: func(g *cloudfake.GCP, _ *fakeClock) { g.Cluster = "" },
			wantReason: "ProviderAuthFailed", wantMsg: "instance/attributes/cluster-name is empty"},
		{name: "clock skew larger than the token lifetime", annotations: map[string]string{cloudauth.GCPServiceAccountAnnotation: gsa},
			prepare:    func(g *cloudfake.GCP, _ *fakeClock) { g.ExpireTimeShift = -2 * time.Hour },
			wantReason: "ProviderClockSkew", wantMsg: "gcp iamcredentials issued a credential that expires at 2026-12-04T11:00:00Z"},
		{name: "registry of another provider", registry: "myregistry.azurecr.io",
			wantReason: "ProviderRegistryMismatch", wantMsg: `registry "myregistry.azurecr.io" belongs to provider azure, not gcp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock, cloud, g := newGCP(t)
			if tt.prepare != nil {
				tt.prepare(g, clock)
			}
			b := newBroker(t, cloud, clock, env{"GCE_METADATA_HOST": g.MetadataHost}, cloudauth.Hooks{})
			sa := &saIdentity{clock: clock}
			reg, ns := tt.registry, tt.namespace
			if reg == "" {
				reg = garRegistry
			}
			if ns == "" {
				ns = "team-a"
			}
			_, err := b.Credentials(context.Background(), cloudauth.GCP, reg, sa.identity(ns, "puller", tt.annotations))
			if got := cloudauth.Reason(err); got != tt.wantReason || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %v (reason %q), want reason %q saying %q", err, got, tt.wantReason, tt.wantMsg)
			}
			if tt.wantReason == "ProviderRegistryMismatch" || tt.wantReason == "ProviderIdentityInvalid" {
				if n := g.Calls.Get("metadata") + g.Calls.Get("sts") + g.Calls.Get("iam"); n != 0 {
					t.Errorf("%d requests made, want none", n)
				}
			}
		})
	}
}
