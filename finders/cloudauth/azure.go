package cloudauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The Azure annotations and values, as Azure Workload Identity's webhook uses them.
const (
	// AzureClientIDAnnotation names the Entra application or user-assigned managed
	// identity that trusts the service account.
	AzureClientIDAnnotation = "azure.workload.identity/client-id"
	// AzureTenantIDAnnotation names its tenant; the controller's AZURE_TENANT_ID
	// when absent.
	AzureTenantIDAnnotation = "azure.workload.identity/tenant-id"
	// AzureAudience is the audience of the service-account token Entra ID accepts.
	AzureAudience = "api://AzureADTokenExchange"
	// AzureUsername is the registry username that goes with an ACR refresh token.
	AzureUsername = "00000000-0000-0000-0000-000000000000"
)

var azureGUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// azureCloud is what differs between the public and the sovereign clouds.
var azureCloud = map[string]struct{ authority, scope string }{
	"azurecr.io": {"https://login.microsoftonline.com/", "https://management.azure.com/.default"},
	"azurecr.cn": {"https://login.chinacloudapi.cn/", "https://management.chinacloudapi.cn/.default"},
	"azurecr.us": {"https://login.microsoftonline.us/", "https://management.usgovcloudapi.net/.default"},
}

func (b *Broker) azurePlan(reg Registry, id Identity) (plan, error) {
	env := b.opts.Getenv
	var client, tenant string
	var token func(context.Context) (string, error)
	if id.ServiceAccount == "" {
		client, tenant = env("AZURE_CLIENT_ID"), env("AZURE_TENANT_ID")
		file := env("AZURE_FEDERATED_TOKEN_FILE")
		if client == "" || tenant == "" || file == "" {
			return plan{}, &IdentityError{Azure, "this process has no Azure workload identity: AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE must all be set (the Azure Workload Identity webhook sets them for a pod labelled azure.workload.identity/use: \"true\")"}
		}
		token = b.tokenFile(Azure, file)
	} else {
		client, tenant = id.Annotations[AzureClientIDAnnotation], id.Annotations[AzureTenantIDAnnotation]
		if client == "" {
			return plan{}, &IdentityError{Azure, fmt.Sprintf("serviceaccount %s has no %s annotation: set it to the client ID of the identity that has a federated credential for this service account", id.ServiceAccount, AzureClientIDAnnotation)}
		}
		if tenant == "" {
			tenant = env("AZURE_TENANT_ID")
		}
		if tenant == "" {
			return plan{}, &IdentityError{Azure, fmt.Sprintf("serviceaccount %s has no %s annotation, and the controller has no AZURE_TENANT_ID", id.ServiceAccount, AzureTenantIDAnnotation)}
		}
		token = func(ctx context.Context) (string, error) { return id.Token(ctx, AzureAudience) }
	}
	for name, v := range map[string]string{"client ID": client, "tenant ID": tenant} {
		if !azureGUID.MatchString(v) {
			return plan{}, &IdentityError{Azure, fmt.Sprintf("%s: the %s %q is not a GUID such as 00000000-0000-0000-0000-000000000000", identityName(id), name, v)}
		}
	}
	return plan{
		key:    identityKey(id, "client="+client, "tenant="+tenant),
		source: fmt.Sprintf("provider azure via %s (client %s, tenant %s)", identityName(id), client, tenant),
		exchange: func(ctx context.Context) (Credentials, error) {
			return b.azureExchange(ctx, reg, client, tenant, token)
		},
	}, nil
}

// azureExchange presents the service-account token to Entra ID as a federated
// client assertion, then trades the Entra access token for an ACR refresh token.
func (b *Broker) azureExchange(ctx context.Context, reg Registry, client, tenant string, token func(context.Context) (string, error)) (Credentials, error) {
	jwt, err := token(ctx)
	if err != nil {
		return Credentials{}, tokenError(Azure, err)
	}
	cloud := azureCloud[reg.AzureCloud]
	authority := b.opts.Getenv("AZURE_AUTHORITY_HOST")
	if authority == "" {
		authority = cloud.authority
	}
	form := url.Values{
		"client_id":             {client},
		"grant_type":            {"client_credentials"},
		"scope":                 {cloud.scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {jwt},
	}
	u := strings.TrimSuffix(authority, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return Credentials{}, &IdentityError{Azure, fmt.Sprintf("AZURE_AUTHORITY_HOST %q is not a URL: %v", authority, err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var entra struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := b.doJSON(req, Azure, "entra", &entra); err != nil {
		return Credentials{}, err
	}
	if entra.AccessToken == "" || entra.ExpiresIn <= 0 {
		return Credentials{}, &ExchangeError{Provider: Azure, Step: "entra", Err: errors.New("the answer has no access_token with a positive expires_in")}
	}
	entraExpiry := b.opts.Clock.Now().Add(time.Duration(entra.ExpiresIn) * time.Second)

	form = url.Values{
		"grant_type":   {"access_token"},
		"service":      {reg.Host},
		"tenant":       {tenant},
		"access_token": {entra.AccessToken},
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, "https://"+reg.Host+"/oauth2/exchange", strings.NewReader(form.Encode()))
	if err != nil {
		return Credentials{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var acr struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := b.doJSON(req, Azure, "acr-exchange", &acr); err != nil {
		return Credentials{}, err
	}
	if acr.RefreshToken == "" {
		return Credentials{}, &ExchangeError{Provider: Azure, Step: "acr-exchange", Err: errors.New("the answer has no refresh_token")}
	}
	// An ACR refresh token is a JWT whose exp says how long it lives (3 hours
	// today); without one, it is trusted no longer than the Entra token.
	expires := entraExpiry
	if exp, ok := jwtExpiry(acr.RefreshToken); ok {
		expires = exp
	}
	if err := b.checkExpiry(Azure, "acr-exchange", expires); err != nil {
		return Credentials{}, err
	}
	return Credentials{Username: AzureUsername, Password: acr.RefreshToken, ExpiresAt: expires}, nil
}

// jwtExpiry reads the exp claim of a JWT without verifying it: the registry that
// issued it is the one that will check it.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}
