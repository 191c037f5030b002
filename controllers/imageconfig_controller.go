// Package controllers holds the ImageConfig reconciler. It maps the finders'
// results and typed errors to status, conditions and events; every registry
// request is made by the finders.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
)

// ImageConfigReconciler resolves ImageConfigs through their registries.
type ImageConfigReconciler struct {
	client.Client

	// APIReader reads Secrets and ServiceAccounts with direct GETs, never through an
	// informer; the manager's role may get them but not list or watch them.
	// The Client is used when it is nil.
	APIReader client.Reader

	// Finder resolves images; RegistryFinder when nil.
	Finder Finder
	// FetchRaw fetches the bytes of a resolution by digest, for the export;
	// when nil, the Finder's own FetchRaw if it has one (the shared finder answers
	// from its content cache), else manifests.FetchRaw.
	FetchRaw RawFetcher
	// Recorder emits events on transitions.
	Recorder events.EventRecorder
	// AllowInsecureRegistries honours spec.insecure; without it such objects are not Ready.
	AllowInsecureRegistries bool
	// UserAgent is sent to registries.
	UserAgent string
	// Transport is the base HTTP transport for registries; nil means the default.
	Transport http.RoundTripper
	// Network says where registry requests may go (--allowed-registries,
	// --denied-networks); a refusal is RegistryNotAllowed. Nil allows everything.
	Network *netpolicy.Policy
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Sessions keeps authenticated registry transports between reconciles, so that a
	// re-check skips the authentication handshake; nil disables it.
	Sessions *manifests.Sessions
	// Metrics counts registry requests, resolutions and cache lookups; nil disables them.
	Metrics *Metrics
	// StatusHeartbeat is how old status.lastCheckedTime may grow while nothing
	// else in the status changes (at least 10 intervals; see heartbeatOf): an
	// unchanged re-check writes nothing until then. Zero means
	// DefaultStatusHeartbeat; a negative value writes it on every check.
	StatusHeartbeat time.Duration
	// CloudAuth exchanges workload identities for cloud registry credentials
	// (spec.provider) and caches them; a process-wide default when nil.
	CloudAuth *cloudauth.Broker
	// ObjectLevelWorkloadIdentity allows spec.provider with spec.serviceAccountName:
	// TokenRequests for the object's ServiceAccount (--enable-object-level-workload-identity).
	ObjectLevelWorkloadIdentity bool
	// SupplyChain, when set, re-checks base images and lists what is attached to
	// digests (supplychain.go); nil disables both.
	SupplyChain *SupplyChain

	limiter *intervalLimiter
	// schedule holds the re-check times, in memory.
	schedule     *schedule
	scheduleOnce sync.Once
	// credentialFailures counts consecutive credential failures per object, for their backoff.
	credentialFailures sync.Map // types.NamespacedName -> int
	// tlsTransports keeps the transport built from each certSecretRef Secret, by its
	// resourceVersion, so that connections and sessions are reused.
	tlsTransports sync.Map // types.NamespacedName -> tlsTransport

	// Issue 18, the layer file index (files.go).
	// FilesIndexer indexes the layers of objects with spec.files.index; without
	// it such objects get FilesIndexed=False.
	FilesIndexer FilesIndexer
	filesJobs    *filesJobs
	filesOnce    sync.Once
}

// SetupOptions tune the controller.
type SetupOptions struct {
	// MaxConcurrentReconciles is how many objects are resolved at once.
	MaxConcurrentReconciles int
	// RetryBaseDelay and RetryMaxDelay bound the backoff of transient errors;
	// zero means the package defaults.
	RetryBaseDelay, RetryMaxDelay time.Duration
}

// +kubebuilder:rbac:groups=images.imageconfig.dev,resources=imageconfigs,verbs=get;list;watch
// +kubebuilder:rbac:groups=images.imageconfig.dev,resources=imageconfigs/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile resolves one ImageConfig and writes its status with one patch.
func (r *ImageConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	obj := &imagesv1alpha1.ImageConfig{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.limiter.remove(req)
			r.credentialFailures.Delete(req.NamespacedName)
			r.sched().forget(req.NamespacedName)
			r.SupplyChain.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A failure's backoff is capped at the interval. The cap is recorded only
	// when this reconcile fails (the limiter is asked only then, and forgets it
	// on the next success), so a healthy fleet holds none.
	defer func() {
		if retErr != nil {
			r.limiter.setInterval(req, obj.GetInterval())
		}
	}()

	base := obj.DeepCopy()
	defer func() {
		if settleLastChecked(base, obj, r.now(), r.heartbeat()) {
			return // an unchanged re-check: nothing to write, no transition
		}
		if err := r.patchStatus(ctx, base, obj); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
			return
		}
		for _, e := range transitionEvents(base, obj) {
			r.Recorder.Eventf(obj, nil, e.eventType, e.reason, "Reconcile", "%s", e.note)
		}
	}()
	return r.reconcile(ctx, obj)
}

func (r *ImageConfigReconciler) reconcile(ctx context.Context, obj *imagesv1alpha1.ImageConfig) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	interval := obj.GetInterval()
	imagestatus.SetRequested(obj)

	if obj.Spec.Suspend {
		log.V(1).Info("Suspended, not contacting the registry")
		imagestatus.MarkSuspended(obj)
		return ctrl.Result{}, nil
	}
	if obj.Spec.Insecure && !r.AllowInsecureRegistries {
		imagestatus.MarkStalled(obj, imagesv1alpha1.InsecureNotAllowedReason,
			fmt.Sprintf("spec.insecure is true, but the manager does not allow plain HTTP to registry %s: start it with --allow-insecure-registries", obj.Spec.Registry))
		r.Metrics.Refused(imagesv1alpha1.InsecureNotAllowedReason)
		return ctrl.Result{RequeueAfter: interval}, nil
	}

	r.collectFiles(obj) // issue 18: a finished layer index, without a registry request

	now := r.now()
	if wait := r.sched().untilDue(obj, now); wait > 0 {
		log.V(1).Info("Not due for a re-check", "after", wait)
		return ctrl.Result{RequeueAfter: wait, Priority: ptr.To(recheckPriority)}, nil
	}

	requestedAt := obj.GetAnnotations()[imagesv1alpha1.ReconcileRequestAnnotation]
	sources, transport, err := r.credentials(ctx, obj)
	if err != nil {
		var cerr *credentialError
		if errors.As(err, &cerr) {
			// The request was acted on: the verdict is about the credentials.
			obj.Status.LastHandledReconcileAt = requestedAt
			r.Metrics.Refused(cerr.reason)
		}
		return r.failed(ctx, obj, err)
	}
	opts := imagestatus.Options(obj)
	opts.Network.UserAgent = r.UserAgent
	opts.Auth.Sources = sources
	opts.Cache.Sessions = r.Sessions
	opts.Cache.HeadWindow = headWindow(obj)
	opts.Network.Policy = r.Network
	opts.Network.Transport = r.Transport
	if transport != nil {
		opts.Network.Transport = transport
	}
	opts.Observer = r.Metrics.observer()
	started := time.Now()
	res, err := r.finder().Resolve(ctx, opts)
	r.Metrics.Resolution(res, err, time.Since(started))
	obj.Status.LastCheckedTime = &metav1.Time{Time: now}
	obj.Status.LastHandledReconcileAt = requestedAt
	imagestatus.ApplyRateLimit(&obj.Status, imagestatus.RateLimitOf(res, err), now)
	if err != nil {
		r.sched().attempted(obj, now)
		return r.failed(ctx, obj, err)
	}
	r.credentialFailures.Delete(client.ObjectKeyFromObject(obj))

	// opts.Previous is imagestatus.Previous of this status (nothing it reads has
	// changed since): the last resolution, rebuilt once per reconcile.
	prev := opts.Previous
	checked := checkedAt(res.CheckedAt, now)
	obj.Status.LastCheckedTime = &metav1.Time{Time: checked}
	imagestatus.Apply(&obj.Status, res, now)
	after := res
	if prev != nil && !res.Unchanged && prev.Digest != res.Digest {
		// A move. Compare what the status holds on both sides: prev was cut to fit
		// the object, so the new result is compared as cut the same way.
		if held := imagestatus.Previous(&obj.Status); held != nil {
			after = held
		}
	}
	imagestatus.RecordChange(&obj.Status, prev, after, imagestatus.MoveSubject(obj.Spec), now)
	imagestatus.MarkReady(obj, imagestatus.ReadyMessage(res))
	r.checkSupplyChain(ctx, obj, res, opts)
	log.V(1).Info("Resolved", "imageRef", res.ImageRef, "digest", res.Digest, "platform", res.Platform, "unchanged", res.Unchanged)
	r.indexFiles(ctx, obj, res, opts) // issue 18: starts indexing a new digest; never changes Ready
	if err := r.export(ctx, obj, res, opts); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.sched().checked(obj, checked, now), Priority: ptr.To(recheckPriority)}, nil
}

// failed maps a finder error to conditions and to how the object is retried:
// transient errors back off through the controller's rate limiter, a rate limit
// waits for the registry's Retry-After, and terminal errors wait for the interval
// (or for a change to the object) without hammering the registry.
func (r *ImageConfigReconciler) failed(ctx context.Context, obj *imagesv1alpha1.ImageConfig, err error) (ctrl.Result, error) {
	interval := obj.GetInterval()
	key := client.ObjectKeyFromObject(obj)
	var cerr *credentialError
	var ferr *manifests.Error
	switch {
	case errors.As(err, &cerr) && cerr.transient:
		imagestatus.MarkRetrying(obj, cerr.reason, cerr.msg)
		return ctrl.Result{}, err
	case errors.As(err, &cerr):
		// Secrets are not watched, so a fixed credential is only seen by trying again:
		// soon, but never hammering the registry with wrong credentials.
		imagestatus.MarkStalled(obj, cerr.reason, cerr.msg)
		return ctrl.Result{RequeueAfter: r.credentialDelay(key, interval)}, nil
	case !errors.As(err, &ferr):
		// Not a registry error: the API server failed us. Retry with backoff.
		return ctrl.Result{}, err
	case ferr.Reason == manifests.Unauthorized:
		imagestatus.MarkStalled(obj, string(ferr.Reason), ferr.Error())
		return ctrl.Result{RequeueAfter: r.credentialDelay(key, interval)}, nil
	}

	r.credentialFailures.Delete(key)
	imagestatus.MarkFailed(obj, ferr, r.now())
	switch {
	case ferr.Reason == manifests.RateLimited && ferr.RetryAfter > 0:
		return ctrl.Result{RequeueAfter: min(ferr.RetryAfter, interval)}, nil
	case !ferr.Terminal():
		return ctrl.Result{}, err
	default:
		ctrl.LoggerFrom(ctx).Info("Resolution failed; waiting for the interval or a change", "reason", ferr.Reason, "message", ferr.Error(), "interval", interval)
		return ctrl.Result{RequeueAfter: interval}, nil
	}
}

// Backoff of credential failures (Unauthorized, SecretNotFound, ServiceAccountNotFound,
// InvalidSecret): 30 s, doubling to 5 minutes, and never longer than the interval.
const (
	credentialBaseDelay = 30 * time.Second
	credentialMaxDelay  = 5 * time.Minute
)

func (r *ImageConfigReconciler) credentialDelay(key types.NamespacedName, interval time.Duration) time.Duration {
	n := 0
	if v, ok := r.credentialFailures.Load(key); ok {
		n = v.(int)
	}
	r.credentialFailures.Store(key, n+1)
	d := credentialBaseDelay
	for range n {
		if d >= credentialMaxDelay {
			break
		}
		d *= 2
	}
	return min(d, credentialMaxDelay, interval)
}

// transitionEvent is an event to emit after the status was written.
type transitionEvent struct {
	eventType, reason, note string
}

// transitionEvents returns the events for what changed between base and obj: a
// moved tag, Ready turning false, and Ready turning true again after it was
// false. A first resolution emits nothing (at fleet scale an event per object
// costs the API server as much as the status writes), and neither does a retry
// that fails the same way again.
func transitionEvents(base, obj *imagesv1alpha1.ImageConfig) []transitionEvent {
	var evs []transitionEvent
	old, cur := base.Status, obj.Status
	if lc := cur.LastChange; lc != nil && (old.LastChange == nil || !lc.Time.Equal(&old.LastChange.Time)) {
		// recordChange found a move of the tag in this reconcile.
		evs = append(evs, transitionEvent{corev1.EventTypeNormal, imagesv1alpha1.DigestChangedEvent, lc.Summary})
	}
	was := apimeta.FindStatusCondition(old.Conditions, imagesv1alpha1.ReadyCondition)
	now := apimeta.FindStatusCondition(cur.Conditions, imagesv1alpha1.ReadyCondition)
	switch {
	case now == nil:
	case now.Status == metav1.ConditionFalse && (was == nil || was.Status != metav1.ConditionFalse || was.Reason != now.Reason):
		evs = append(evs, transitionEvent{corev1.EventTypeWarning, now.Reason, now.Message})
	case now.Status == metav1.ConditionTrue && was != nil && was.Status == metav1.ConditionFalse:
		evs = append(evs, transitionEvent{corev1.EventTypeNormal, now.Reason, now.Message})
	}
	evs = append(evs, filesEvents(base, obj)...) // issue 18
	return append(append(evs, rateLimitEvents(base, obj)...), supplyChainEvents(base, obj)...)
}

func (r *ImageConfigReconciler) finder() Finder {
	if r.Finder == nil {
		return RegistryFinder
	}
	return r.Finder
}

func (r *ImageConfigReconciler) reader() client.Reader {
	if r.APIReader == nil {
		return r.Client
	}
	return r.APIReader
}

func (r *ImageConfigReconciler) sched() *schedule {
	r.scheduleOnce.Do(func() { r.schedule = newSchedule() })
	return r.schedule
}

func (r *ImageConfigReconciler) heartbeat() time.Duration {
	if r.StatusHeartbeat == 0 {
		return DefaultStatusHeartbeat
	}
	return r.StatusHeartbeat
}

func (r *ImageConfigReconciler) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// requestedAtChanged passes updates that change the requested-at annotation.
var requestedAtChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		key := imagesv1alpha1.ReconcileRequestAnnotation
		return e.ObjectOld.GetAnnotations()[key] != e.ObjectNew.GetAnnotations()[key]
	},
}

// SetupWithManager registers the controller. Status updates do not trigger a
// reconcile: only new generations, the requested-at annotation and the interval do.
func (r *ImageConfigReconciler) SetupWithManager(mgr ctrl.Manager, opts SetupOptions) error {
	base, max := opts.RetryBaseDelay, opts.RetryMaxDelay
	if base <= 0 {
		base = RetryBaseDelay
	}
	if max <= 0 {
		max = RetryMaxDelay
	}
	r.limiter = newIntervalLimiter(base, max)
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder("imageconfig-controller")
	}
	r.fileJobs().notify = make(chan event.GenericEvent, 1024) // issue 18: objects whose layer index finished
	return ctrl.NewControllerManagedBy(mgr).
		For(&imagesv1alpha1.ImageConfig{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, requestedAtChanged))).
		WatchesRawSource(source.Channel(r.fileJobs().notify, filesFinished)).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, RateLimiter: r.limiter}).
		Named("imageconfig").
		Complete(r)
}
