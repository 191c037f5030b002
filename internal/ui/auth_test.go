package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// tokens are the fake TokenReview's accepted bearer tokens.
var tokens = map[string]string{"alice-token": "alice", "admin-token": "admin", "nobody-token": "nobody", "broken-token": "broken"}

// fakeAuthn accepts the bearer tokens of tokens and refuses others with an
// error, as a TokenReview authenticator does.
var fakeAuthn = authenticator.RequestFunc(func(r *http.Request) (*authenticator.Response, bool, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, false, nil
	}
	name, ok := tokens[strings.TrimPrefix(h, "Bearer ")]
	if !ok {
		return nil, false, errors.New("invalid bearer token")
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: name}}, true, nil
})

// fakeRBAC lets admin do anything, alice list and get ImageConfigs in web only,
// and broken nothing, with an error: the SubjectAccessReview failed.
type fakeRBAC struct{ asked []string }

func (f *fakeRBAC) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	f.asked = append(f.asked, a.GetUser().GetName()+" "+a.GetVerb()+" "+a.GetAPIGroup()+"/"+a.GetResource()+" ns="+a.GetNamespace()+" name="+a.GetName())
	switch a.GetUser().GetName() {
	case "admin":
		return authorizer.DecisionAllow, "", nil
	case "alice":
		if a.GetNamespace() == "web" && a.GetResource() == "imageconfigs" && a.GetAPIGroup() == "images.imageconfig.dev" {
			return authorizer.DecisionAllow, "", nil
		}
	case "broken":
		return authorizer.DecisionNoOpinion, "", errors.New("the SubjectAccessReview timed out")
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func TestAuthenticatedAndAuthorizedByNamespace(t *testing.T) {
	tests := []struct {
		name, token, target string
		wantCode            int
		// wantItems are the namespace/name of the JSON list's items, for a list.
		wantItems []string
		// wantAsked are the authorizer's questions.
		wantAsked []string
	}{
		{name: "no token", target: "/", wantCode: http.StatusUnauthorized},
		{name: "refused token", token: "forged", target: "/", wantCode: http.StatusUnauthorized},
		{name: "no token, object page", target: "/namespaces/web/imageconfigs/nginx", wantCode: http.StatusUnauthorized},
		{name: "no token, stylesheet", target: "/static/style.css", wantCode: http.StatusUnauthorized},
		{
			name: "cluster-wide list: one question", token: "admin-token", target: "/", wantCode: http.StatusOK,
			wantItems: []string{"shop/app", "shop/nginx-copy", "web/missing", "web/nginx"},
			wantAsked: []string{"admin list images.imageconfig.dev/imageconfigs ns= name="},
		},
		{
			name: "one namespace: one question per namespace", token: "alice-token", target: "/", wantCode: http.StatusOK,
			wantItems: []string{"web/missing", "web/nginx"},
			wantAsked: []string{
				"alice list images.imageconfig.dev/imageconfigs ns= name=",
				"alice list images.imageconfig.dev/imageconfigs ns=web name=",
				"alice list images.imageconfig.dev/imageconfigs ns=shop name=",
			},
		},
		{
			name: "no namespace: an empty list", token: "nobody-token", target: "/", wantCode: http.StatusOK,
			wantItems: []string{},
			wantAsked: []string{
				"nobody list images.imageconfig.dev/imageconfigs ns= name=",
				"nobody list images.imageconfig.dev/imageconfigs ns=web name=",
				"nobody list images.imageconfig.dev/imageconfigs ns=shop name=",
			},
		},
		{
			name: "allowed object", token: "alice-token", target: "/namespaces/web/imageconfigs/nginx", wantCode: http.StatusOK,
			wantAsked: []string{"alice get images.imageconfig.dev/imageconfigs ns=web name=nginx"},
		},
		{
			name: "object in another namespace", token: "alice-token", target: "/namespaces/shop/imageconfigs/app", wantCode: http.StatusForbidden,
			wantAsked: []string{"alice get images.imageconfig.dev/imageconfigs ns=shop name=app"},
		},
		{
			// Refused before the lookup: a 403, not a 404, whether it exists or not.
			name: "missing object in another namespace", token: "alice-token", target: "/namespaces/shop/imageconfigs/nope", wantCode: http.StatusForbidden,
			wantAsked: []string{"alice get images.imageconfig.dev/imageconfigs ns=shop name=nope"},
		},
		{
			name: "missing object in an allowed namespace", token: "alice-token", target: "/namespaces/web/imageconfigs/nope", wantCode: http.StatusNotFound,
			wantAsked: []string{"alice get images.imageconfig.dev/imageconfigs ns=web name=nope"},
		},
		{
			name: "the review fails", token: "broken-token", target: "/", wantCode: http.StatusServiceUnavailable,
			wantAsked: []string{"broken list images.imageconfig.dev/imageconfigs ns= name="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rbac := &fakeRBAC{}
			pages, err := ui.New(ui.Options{Source: ui.Authorized{Source: fakeSource{fleet()}, Authorizer: rbac}, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			h := ui.Authenticate(fakeAuthn, pages)
			header := []string{"Accept", "application/json"}
			if tt.token != "" {
				header = append(header, "Authorization", "Bearer "+tt.token)
			}
			w := get(t, h, http.MethodGet, tt.target, header...)
			if w.Code != tt.wantCode {
				t.Fatalf("GET %s = %d, want %d:\n%s", tt.target, w.Code, tt.wantCode, w.Body)
			}
			if w.Code == http.StatusUnauthorized {
				if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
				}
				if w.Header().Get("Content-Security-Policy") == "" {
					t.Error("the 401 lacks the security headers")
				}
			}
			if diff := cmp.Diff(tt.wantAsked, rbac.asked); diff != "" {
				t.Errorf("authorizer questions (-want +got):\n%s", diff)
			}
			if tt.wantItems == nil {
				return
			}
			var list struct {
				Items []struct {
					Metadata struct{ Namespace, Name string }
				}
			}
			if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
				t.Fatalf("decoding %s: %v", w.Body, err)
			}
			got := []string{}
			for _, it := range list.Items {
				got = append(got, it.Metadata.Namespace+"/"+it.Metadata.Name)
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.wantItems, got); diff != "" {
				t.Errorf("listed ImageConfigs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuthorizedWithoutUser: a request that did not pass Authenticate sees
// nothing, should Authorized ever be wired without it.
func TestAuthorizedWithoutUser(t *testing.T) {
	pages, err := ui.New(ui.Options{Source: ui.Authorized{Source: fakeSource{fleet()}, Authorizer: &fakeRBAC{}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/namespaces/web/imageconfigs/nginx"} {
		if w := get(t, pages, http.MethodGet, target); w.Code != http.StatusForbidden {
			t.Errorf("GET %s without a user = %d, want 403", target, w.Code)
		}
	}
}
