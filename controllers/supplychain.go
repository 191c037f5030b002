package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
)

// The supply-chain checks run after every successful resolution, and never
// change Ready:
//
//   - the base image's tag is re-checked on the object's interval, through the
//     same finder (the shared resolver in the manager) with the same HEAD window
//     as the image's own tag, so that all the objects built on one base tag
//     share one HEAD per interval;
//   - what is attached to the digest is listed at once when the digest changes,
//     and then every spec.referrers.interval (10 intervals by default), never on
//     an unchanged re-check otherwise. Objects on the same digest with the same
//     credentials share one listing.
//
// The status written is the one mapping's (imagestatus.ApplyBase and
// ApplyReferrers); an unchanged check leaves the status as it was, so it costs
// no write (issue 17's rule).

// referrersIntervals is spec.referrers.interval's default, in spec.interval.
const referrersIntervals = 10

// SupplyChain is the reconciler's memory of the referrers listings: when each
// object's next listing is due, and the listings shared by objects on one
// digest. A reconciler with a nil SupplyChain makes neither check.
type SupplyChain struct {
	mu     sync.Mutex
	due    map[types.NamespacedName]referrersDue
	shared map[string]sharedListing
}

type referrersDue struct {
	digest string
	at     time.Time
}

type sharedListing struct {
	refs *supplychain.Referrers
	at   time.Time
}

// maxSharedListings bounds the shared listings' memory.
const maxSharedListings = 10_000

// NewSupplyChain returns the state of the supply-chain checks, for
// ImageConfigReconciler.SupplyChain.
func NewSupplyChain() *SupplyChain {
	return &SupplyChain{due: map[types.NamespacedName]referrersDue{}, shared: map[string]sharedListing{}}
}

// checkSupplyChain runs the base check and, when due, the referrers listing of
// obj, resolved as res with the registry options opts. Registry failures end up
// in the status (BaseImageOutdated) or in the log (a listing is retried at the
// next interval); nothing is returned, since the resolution itself succeeded.
func (r *ImageConfigReconciler) checkSupplyChain(ctx context.Context, obj *imagesv1alpha1.ImageConfig, res *manifests.Result, opts manifests.Options) {
	if r.SupplyChain == nil {
		return
	}
	now := r.now()
	check, err := r.checkBase(ctx, obj, res, opts)
	if cerr := (*credentialError)(nil); errors.As(err, &cerr) {
		imagestatus.MarkBaseUnknown(obj, cerr.reason, cerr.msg)
	} else {
		imagestatus.ApplyBase(obj, res.BaseImage, check, err, now)
	}
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Base image not checked", "error", err.Error())
	}
	r.listReferrers(ctx, obj, res, opts, now)
}

// checkBase checks the base of res (its annotations, or spec.baseImage.ref)
// through the reconciler's finder. The base's registry gets the object's
// credentials only when it is the image's own registry; spec.baseImage.secretRef
// replaces them, and a base on another registry is otherwise anonymous.
func (r *ImageConfigReconciler) checkBase(ctx context.Context, obj *imagesv1alpha1.ImageConfig, res *manifests.Result, opts manifests.Options) (*supplychain.BaseCheck, error) {
	var ref string
	if s := obj.Spec.BaseImage; s != nil {
		ref = s.Ref
	}
	name := ref
	if name == "" && res.BaseImage != nil {
		name = res.BaseImage.Name
	}
	if name == "" {
		return supplychain.CheckBase(ctx, res, supplychain.BaseOptions{}) // no base known: nil, nil
	}
	where, err := manifests.ParseReference(name, "")
	if err != nil {
		return nil, fmt.Errorf("base image %q: %w", name, err)
	}
	base := manifests.Options{
		Observer: opts.Observer,
		Network: manifests.Network{
			UserAgent:    opts.Network.UserAgent,
			Policy:       opts.Network.Policy,
			Transport:    r.Transport,
			Timeout:      opts.Network.Timeout,
			RetryBackoff: opts.Network.RetryBackoff,
		},
		Cache: manifests.Cache{Sessions: opts.Cache.Sessions},
	}
	if opts.Cache.HeadWindow > 0 {
		// One HEAD per base tag per interval, whenever in the interval the objects
		// built on it come due (they are spread by their own tags): the base's answer
		// stands for a whole interval. A re-check forced with requested-at (no
		// window) asks the registry.
		base.Cache.HeadWindow = obj.GetInterval()
	}
	if sameRegistry(where.Registry, opts.Registry) {
		base.Network.Insecure, base.Network.Transport, base.Auth.Sources = opts.Network.Insecure, opts.Network.Transport, opts.Auth.Sources
	}
	if s := obj.Spec.BaseImage; s != nil && s.SecretRef != nil {
		sources, err := r.baseCredentials(ctx, obj.Namespace, s.SecretRef.Name)
		if err != nil {
			return nil, err
		}
		base.Auth.Sources = sources
	}
	return supplychain.CheckBase(ctx, res, supplychain.BaseOptions{
		Ref: ref, Platform: imagePlatform(res), Resolve: r.finder().Resolve, Registry: base,
	})
}

// baseCredentials reads spec.baseImage.secretRef.
func (r *ImageConfigReconciler) baseCredentials(ctx context.Context, namespace, name string) (auth.Sources, error) {
	secret, err := r.secret(ctx, namespace, name, "spec.baseImage.secretRef")
	if err != nil {
		return nil, err
	}
	kc, err := pullSecretKeychain(secret)
	if err != nil {
		return nil, err
	}
	return auth.Sources{{Name: "secret/" + name, Keychain: kc}}, nil
}

// sameRegistry reports whether two registry hosts name the same registry,
// Docker Hub's several names included.
func sameRegistry(a, b string) bool {
	if a == b {
		return true
	}
	hub := func(h string) bool { return h == "" || auth.IsDockerHub(h) }
	return hub(a) && hub(b)
}

// imagePlatform is the platform res was resolved for, so that the base's
// platform manifest is chosen to match it.
func imagePlatform(res *manifests.Result) *v1.Platform {
	p, err := platforms.Parse(res.Platform)
	if err != nil {
		return nil
	}
	out := &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion}
	if c := res.Config; c != nil && out.OSVersion == "" {
		out.OSVersion = c.OSVersion
	}
	return out
}

// referrersInterval is spec.referrers.interval, or 10 times spec.interval.
func referrersInterval(obj *imagesv1alpha1.ImageConfig) time.Duration {
	if s := obj.Spec.Referrers; s != nil && s.Interval != nil && s.Interval.Duration > 0 {
		return s.Interval.Duration
	}
	return referrersIntervals * obj.GetInterval()
}

// referrersDueAt says whether obj's attachments are to be listed at now: never
// listed, listed for another digest, or due by the schedule. An object this
// process has not listed (after a restart) is due its referrers interval after
// the recorded lastListedTime, or, when that has passed, at a time spread over
// one referrers interval by the object, so that a restarted manager does not
// list the whole fleet at once.
func (s *SupplyChain) referrersDueAt(obj *imagesv1alpha1.ImageConfig, digest string, now time.Time) bool {
	st := obj.Status.Referrers
	if st == nil || st.Digest != digest {
		return true
	}
	key := client.ObjectKeyFromObject(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.due[key]
	if !ok || d.digest != digest {
		interval := referrersInterval(obj)
		at := now.Add(time.Duration(float64(interval) * fraction(string(obj.UID), "referrers")))
		if st.LastListedTime != nil {
			if next := st.LastListedTime.Add(interval); next.After(now) {
				at = next
			}
		}
		d = referrersDue{digest: digest, at: at}
		s.due[key] = d
	}
	return !now.Before(d.at)
}

func (s *SupplyChain) listed(key types.NamespacedName, digest string, next time.Time) {
	s.mu.Lock()
	s.due[key] = referrersDue{digest: digest, at: next}
	s.mu.Unlock()
}

func (s *SupplyChain) forget(key types.NamespacedName) {
	if s == nil {
		return
	}
	s.mu.Lock()
	delete(s.due, key)
	s.mu.Unlock()
}

// listingKey names a listing that objects may share: the same registry,
// repository and digests, asked with the same credentials (the same namespace
// and credential references).
func listingKey(obj *imagesv1alpha1.ImageConfig, opts manifests.Options, subjects []string) string {
	sp := obj.Spec
	secret, certs := "", ""
	if sp.SecretRef != nil {
		secret = sp.SecretRef.Name
	}
	if sp.CertSecretRef != nil {
		certs = sp.CertSecretRef.Name
	}
	return fmt.Sprint(obj.Namespace, "|", secret, "|", sp.ServiceAccountName, "|", sp.Provider, "|", certs, "|",
		opts.Registry, "|", opts.Repository, "|", opts.Network.Insecure, "|", subjects)
}

// listReferrers lists what is attached to res's digests when it is due, and
// records it in the status. A listing that finds the same entries keeps the
// recorded lastListedTime unless it is older than the status heartbeat, so that
// it costs no status write. A failed listing keeps what was recorded for the
// same digest (and drops what was recorded for another), and is tried again
// at the next interval.
func (r *ImageConfigReconciler) listReferrers(ctx context.Context, obj *imagesv1alpha1.ImageConfig, res *manifests.Result, opts manifests.Options, now time.Time) {
	s := r.SupplyChain
	key := client.ObjectKeyFromObject(obj)
	if !s.referrersDueAt(obj, res.Digest, now) {
		return
	}
	subjects := []string{res.ManifestDigest}
	if res.Digest != "" && res.Digest != res.ManifestDigest {
		subjects = append(subjects, res.Digest)
	}
	interval := referrersInterval(obj)
	lkey := listingKey(obj, opts, subjects)
	s.mu.Lock()
	l, ok := s.shared[lkey]
	s.mu.Unlock()
	if !ok || now.Sub(l.at) >= interval/2 {
		refs, err := r.fetchReferrers(ctx, res, opts, subjects)
		if err != nil {
			ctrl.LoggerFrom(ctx).Info("Listing the artifacts attached to the digest failed; retrying at the next interval", "digest", res.Digest, "error", err.Error())
			if st := obj.Status.Referrers; st != nil && st.Digest != res.Digest {
				obj.Status.Referrers = nil
			}
			s.listed(key, res.Digest, now.Add(obj.GetInterval()))
			return
		}
		l = sharedListing{refs: refs, at: now}
		s.mu.Lock()
		if len(s.shared) >= maxSharedListings {
			clear(s.shared)
		}
		s.shared[lkey] = l
		s.mu.Unlock()
	}
	old := obj.Status.Referrers.DeepCopy()
	imagestatus.ApplyReferrers(&obj.Status, res.Digest, l.refs, l.at)
	if cur := obj.Status.Referrers; old != nil && old.LastListedTime != nil && sameListing(old, cur) &&
		!heartbeatDue(old.LastListedTime, now, heartbeatOf(obj, r.heartbeat())) {
		cur.LastListedTime = old.LastListedTime
	}
	s.listed(key, res.Digest, l.at.Add(interval))
}

// fetchReferrers asks the registry. The image index is read from the result,
// or for a result confirmed by a HEAD (which carries no bytes) by digest
// through the raw fetcher (the shared finder's content cache).
func (r *ImageConfigReconciler) fetchReferrers(ctx context.Context, res *manifests.Result, opts manifests.Options, subjects []string) (*supplychain.Referrers, error) {
	index := res.RawIndex
	if index == nil && len(res.Platforms) > 0 {
		if raw, err := r.rawFetcher()(ctx, opts, &res.Summary); err == nil {
			index = raw.Index
		}
	}
	// ListReferrers reports each request to o.Observer (the registry metrics)
	// and enforces o.Network.Policy itself. Through o.Cache.Sessions it reuses
	// the session the resolution just used: a listing costs no handshake.
	o := opts
	o.Previous = nil
	return supplychain.ListReferrers(ctx, supplychain.ReferrersOptions{Registry: o, Subjects: subjects, Index: index, Max: imagesv1alpha1.MaxReferrers})
}

// sameListing reports whether two listings hold the same entries for the same digest.
func sameListing(a, b *imagesv1alpha1.ReferrersStatus) bool {
	return a.Digest == b.Digest && a.Truncated == b.Truncated && a.Signed == b.Signed && slices.Equal(a.Entries, b.Entries)
}

// supplyChainEvents are the events of the supply-chain checks: BaseImageMoved,
// once per move of the base tag (the status remembers the move, so neither a
// re-check nor a restart repeats it).
func supplyChainEvents(base, obj *imagesv1alpha1.ImageConfig) []transitionEvent {
	if msg, ok := imagestatus.BaseMoved(&base.Status, &obj.Status); ok {
		return []transitionEvent{{corev1.EventTypeWarning, imagesv1alpha1.BaseImageMovedEvent, msg}}
	}
	return nil
}
