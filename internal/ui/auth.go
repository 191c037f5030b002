package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// ErrForbidden is returned by a Source when the request's user may not read
// the object. The pages answer 403.
var ErrForbidden = errors.New("forbidden")

// userKey is the context key of the authenticated user.
type userKey struct{}

// UserFrom returns the user Authenticate found for the request whose context
// is ctx.
func UserFrom(ctx context.Context) (user.Info, bool) {
	u, ok := ctx.Value(userKey{}).(user.Info)
	return u, ok
}

// Authenticate answers 401 to every request authn does not authenticate, and
// passes the others on with their user in the context (UserFrom). In the
// manager, authn is a TokenReview of the request's bearer token, as the secure
// metrics endpoint does it.
func Authenticate(authn authenticator.Request, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok, err := authn.AuthenticateRequest(r)
		if !ok {
			// A token the TokenReview refuses comes back as an error too.
			msg := "401 unauthorized: send a Kubernetes bearer token, such as Authorization: Bearer $(kubectl create token NAME)"
			if err != nil {
				msg = "401 unauthorized: the bearer token was not accepted"
			}
			unauthorized(w, msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, res.User)))
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	setSecurityHeaders(w.Header())
	w.Header().Set("WWW-Authenticate", `Bearer realm="imageconfig"`)
	http.Error(w, msg, http.StatusUnauthorized)
}

// Authorized is a Source that shows the user of a request (UserFrom) only what
// RBAC lets them read: List keeps the namespaces where authz allows them to
// list ImageConfigs, and Get needs get on the object. A request without a user
// sees nothing. It passes on neither a Resolver nor a FileIndexer: on-demand
// lookups stay off.
type Authorized struct {
	// Source provides every ImageConfig.
	Source Source
	// Authorizer answers for a user; in the manager, SubjectAccessReviews.
	Authorizer authorizer.UnconditionalAuthorizer
}

// List returns the items of the namespaces where the user may list ImageConfigs.
// One check for every namespace ("") comes first, then one per namespace.
func (a Authorized) List(ctx context.Context) ([]Item, error) {
	u, ok := UserFrom(ctx)
	if !ok {
		return nil, fmt.Errorf("listing ImageConfigs: no authenticated user: %w", ErrForbidden)
	}
	items, err := a.Source.List(ctx)
	if err != nil {
		return nil, err
	}
	all, err := a.allowed(ctx, u, "list", "", "")
	if err != nil || all {
		return items, err
	}
	may := map[string]bool{}
	out := items[:0:0]
	for _, it := range items {
		ns := it.Object.Namespace
		ok, seen := may[ns]
		if !seen {
			if ok, err = a.allowed(ctx, u, "list", ns, ""); err != nil {
				return nil, err
			}
			may[ns] = ok
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

// Get returns the item when the user may get it, and an error wrapping
// ErrForbidden when not, before it looks, so that a refusal tells nothing of
// whether the object exists.
func (a Authorized) Get(ctx context.Context, namespace, name string) (*Item, error) {
	u, ok := UserFrom(ctx)
	if !ok {
		return nil, fmt.Errorf("reading ImageConfig %s/%s: no authenticated user: %w", namespace, name, ErrForbidden)
	}
	ok, err := a.allowed(ctx, u, "get", namespace, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("user %q may not get ImageConfigs in namespace %s: %w", u.GetName(), namespace, ErrForbidden)
	}
	return a.Source.Get(ctx, namespace, name)
}

// allowed asks authz whether u may verb ImageConfigs (name, when given) in
// namespace ("" for every namespace).
func (a Authorized) allowed(ctx context.Context, u user.Info, verb, namespace, name string) (bool, error) {
	d, reason, err := a.Authorizer.Authorize(ctx, authorizer.AttributesRecord{
		User:            u,
		Verb:            verb,
		Namespace:       namespace,
		APIGroup:        imagesv1alpha1.GroupVersion.Group,
		APIVersion:      imagesv1alpha1.GroupVersion.Version,
		Resource:        "imageconfigs",
		Name:            name,
		ResourceRequest: true,
	})
	switch {
	case d == authorizer.DecisionAllow:
		return true, nil
	case err != nil:
		return false, fmt.Errorf("asking whether %q may %s ImageConfigs in namespace %q: %w (%s)", u.GetName(), verb, namespace, err, reason)
	}
	return false, nil
}
