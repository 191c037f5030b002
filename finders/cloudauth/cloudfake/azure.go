package cloudfake

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Azure fakes Entra ID's token endpoint for a federated client assertion
// (POST /<tenant>/oauth2/v2.0/token, client_credentials with a jwt-bearer
// assertion) and ACR's POST /oauth2/exchange, as documented by the Microsoft
// identity platform and ACR's AAD-OAuth reference. Register the ACR host with
// ACR, whose other paths go to the registry handler given.
type Azure struct {
	// Clock is the fakes' time.
	Clock Clock
	// AccessTokenLifetime is an Entra token's (default 1h); RefreshTokenLifetime an
	// ACR refresh token's (default 3h).
	AccessTokenLifetime, RefreshTokenLifetime time.Duration
	// RefreshExpiryShift moves the exp in refresh tokens, to fake a skewed clock.
	RefreshExpiryShift time.Duration
	// EntraFaults and ACRFaults inject failures.
	EntraFaults, ACRFaults Faults
	// Calls counts "entra" and "acr-exchange" calls.
	Calls Counter

	mu        sync.Mutex
	federated map[string]federation // client ID -> its federated credential
	access    map[string]time.Time  // Entra access token -> expiry
	refresh   map[string]time.Time  // ACR refresh token -> expiry
}

type federation struct{ tenant, subject string }

// NewAzure registers Entra ID's public-cloud authority host on cloud.
func NewAzure(cloud *Cloud, clock Clock) *Azure {
	a := &Azure{Clock: clock, federated: map[string]federation{}, access: map[string]time.Time{}, refresh: map[string]time.Time{}}
	cloud.Handle("login.microsoftonline.com", http.HandlerFunc(a.entra))
	return a
}

// Federate adds a federated identity credential to the identity clientID of
// tenant, for the service account namespace/name.
func (a *Azure) Federate(clientID, tenant, namespace, name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.federated[clientID] = federation{tenant, "system:serviceaccount:" + namespace + ":" + name}
}

// ACR returns the handler of an ACR host: /oauth2/exchange, and registry for the rest.
func (a *Azure) ACR(registry http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/exchange" {
			a.exchange(w, r)
			return
		}
		registry.ServeHTTP(w, r)
	})
}

// ValidPassword reports whether an ACR refresh token was issued and is unexpired,
// with ACR's null-GUID user.
func (a *Azure) ValidPassword(user, pass string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.refresh[pass]
	return user == "00000000-0000-0000-0000-000000000000" && ok && a.Clock.Now().Before(exp)
}

func (a *Azure) entra(w http.ResponseWriter, r *http.Request) {
	a.Calls.inc("entra")
	if a.EntraFaults.fail(w) {
		return
	}
	tenant, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/oauth2/v2.0/token")
	if r.Method != http.MethodPost || !ok || r.ParseForm() != nil {
		writeOAuthError(w, http.StatusNotFound, "invalid_request", "want POST /<tenant>/oauth2/v2.0/token")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" || f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || !strings.HasSuffix(f.Get("scope"), "/.default") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: want grant_type client_credentials, a jwt-bearer client_assertion and a /.default scope")
		return
	}
	sub, err := check(f.Get("client_assertion"), "api://AzureADTokenExchange", a.Clock.Now())
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range or has the wrong audience: "+err.Error())
		return
	}
	a.mu.Lock()
	fed, ok := a.federated[f.Get("client_id")]
	a.mu.Unlock()
	switch {
	case !ok:
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '"+f.Get("client_id")+"' was not found in the directory.")
		return
	case fed.tenant != tenant:
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+tenant+"' not found.")
		return
	case fed.subject != sub:
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "AADSTS70021: No matching federated identity record found for presented assertion subject '"+sub+"'.")
		return
	}
	life := a.AccessTokenLifetime
	if life == 0 {
		life = time.Hour
	}
	tok := "eyJ.entra-" + random(24)
	a.mu.Lock()
	a.access[tok] = a.Clock.Now().Add(life)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(life.Seconds()), "ext_expires_in": int(life.Seconds()), "access_token": tok})
}

func (a *Azure) exchange(w http.ResponseWriter, r *http.Request) {
	a.Calls.inc("acr-exchange")
	if a.ACRFaults.fail(w) {
		return
	}
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "access_token" {
		writeACRError(w, http.StatusBadRequest, "UNSUPPORTED", "grant_type must be access_token")
		return
	}
	host := r.Host
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	if r.PostForm.Get("service") != host {
		writeACRError(w, http.StatusBadRequest, "DENIED", "service must be "+host)
		return
	}
	a.mu.Lock()
	exp, ok := a.access[r.PostForm.Get("access_token")]
	a.mu.Unlock()
	if !ok || !a.Clock.Now().Before(exp) {
		writeACRError(w, http.StatusUnauthorized, "UNAUTHORIZED", "the access token is invalid or expired")
		return
	}
	life := a.RefreshTokenLifetime
	if life == 0 {
		life = 3 * time.Hour
	}
	expires := a.Clock.Now().Add(life)
	tok := JWT(map[string]any{"jti": random(8), "sub": "fake", "exp": expires.Add(a.RefreshExpiryShift).Unix(), "tenant": r.PostForm.Get("tenant"), "grant_type": "refresh_token", "aud": host})
	a.mu.Lock()
	a.refresh[tok] = expires
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"refresh_token": tok})
}

func writeACRError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
