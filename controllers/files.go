package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
)

// The layer file index of spec.files.index (issue 18). Indexing never holds
// up the resolution: a new digest starts a job in the background and its
// reconcile writes Ready at once (FilesIndexed=Unknown). When the job ends, the
// objects waiting for that digest are queued again, and their next reconcile
// writes the outcome, before the re-check schedule and without a registry
// request. A job per platform manifest digest serves every object on it, and
// its outcome (the bounded summary, or the failure) is kept in memory, so
// objects that come later get it in their own reconcile. Failures are tried
// again at the next re-check.

// FilesIndexer indexes the layer files of images; *files.Shared is the one the
// manager uses.
type FilesIndexer interface {
	Index(ctx context.Context, digest string, fetch func(context.Context) (*files.Resolution, error)) (*files.View, error)
}

// maxFilesOutcomes bounds the finished jobs kept in memory.
const maxFilesOutcomes = 1024

// filesJobs holds the indexing jobs by platform manifest digest.
type filesJobs struct {
	mu     sync.Mutex
	jobs   map[string]*filesJob
	done   []string // finished digests, oldest first
	notify chan event.GenericEvent
}

type filesJob struct {
	finished chan struct{}
	summary  *imagesv1alpha1.FilesStatus
	err      error
	waiters  map[types.NamespacedName]bool
}

// outcome returns the finished job of digest, or nil.
func (j *filesJobs) outcome(digest string) *filesJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	job := j.jobs[digest]
	if job == nil || job.summary == nil && job.err == nil {
		return nil
	}
	return job
}

// start returns the finished job of digest, unless it failed in a way another
// try may fix; otherwise it starts the job (or joins the running one) and
// queues key again when it ends.
func (j *filesJobs) start(key types.NamespacedName, digest string, ix FilesIndexer, fetch func(context.Context) (*files.Resolution, error)) *filesJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	if job := j.jobs[digest]; job != nil {
		finished := job.summary != nil || job.err != nil
		if !finished {
			job.waiters[key] = true
			return nil
		}
		if job.summary != nil || files.Terminal(job.err) {
			return job
		}
	}
	job := &filesJob{finished: make(chan struct{}), waiters: map[types.NamespacedName]bool{key: true}}
	if j.jobs == nil {
		j.jobs = map[string]*filesJob{}
	}
	j.jobs[digest] = job
	go j.run(digest, job, ix, fetch)
	return nil
}

func (j *filesJobs) run(digest string, job *filesJob, ix FilesIndexer, fetch func(context.Context) (*files.Resolution, error)) {
	// files.Shared bounds the indexing with its own timeout, detached from this context.
	v, err := ix.Index(context.Background(), digest, fetch)
	j.mu.Lock()
	if err != nil {
		job.err = err
	} else {
		job.summary = imagestatus.FilesSummary(digest, v)
	}
	j.done = append(j.done, digest)
	for len(j.done) > maxFilesOutcomes {
		if old := j.jobs[j.done[0]]; old != nil && (old.summary != nil || old.err != nil) {
			delete(j.jobs, j.done[0])
		}
		j.done = j.done[1:]
	}
	waiters := job.waiters
	job.waiters = nil
	notify := j.notify
	j.mu.Unlock()
	close(job.finished)
	if notify == nil {
		return
	}
	for key := range waiters {
		notify <- event.GenericEvent{Object: &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
	}
}

func (r *ImageConfigReconciler) fileJobs() *filesJobs {
	r.filesOnce.Do(func() { r.filesJobs = &filesJobs{} })
	return r.filesJobs
}

// wantsFiles reports whether obj asks for the layer file index.
func wantsFiles(obj *imagesv1alpha1.ImageConfig) bool {
	return obj.Spec.Files != nil && obj.Spec.Files.Index
}

// collectFiles writes a finished index of status.manifestDigest into the
// status; it makes no registry request. It runs on every reconcile that is not
// suspended, before the re-check schedule is consulted.
func (r *ImageConfigReconciler) collectFiles(obj *imagesv1alpha1.ImageConfig) {
	if !wantsFiles(obj) {
		imagestatus.ClearFiles(obj)
		return
	}
	if !imagestatus.FilesNeeded(obj) {
		return
	}
	if job := r.fileJobs().outcome(obj.Status.ManifestDigest); job != nil {
		applyFilesJob(obj, job)
	}
}

// indexFiles starts indexing the layers of a resolution that status.files does
// not summarise yet, or writes the outcome when another object's job already
// has it. The bytes of the manifest and config come with a fresh resolution;
// after an unchanged re-check they are fetched by digest (the shared finder
// answers from its content cache).
func (r *ImageConfigReconciler) indexFiles(ctx context.Context, obj *imagesv1alpha1.ImageConfig, res *manifests.Result, opts manifests.Options) {
	if !wantsFiles(obj) {
		imagestatus.ClearFiles(obj)
		return
	}
	if !imagestatus.FilesNeeded(obj) {
		return
	}
	if r.FilesIndexer == nil {
		imagestatus.MarkFilesFailed(obj, errors.New("the manager runs without a layer file indexer"))
		return
	}
	summary := res.Summary
	raw := manifests.RawOf(res)
	fetchRaw := r.rawFetcher()
	fetch := func(ctx context.Context) (*files.Resolution, error) {
		if raw == nil {
			var err error
			if raw, err = fetchRaw(ctx, opts, &summary); err != nil {
				return nil, fmt.Errorf("fetching the manifest and config: %w", err)
			}
		}
		return &files.Resolution{Options: opts, Result: &manifests.Result{Summary: summary, RawManifest: raw.Manifest, RawConfig: raw.Config}}, nil
	}
	job := r.fileJobs().start(client.ObjectKeyFromObject(obj), obj.Status.ManifestDigest, r.FilesIndexer, fetch)
	if job != nil {
		applyFilesJob(obj, job)
		return
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Indexing the layer files", "manifestDigest", obj.Status.ManifestDigest)
	imagestatus.MarkFilesIndexing(obj)
}

func applyFilesJob(obj *imagesv1alpha1.ImageConfig, job *filesJob) {
	if job.err != nil {
		imagestatus.MarkFilesFailed(obj, job.err)
		return
	}
	imagestatus.MarkFilesIndexed(obj, job.summary)
}

// filesEvents returns the events of the FilesIndexed condition's transitions:
// a failure (or another failure), and a success after a failure. A first
// success emits nothing, as a first resolution does not.
func filesEvents(base, obj *imagesv1alpha1.ImageConfig) []transitionEvent {
	was := apimeta.FindStatusCondition(base.Status.Conditions, imagesv1alpha1.FilesIndexedCondition)
	now := apimeta.FindStatusCondition(obj.Status.Conditions, imagesv1alpha1.FilesIndexedCondition)
	switch {
	case now == nil:
	case now.Status == metav1.ConditionFalse && (was == nil || was.Status != metav1.ConditionFalse || was.Reason != now.Reason):
		return []transitionEvent{{corev1.EventTypeWarning, now.Reason, now.Message}}
	case now.Status == metav1.ConditionTrue && was != nil && was.Status == metav1.ConditionFalse:
		return []transitionEvent{{corev1.EventTypeNormal, now.Reason, now.Message}}
	}
	return nil
}

// filesRequeueDelay is how long after its indexing job ends an object is
// queued: time for the informer to see the status that started the job, so the
// reconcile does not meet a conflict (retried only after RetryBaseDelay).
const filesRequeueDelay = time.Second

// filesFinished queues the objects of a finished indexing job.
var filesFinished = handler.Funcs{
	GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e.Object)}, filesRequeueDelay)
	},
}
