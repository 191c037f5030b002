package cloudauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The GCP annotations and defaults.
const (
	// GCPServiceAccountAnnotation names a Google service account to impersonate
	// after the token exchange, as GKE Workload Identity's annotation does.
	GCPServiceAccountAnnotation = "iam.gke.io/gcp-service-account"
	// GCPWorkloadIdentityProviderAnnotation names a Workload Identity Federation
	// provider, "projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>",
	// for clusters outside GKE. Without it the GKE pool of the cluster is used,
	// read from the metadata server.
	GCPWorkloadIdentityProviderAnnotation = "gcp.auth.imageconfig.dev/workload-identity-provider"
	// GCPUsername is the registry username that goes with an access token.
	GCPUsername = "oauth2accesstoken"

	gcpScope          = "https://www.googleapis.com/auth/cloud-platform"
	gcpDefaultSTS     = "https://sts.googleapis.com"
	gcpDefaultIAM     = "https://iamcredentials.googleapis.com"
	gcpDefaultMDSHost = "169.254.169.254"
)

var (
	gcpServiceAccount = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.:-]+\.gserviceaccount\.com$`)
	gcpWIFProvider    = regexp.MustCompile(`^projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$`)
)

func (b *Broker) gcpPlan(reg Registry, id Identity) (plan, error) {
	gsa := id.Annotations[GCPServiceAccountAnnotation]
	if gsa != "" && !gcpServiceAccount.MatchString(gsa) {
		return plan{}, &IdentityError{GCP, fmt.Sprintf("serviceaccount %s: annotation %s=%q is not a Google service account email such as puller@my-project.iam.gserviceaccount.com", id.ServiceAccount, GCPServiceAccountAnnotation, gsa)}
	}
	wif := id.Annotations[GCPWorkloadIdentityProviderAnnotation]
	if wif != "" && !gcpWIFProvider.MatchString(wif) {
		return plan{}, &IdentityError{GCP, fmt.Sprintf("serviceaccount %s: annotation %s=%q is not projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>", id.ServiceAccount, GCPWorkloadIdentityProviderAnnotation, wif)}
	}
	if id.ServiceAccount == "" {
		return plan{
			key:    identityKey(id),
			source: "provider gcp via controller (metadata server)",
			exchange: func(ctx context.Context) (Credentials, error) {
				var out struct {
					AccessToken string `json:"access_token"`
					ExpiresIn   int64  `json:"expires_in"`
				}
				if err := b.gcpMetadata(ctx, "instance/service-accounts/default/token", &out); err != nil {
					return Credentials{}, err
				}
				return b.gcpToken("metadata", out.AccessToken, out.ExpiresIn)
			},
		}, nil
	}
	source := fmt.Sprintf("provider gcp via %s", identityName(id))
	switch {
	case gsa != "" && wif != "":
		source += fmt.Sprintf(" (pool provider %s, impersonating %s)", wif, gsa)
	case gsa != "":
		source += fmt.Sprintf(" (impersonating %s)", gsa)
	case wif != "":
		source += fmt.Sprintf(" (pool provider %s)", wif)
	}
	return plan{
		key:    identityKey(id, "gsa="+gsa, "wif="+wif),
		source: source,
		exchange: func(ctx context.Context) (Credentials, error) {
			return b.gcpExchange(ctx, id, gsa, wif)
		},
	}, nil
}

// gcpExchange trades a service-account token for a federated access token at
// Google's STS (RFC 8693), then optionally for a Google service account's token.
func (b *Broker) gcpExchange(ctx context.Context, id Identity, gsa, wif string) (Credentials, error) {
	tokenAudience, stsAudience := "//iam.googleapis.com/"+wif, "//iam.googleapis.com/"+wif
	if wif == "" {
		// GKE: the cluster's own pool, <project>.svc.id.goog.
		var project, location, cluster string
		for _, v := range []struct {
			path string
			out  *string
		}{{"project/project-id", &project}, {"instance/attributes/cluster-location", &location}, {"instance/attributes/cluster-name", &cluster}} {
			if err := b.gcpMetadata(ctx, v.path, v.out); err != nil {
				return Credentials{}, err
			}
		}
		tokenAudience = project + ".svc.id.goog"
		stsAudience = fmt.Sprintf("identitynamespace:%s:https://container.googleapis.com/v1/projects/%s/locations/%s/clusters/%s", tokenAudience, project, location, cluster)
	}
	jwt, err := id.Token(ctx, tokenAudience)
	if err != nil {
		return Credentials{}, tokenError(GCP, err)
	}
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"audience":             {stsAudience},
		"scope":                {gcpScope},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:jwt"},
		"subject_token":        {jwt},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(b.opts.GCPSTSEndpoint, gcpDefaultSTS)+"/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		return Credentials{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var sts struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := b.doJSON(req, GCP, "gcp-sts", &sts); err != nil {
		return Credentials{}, err
	}
	if gsa == "" {
		return b.gcpToken("gcp-sts", sts.AccessToken, sts.ExpiresIn)
	}
	body, _ := json.Marshal(map[string][]string{"scope": {gcpScope}})
	u := endpoint(b.opts.GCPIAMEndpoint, gcpDefaultIAM) + "/v1/projects/-/serviceAccounts/" + url.PathEscape(gsa) + ":generateAccessToken"
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Credentials{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+sts.AccessToken)
	var iam struct {
		AccessToken string    `json:"accessToken"`
		ExpireTime  time.Time `json:"expireTime"`
	}
	if err := b.doJSON(req, GCP, "iamcredentials", &iam); err != nil {
		return Credentials{}, err
	}
	if iam.AccessToken == "" || iam.ExpireTime.IsZero() {
		return Credentials{}, &ExchangeError{Provider: GCP, Step: "iamcredentials", Err: errors.New("the answer has no accessToken with expireTime")}
	}
	if err := b.checkExpiry(GCP, "iamcredentials", iam.ExpireTime); err != nil {
		return Credentials{}, err
	}
	return Credentials{Username: GCPUsername, Password: iam.AccessToken, ExpiresAt: iam.ExpireTime}, nil
}

// gcpToken makes credentials of an OAuth access token with a relative lifetime.
func (b *Broker) gcpToken(step, token string, expiresIn int64) (Credentials, error) {
	if token == "" || expiresIn <= 0 {
		return Credentials{}, &ExchangeError{Provider: GCP, Step: step, Err: errors.New("the answer has no access_token with a positive expires_in")}
	}
	return Credentials{Username: GCPUsername, Password: token, ExpiresAt: b.opts.Clock.Now().Add(time.Duration(expiresIn) * time.Second)}, nil
}

// gcpMetadata reads a value of the metadata server at GCE_METADATA_HOST (default
// 169.254.169.254), into a string or a JSON value.
func (b *Broker) gcpMetadata(ctx context.Context, path string, out any) error {
	host := b.opts.Getenv("GCE_METADATA_HOST")
	if host == "" {
		host = gcpDefaultMDSHost
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/computeMetadata/v1/"+path, nil)
	if err != nil {
		return &IdentityError{GCP, fmt.Sprintf("GCE_METADATA_HOST %q is not a host[:port]: %v", host, err)}
	}
	req.Header.Set("Metadata-Flavor", "Google")
	if s, ok := out.(*string); ok {
		body, _, err := b.do(req, GCP, "metadata")
		if err != nil {
			return err
		}
		if *s = strings.TrimSpace(string(body)); *s == "" {
			return &ExchangeError{Provider: GCP, Step: "metadata", Err: fmt.Errorf("%s is empty: is the cluster a GKE cluster with Workload Identity? Outside GKE, annotate %s", path, GCPWorkloadIdentityProviderAnnotation)}
		}
		return nil
	}
	return b.doJSON(req, GCP, "metadata", out)
}

func endpoint(override, def string) string {
	if override != "" {
		return strings.TrimSuffix(override, "/")
	}
	return def
}
