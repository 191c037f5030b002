package controllers

import (
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// The re-check schedule lives in memory, never in the status: an unchanged
// re-check writes nothing, so the API server pays for changes only.
// status.lastCheckedTime is written with a change, or as a heartbeat when it is
// older than the object's heartbeat (see heartbeatOf).

// DefaultStatusHeartbeat is the default of --status-heartbeat.
const DefaultStatusHeartbeat = time.Hour

const (
	// heartbeatIntervals is the least heartbeat in re-check intervals: an
	// unchanged object costs at most one status write per this many checks.
	heartbeatIntervals = 10
	// heartbeatJitter is the largest share of the heartbeat added to it, fixed per
	// object, so that a fleet resolved together does not refresh lastCheckedTime
	// together for ever.
	heartbeatJitter = 0.5
	// futureSkew is how far ahead of this manager's clock a lastCheckedTime may be
	// before it is taken as wrong (clock skew, an edit by hand) and refreshed.
	futureSkew = time.Minute
)

// recheckPriority is the work-queue priority of a scheduled re-check: below
// the initial list's (handler.LowPriority), so that a re-check that comes due
// while objects still wait for their first resolution waits for them.
const recheckPriority = handler.LowPriority - 100

// schedule holds, per object, when the registry last answered for it and when
// its next re-check is due. It is the only source of re-check times: a status
// write is never needed to schedule one.
type schedule struct {
	mu      sync.Mutex
	entries map[types.NamespacedName]scheduleEntry
}

type scheduleEntry struct {
	checked time.Time // when the registry last answered, as far as this process knows
	due     time.Time // when the next re-check is due
}

func newSchedule() *schedule {
	return &schedule{entries: map[types.NamespacedName]scheduleEntry{}}
}

// untilDue returns how long until obj needs the registry again; zero means now.
// A new generation, a new requested-at annotation, a status that is not Ready,
// or an export to retry is due at once. Otherwise the re-check is due a
// jittered interval after the last one this process made. An object this
// process has not checked yet (after a restart, or a move of leadership) gets a
// first re-check spread over one interval by its tag (see firstCheckDelay):
// objects on one tag come due together and share one HEAD, and the tags of a
// fleet spread evenly instead of all coming due at once.
func (s *schedule) untilDue(obj *imagesv1alpha1.ImageConfig, now time.Time) time.Duration {
	st := &obj.Status
	switch {
	case obj.Generation != st.ObservedGeneration,
		obj.GetAnnotations()[imagesv1alpha1.ReconcileRequestAnnotation] != st.LastHandledReconcileAt,
		!apimeta.IsStatusConditionTrue(st.Conditions, imagesv1alpha1.ReadyCondition),
		exportRetryDue(obj):
		return 0
	}
	key := client.ObjectKeyFromObject(obj)
	s.mu.Lock()
	e, ok := s.entries[key]
	if !ok {
		e = scheduleEntry{checked: lastKnownCheck(st.LastCheckedTime, now), due: now.Add(firstCheckDelay(obj))}
		s.entries[key] = e
	}
	s.mu.Unlock()
	if wait := e.due.Sub(now); wait > time.Second {
		return wait
	}
	return 0
}

// checked records that the registry answered for obj at the time at, and
// returns how long until its next re-check.
func (s *schedule) checked(obj *imagesv1alpha1.ImageConfig, at, now time.Time) time.Duration {
	due := at.Add(recheckInterval(obj))
	s.mu.Lock()
	s.entries[client.ObjectKeyFromObject(obj)] = scheduleEntry{checked: at, due: due}
	s.mu.Unlock()
	return due.Sub(now)
}

// attempted records that the registry was asked for obj at now, and failed; the
// object's retry is up to the error's backoff, and its next scheduled re-check,
// once it resolves, an interval after the success.
func (s *schedule) attempted(obj *imagesv1alpha1.ImageConfig, now time.Time) {
	s.checked(obj, now, now)
}

// forget drops a deleted object.
func (s *schedule) forget(key types.NamespacedName) {
	s.mu.Lock()
	delete(s.entries, key)
	s.mu.Unlock()
}

// oldest returns the time of the oldest last check among the scheduled objects,
// and how many objects are scheduled. It is zero when none are.
func (s *schedule) oldest() (time.Time, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Time
	for _, e := range s.entries {
		if t.IsZero() || e.checked.Before(t) {
			t = e.checked
		}
	}
	return t, len(s.entries)
}

// lastKnownCheck is the last check of an object this process has not checked:
// its status.lastCheckedTime, or now when it has none or one in the future.
func lastKnownCheck(t *metav1.Time, now time.Time) time.Time {
	if t == nil || t.After(now) {
		return now
	}
	return t.Time
}

// firstCheckDelay is how long after its first sight an object this process
// has not checked yet is re-checked: a share of its interval fixed by what it
// resolves (registry, repository, tag or digest, platform), so that after a
// restart the objects on one tag are re-checked together, with one HEAD, and the
// tags of a fleet spread evenly over one interval.
func firstCheckDelay(obj *imagesv1alpha1.ImageConfig) time.Duration {
	sp := obj.Spec
	return time.Duration(float64(obj.GetInterval()) * fraction(sp.Registry, sp.Repository, sp.Tag, sp.Digest))
}

// fraction maps its parts to a number in [0, 1), the same for the same parts.
func fraction(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return float64(h.Sum64()%10_000) / 10_000
}

// heartbeatOf is how old obj's lastCheckedTime may grow while nothing else in
// its status changes: the longer of the manager's heartbeat and 10 intervals,
// stretched by 0 to 50 % by an amount fixed per object. Zero means every check
// writes it.
func heartbeatOf(obj *imagesv1alpha1.ImageConfig, heartbeat time.Duration) time.Duration {
	if heartbeat <= 0 {
		return 0
	}
	h := max(heartbeat, heartbeatIntervals*obj.GetInterval())
	return h + time.Duration(float64(h)*heartbeatJitter*fraction(string(obj.UID)))
}

// heartbeatDue reports whether a lastCheckedTime of last must be refreshed at
// now: it is missing, older than heartbeat, or ahead of this clock by more than
// futureSkew (clock skew, or an edit by hand).
func heartbeatDue(last *metav1.Time, now time.Time, heartbeat time.Duration) bool {
	return last == nil || heartbeat <= 0 || now.Sub(last.Time) >= heartbeat || last.Sub(now) > futureSkew
}

// settleLastChecked decides whether the check recorded in obj's
// lastCheckedTime is written. It is when anything else in the status changed
// (the check rides on that write) or when base's lastCheckedTime needs its
// heartbeat; otherwise lastCheckedTime is put back to base's, so that an
// unchanged check costs no write. It reports true when it found the status
// unchanged, lastCheckedTime put back included: then there is nothing to
// write, and the caller need not compare the statuses again.
func settleLastChecked(base, obj *imagesv1alpha1.ImageConfig, now time.Time, heartbeat time.Duration) (unchanged bool) {
	cur, old := obj.Status.LastCheckedTime, base.Status.LastCheckedTime
	if cur == nil || (old != nil && cur.Equal(old)) || heartbeatDue(old, now, heartbeatOf(obj, heartbeat)) {
		return false
	}
	obj.Status.LastCheckedTime = old
	if statusChanged(base, obj) {
		obj.Status.LastCheckedTime = cur
		return false
	}
	return true
}

// RegisterScheduleMetrics registers the freshness gauges of the re-check
// schedule with reg: imageconfig_oldest_check_age_seconds, the age of the
// oldest registry answer among the ImageConfigs this manager schedules (for one
// it has not re-checked since it started, its status.lastCheckedTime), and
// imageconfig_scheduled_objects. Since lastCheckedTime is only refreshed by a
// change or a heartbeat, the gauge is what says the fleet is checked on time:
// it stays under about one interval when every re-check runs.
func (r *ImageConfigReconciler) RegisterScheduleMetrics(reg prometheus.Registerer) error {
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "imageconfig_oldest_check_age_seconds",
		Help: "Seconds since the registry last answered for the ImageConfig checked longest ago, among those this manager schedules; 0 when it schedules none.",
	}, func() float64 {
		t, n := r.sched().oldest()
		if n == 0 {
			return 0
		}
		return r.now().Sub(t).Seconds()
	})
	count := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "imageconfig_scheduled_objects",
		Help: "ImageConfigs whose re-checks this manager schedules.",
	}, func() float64 {
		_, n := r.sched().oldest()
		return float64(n)
	})
	for _, c := range []prometheus.Collector{age, count} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering the schedule metrics: %w", err)
		}
	}
	return nil
}
