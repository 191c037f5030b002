package cloudfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// GCP fakes Google's Security Token Service (POST /v1/token, RFC 8693), IAM
// Credentials' generateAccessToken, and the GCE metadata server of a GKE node,
// as documented in the STS, IAM Credentials and Compute Engine references.
type GCP struct {
	// Clock is the fakes' time.
	Clock Clock
	// Project, Location and Cluster are what the metadata server tells.
	Project, Location, Cluster string
	// TokenLifetime is how long every access token lives (default 1h).
	TokenLifetime time.Duration
	// ExpireTimeShift moves the expireTime IAM reports, to fake a skewed clock.
	ExpireTimeShift time.Duration
	// STSFaults, IAMFaults and MetadataFaults inject failures.
	STSFaults, IAMFaults, MetadataFaults Faults
	// Calls counts "sts", "iam" and "metadata" calls.
	Calls Counter
	// MetadataHost is the metadata server's host:port, for GCE_METADATA_HOST.
	MetadataHost string

	mu        sync.Mutex
	bindings  map[string]string    // Google service account -> allowed federated principal
	federated map[string]string    // federated token -> principal
	tokens    map[string]time.Time // registry-usable token -> expiry
}

// NewGCP registers STS and IAM Credentials on cloud and starts a plain-HTTP
// metadata server on loopback for the GKE cluster project/location/cluster.
func NewGCP(t testing.TB, cloud *Cloud, clock Clock, project, location, cluster string) *GCP {
	g := &GCP{Clock: clock, Project: project, Location: location, Cluster: cluster,
		bindings: map[string]string{}, federated: map[string]string{}, tokens: map[string]time.Time{}}
	cloud.Handle("sts.googleapis.com", http.HandlerFunc(g.sts))
	cloud.Handle("iamcredentials.googleapis.com", http.HandlerFunc(g.iam))
	mds := httptest.NewServer(http.HandlerFunc(g.metadata))
	t.Cleanup(mds.Close)
	g.MetadataHost = strings.TrimPrefix(mds.URL, "http://")
	return g
}

// Principal is the federated principal of a Kubernetes service account in a GKE pool.
func (g *GCP) Principal(namespace, name string) string {
	return fmt.Sprintf("principal://iam.googleapis.com/projects/%s/locations/global/workloadIdentityPools/%s.svc.id.goog/subject/ns/%s/sa/%s", g.Project, g.Project, namespace, name)
}

// Bind grants namespace/name roles/iam.workloadIdentityUser on the Google
// service account gsa.
func (g *GCP) Bind(gsa, namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.bindings[gsa] = g.Principal(namespace, name)
}

// ValidPassword reports whether a registry would take user and pass: an unexpired
// access token issued by these fakes, with user oauth2accesstoken.
func (g *GCP) ValidPassword(user, pass string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	exp, ok := g.tokens[pass]
	return user == "oauth2accesstoken" && ok && g.Clock.Now().Before(exp)
}

func (g *GCP) lifetime() time.Duration {
	if g.TokenLifetime == 0 {
		return time.Hour
	}
	return g.TokenLifetime
}

func (g *GCP) issue(prefix string) (string, time.Time) {
	tok, exp := prefix+random(24), g.Clock.Now().Add(g.lifetime())
	g.mu.Lock()
	g.tokens[tok] = exp
	g.mu.Unlock()
	return tok, exp
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (g *GCP) sts(w http.ResponseWriter, r *http.Request) {
	g.Calls.inc("sts")
	if g.STSFaults.fail(w) {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/token" || r.ParseForm() != nil {
		writeOAuthError(w, http.StatusNotFound, "not_found", "want POST /v1/token")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" ||
		f.Get("requested_token_type") != "urn:ietf:params:oauth:token-type:access_token" ||
		f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "grant_type, requested_token_type or subject_token_type is wrong")
		return
	}
	pool := g.Project + ".svc.id.goog"
	wantAudience := fmt.Sprintf("identitynamespace:%s:https://container.googleapis.com/v1/projects/%s/locations/%s/clusters/%s", pool, g.Project, g.Location, g.Cluster)
	if f.Get("audience") != wantAudience {
		writeOAuthError(w, http.StatusBadRequest, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid.")
		return
	}
	sub, err := check(f.Get("subject_token"), pool, g.Clock.Now())
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	ns, name, ok := strings.Cut(strings.TrimPrefix(sub, "system:serviceaccount:"), ":")
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "the subject is not a service account")
		return
	}
	tok, _ := g.issue("ya29.fed-")
	g.mu.Lock()
	g.federated[tok] = g.Principal(ns, name)
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"token_type": "Bearer", "expires_in": int(g.lifetime().Seconds()),
	})
}

func writeGoogleError(w http.ResponseWriter, status int, state, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": state}})
}

func (g *GCP) iam(w http.ResponseWriter, r *http.Request) {
	g.Calls.inc("iam")
	if g.IAMFaults.fail(w) {
		return
	}
	const prefix = "/v1/projects/-/serviceAccounts/"
	gsa, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, prefix), ":generateAccessToken")
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, prefix) || !ok {
		writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "want POST "+prefix+"<email>:generateAccessToken")
		return
	}
	var body struct{ Scope []string }
	if json.NewDecoder(r.Body).Decode(&body) != nil || len(body.Scope) == 0 {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "scope is required")
		return
	}
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	principal, known := g.federated[bearer]
	exp := g.tokens[bearer]
	allowed := g.bindings[gsa]
	g.mu.Unlock()
	if !known || !g.Clock.Now().Before(exp) {
		writeGoogleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
		return
	}
	if allowed != principal {
		writeGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
		return
	}
	tok, expires := g.issue("ya29.gsa-")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"accessToken": tok, "expireTime": expires.Add(g.ExpireTimeShift).UTC().Format(time.RFC3339)})
}

func (g *GCP) metadata(w http.ResponseWriter, r *http.Request) {
	g.Calls.inc("metadata")
	if g.MetadataFaults.fail(w) {
		return
	}
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing Metadata-Flavor:Google header.", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	switch strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/") {
	case "project/project-id":
		fmt.Fprint(w, g.Project)
	case "instance/attributes/cluster-location":
		fmt.Fprint(w, g.Location)
	case "instance/attributes/cluster-name":
		fmt.Fprint(w, g.Cluster)
	case "instance/service-accounts/default/token":
		tok, _ := g.issue("ya29.node-")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": int(g.lifetime().Seconds()), "token_type": "Bearer"})
	default:
		http.NotFound(w, r)
	}
}
