package cloudauth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth/cloudfake"
)

const (
	acrRegistry = "myregistry.azurecr.io"
	azClient    = "11111111-2222-3333-4444-555555555555"
	azTenant    = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

func newAzure(t *testing.T) (*fakeClock, *cloudfake.Cloud, *cloudfake.Azure) {
	clock := newClock()
	cloud := cloudfake.NewCloud(t)
	a := cloudfake.NewAzure(cloud, clock)
	cloud.Handle(acrRegistry, a.ACR(http.NotFoundHandler()))
	a.Federate(azClient, azTenant, "team-a", "puller")
	return clock, cloud, a
}

func TestAzure(t *testing.T) {
	tests := []struct {
		name       string
		controller bool
		env        env
		annots     map[string]string
		wantSource string
		wantHost   string
	}{
		{name: "object-level", annots: map[string]string{cloudauth.AzureClientIDAnnotation: azClient, cloudauth.AzureTenantIDAnnotation: azTenant},
			env: env{}, wantSource: "provider azure via serviceaccount team-a/puller (client " + azClient + ", tenant " + azTenant + ")", wantHost: "login.microsoftonline.com"},
		{name: "object-level, tenant from the controller", annots: map[string]string{cloudauth.AzureClientIDAnnotation: azClient},
			env: env{"AZURE_TENANT_ID": azTenant}, wantSource: "provider azure via serviceaccount team-a/puller (client " + azClient + ", tenant " + azTenant + ")", wantHost: "login.microsoftonline.com"},
		{name: "controller-level, authority host overridden", controller: true,
			env: env{"AZURE_CLIENT_ID": azClient, "AZURE_TENANT_ID": azTenant, "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
				"AZURE_AUTHORITY_HOST": "https://login.private.example/"},
			wantSource: "provider azure via controller (client " + azClient + ", tenant " + azTenant + ")", wantHost: "login.private.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock, cloud, a := newAzure(t)
			cloud.Handle("login.private.example", cloud.Handler("login.microsoftonline.com"))
			sa := &saIdentity{clock: clock}
			id := sa.identity("team-a", "puller", tt.annots)
			if tt.controller {
				id = cloudauth.Identity{}
				tt.env["file:"+tt.env["AZURE_FEDERATED_TOKEN_FILE"]] = cloudfake.ServiceAccountToken("team-a", "puller", cloudauth.AzureAudience, clock.Now().Add(time.Hour))
			}
			b := newBroker(t, cloud, clock, tt.env, cloudauth.Hooks{})
			c, err := b.Credentials(context.Background(), cloudauth.Azure, acrRegistry, id)
			if err != nil {
				t.Fatal(err)
			}
			if !a.ValidPassword(c.Username, c.Password) {
				t.Errorf("the registry would refuse %v", c)
			}
			if c.Source != tt.wantSource {
				t.Errorf("Source = %q, want %q", c.Source, tt.wantSource)
			}
			if want := clock.Now().Add(3 * time.Hour); !c.ExpiresAt.Equal(want) {
				t.Errorf("ExpiresAt = %s, want %s (the refresh token's exp)", c.ExpiresAt, want)
			}
			if cloud.Requests(tt.wantHost) != 1 || cloud.Requests(acrRegistry) != 1 {
				t.Errorf("requests: %s=%d %s=%d, want 1 each", tt.wantHost, cloud.Requests(tt.wantHost), acrRegistry, cloud.Requests(acrRegistry))
			}
		})
	}
}

func TestAzureRefusals(t *testing.T) {
	good := map[string]string{cloudauth.AzureClientIDAnnotation: azClient, cloudauth.AzureTenantIDAnnotation: azTenant}
	tests := []struct {
		name       string
		registry   string
		namespace  string
		annots     map[string]string
		prepare    func(*cloudfake.Azure)
		wantReason string
		wantMsg    string
	}{
		{name: "no client-id annotation", annots: map[string]string{cloudauth.AzureTenantIDAnnotation: azTenant},
			wantReason: "ProviderIdentityInvalid", wantMsg: "serviceaccount team-a/puller has no azure.workload.identity/client-id annotation"},
		{name: "no tenant anywhere", annots: map[string]string{cloudauth.AzureClientIDAnnotation: azClient},
			wantReason: "ProviderIdentityInvalid", wantMsg: "has no azure.workload.identity/tenant-id annotation, and the controller has no AZURE_TENANT_ID"},
		{name: "malformed client-id", annots: map[string]string{cloudauth.AzureClientIDAnnotation: "puller", cloudauth.AzureTenantIDAnnotation: azTenant},
			wantReason: "ProviderIdentityInvalid", wantMsg: `the client ID "puller" is not a GUID`},
		{name: "no federated credential for this service account", namespace: "team-b", annots: good,
			wantReason: "ProviderAuthFailed", wantMsg: "azure entra answered 400 invalid_client: AADSTS70021: No matching federated identity record found for presented assertion subject 'system:serviceaccount:team-b:puller'"},
		{name: "Entra 5xx", annots: good, prepare: func(a *cloudfake.Azure) { a.EntraFaults.FailNext(1, http.StatusInternalServerError) },
			wantReason: "ProviderUnavailable", wantMsg: "azure entra answered 500"},
		{name: "ACR refuses", annots: good, prepare: func(a *cloudfake.Azure) { a.ACRFaults.FailNext(1, http.StatusUnauthorized) },
			wantReason: "ProviderAuthFailed", wantMsg: "azure acr-exchange answered 401"},
		{name: "clock skew larger than the token lifetime", annots: good, prepare: func(a *cloudfake.Azure) { a.RefreshExpiryShift = -4 * time.Hour },
			wantReason: "ProviderClockSkew", wantMsg: "azure acr-exchange issued a credential that expires at 2026-12-04T11:00:00Z"},
		{name: "registry of another provider", registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", annots: good,
			wantReason: "ProviderRegistryMismatch", wantMsg: "belongs to provider aws, not azure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock, cloud, a := newAzure(t)
			if tt.prepare != nil {
				tt.prepare(a)
			}
			b := newBroker(t, cloud, clock, env{}, cloudauth.Hooks{})
			sa := &saIdentity{clock: clock}
			reg, ns := tt.registry, tt.namespace
			if reg == "" {
				reg = acrRegistry
			}
			if ns == "" {
				ns = "team-a"
			}
			_, err := b.Credentials(context.Background(), cloudauth.Azure, reg, sa.identity(ns, "puller", tt.annots))
			if got := cloudauth.Reason(err); got != tt.wantReason || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %v (reason %q), want reason %q saying %q", err, got, tt.wantReason, tt.wantMsg)
			}
			if tt.wantReason == "ProviderRegistryMismatch" || tt.wantReason == "ProviderIdentityInvalid" {
				if n := a.Calls.Get("entra") + a.Calls.Get("acr-exchange"); n != 0 || len(sa.audiences) != 0 {
					t.Errorf("%d requests and %d tokens made, want none", n, len(sa.audiences))
				}
			}
		})
	}
}
