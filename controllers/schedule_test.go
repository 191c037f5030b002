package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
)

// resolvedObject returns an object resolved and Ready at generation 3, with an
// interval of 1h and lastCheckedTime at checked.
func resolvedObject(checked time.Time) *imagesv1alpha1.ImageConfig {
	o := &imagesv1alpha1.ImageConfig{}
	o.Namespace, o.Name, o.UID = "ns", "app", "5f0c3a52-0000-4000-8000-000000000001"
	o.ResourceVersion = "41"
	o.Generation = 3
	o.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "1700000000"}
	o.Spec = imagesv1alpha1.ImageConfigSpec{Registry: "registry.example", Repository: "team/app", Tag: "1.0",
		Interval: &metav1.Duration{Duration: time.Hour}}
	o.Status.ObservedGeneration = 3
	o.Status.LastHandledReconcileAt = "1700000000"
	o.Status.LastCheckedTime = &metav1.Time{Time: checked}
	o.Status.Digest = "sha256:aaaa"
	o.Status.Conditions = []metav1.Condition{condition(imagesv1alpha1.ReadyCondition, metav1.ConditionTrue, imagesv1alpha1.ResolvedReason, "ok", 3)}
	return o
}

// TestScheduleUntilDue: what is due at once, and when the rest is due: an
// interval (plus the object's jitter) after this process's last check, or, for
// an object it has not checked, at its tag's slot in the first interval,
// whatever status.lastCheckedTime says.
func TestScheduleUntilDue(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	probe := resolvedObject(now)
	slot := firstCheckDelay(probe)
	if slot <= time.Second || slot >= time.Hour {
		t.Fatalf("the test object's slot is %s; pick a spec whose slot is inside the interval", slot)
	}
	tests := []struct {
		name    string
		mutate  func(*imagesv1alpha1.ImageConfig)
		checked time.Duration // ago, by this process; 0: never
		want    time.Duration
	}{
		{name: "checked 10m ago by this process", checked: 10 * time.Minute, want: recheckInterval(probe) - 10*time.Minute},
		{name: "checked 2h ago by this process", checked: 2 * time.Hour, want: 0},
		{name: "never checked by this process", want: slot},
		{name: "status checked 10m ago, not by this process", mutate: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.LastCheckedTime.Time = now.Add(-10 * time.Minute)
		}, want: slot},
		{name: "status lastCheckedTime a year ahead", mutate: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.LastCheckedTime.Time = now.AddDate(1, 0, 0)
		}, want: slot},
		{name: "status lastCheckedTime a year ago", mutate: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.LastCheckedTime.Time = now.AddDate(-1, 0, 0)
		}, want: slot},
		{name: "no lastCheckedTime", mutate: func(o *imagesv1alpha1.ImageConfig) { o.Status.LastCheckedTime = nil }, want: slot},
		{name: "new generation", mutate: func(o *imagesv1alpha1.ImageConfig) { o.Generation = 4 }, checked: time.Minute, want: 0},
		{name: "new requested-at", mutate: func(o *imagesv1alpha1.ImageConfig) {
			o.Annotations[imagesv1alpha1.ReconcileRequestAnnotation] = "1700000099"
		}, checked: time.Minute, want: 0},
		{name: "requested-at removed", mutate: func(o *imagesv1alpha1.ImageConfig) { o.Annotations = nil }, checked: time.Minute, want: 0},
		{name: "not ready", mutate: func(o *imagesv1alpha1.ImageConfig) {
			o.Status.Conditions[0].Status = metav1.ConditionFalse
		}, checked: time.Minute, want: 0},
		{name: "no conditions", mutate: func(o *imagesv1alpha1.ImageConfig) { o.Status.Conditions = nil }, checked: time.Minute, want: 0},
		{name: "less than a second left", checked: recheckInterval(probe) - 500*time.Millisecond, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := resolvedObject(now)
			if tt.mutate != nil {
				tt.mutate(obj)
			}
			s := newSchedule()
			if tt.checked > 0 {
				s.checked(obj, now.Add(-tt.checked), now.Add(-tt.checked))
			}
			if got := s.untilDue(obj, now); got != tt.want {
				t.Errorf("untilDue = %v, want %v", got, tt.want)
			}
			// A second look does not move the slot.
			if got := s.untilDue(obj, now.Add(time.Minute)); tt.want > time.Minute+time.Second && got != tt.want-time.Minute {
				t.Errorf("untilDue a minute later = %v, want %v", got, tt.want-time.Minute)
			}
		})
	}
}

// TestFirstCheckDelay: after a restart, objects on one tag share a slot, and
// the slots of many tags cover the interval.
func TestFirstCheckDelay(t *testing.T) {
	interval := 10 * time.Minute
	obj := func(tag string, uid types.UID) *imagesv1alpha1.ImageConfig {
		o := &imagesv1alpha1.ImageConfig{}
		o.UID = uid
		o.Spec = imagesv1alpha1.ImageConfigSpec{Registry: "r.example", Repository: "a/b", Tag: tag, Interval: &metav1.Duration{Duration: interval}}
		return o
	}
	if a, b := firstCheckDelay(obj("1.0", "u1")), firstCheckDelay(obj("1.0", "u2")); a != b {
		t.Errorf("two objects on one tag got slots %s and %s, want the same", a, b)
	}
	tenths := map[int]int{}
	for i := range 200 {
		d := firstCheckDelay(obj(fmt.Sprintf("v%d", i), "u"))
		if d < 0 || d >= interval {
			t.Fatalf("slot %s outside [0, %s)", d, interval)
		}
		tenths[int(d*10/interval)]++
	}
	for i := range 10 {
		if n := tenths[i]; n < 5 || n > 40 {
			t.Errorf("200 tags per tenth of the interval: %v; want each near 20", tenths)
			break
		}
	}
}

// TestHeartbeatOf: the longer of the flag and 10 intervals, stretched by up to
// half per object; zero (negative in the reconciler) means every check.
func TestHeartbeatOf(t *testing.T) {
	tests := []struct {
		name                string
		interval, heartbeat time.Duration
		base                time.Duration
	}{
		{"1m interval: the 1h flag wins", time.Minute, time.Hour, time.Hour},
		{"10m interval: 10 intervals win", 10 * time.Minute, time.Hour, 100 * time.Minute},
		{"24h interval", 24 * time.Hour, time.Hour, 240 * time.Hour},
		{"every check", time.Minute, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := time.Duration(1<<62), time.Duration(0)
			for i := range 100 {
				o := &imagesv1alpha1.ImageConfig{}
				o.UID = types.UID(fmt.Sprintf("uid-%d", i))
				o.Spec.Interval = &metav1.Duration{Duration: tt.interval}
				h := heartbeatOf(o, tt.heartbeat)
				lo, hi = min(lo, h), max(hi, h)
			}
			if tt.base == 0 {
				if hi != 0 {
					t.Errorf("heartbeat = %s, want 0", hi)
				}
				return
			}
			if lo < tt.base || hi > tt.base*3/2 || hi-lo < tt.base/4 {
				t.Errorf("heartbeats within [%s, %s], want spread over [%s, %s]", lo, hi, tt.base, tt.base*3/2)
			}
		})
	}
}

// TestSettleLastChecked: an unchanged check keeps the stored lastCheckedTime
// (no write) until the heartbeat; any other change, a missing or skewed value,
// or a heartbeat of "every check" writes the new one.
func TestSettleLastChecked(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		stored    *metav1.Time
		heartbeat time.Duration
		change    func(*imagesv1alpha1.ImageConfig)
		written   bool
		// nearHeartbeat, when set, stores lastCheckedTime this far past the object's heartbeat.
		nearHeartbeat time.Duration
	}{
		{name: "unchanged, checked 5h ago", stored: &metav1.Time{Time: now.Add(-5 * time.Hour)}, heartbeat: time.Hour, written: false},
		{name: "unchanged, a minute short of its heartbeat", heartbeat: time.Hour, written: false, nearHeartbeat: -time.Minute},
		{name: "unchanged, a minute past its heartbeat", heartbeat: time.Hour, written: true, nearHeartbeat: time.Minute},
		{name: "unchanged, checked 16h ago: heartbeat", stored: &metav1.Time{Time: now.Add(-16 * time.Hour)}, heartbeat: time.Hour, written: true},
		{name: "unchanged, flag longer than 10 intervals", stored: &metav1.Time{Time: now.Add(-16 * time.Hour)}, heartbeat: 24 * time.Hour, written: false},
		{name: "unchanged, no lastCheckedTime", stored: nil, heartbeat: time.Hour, written: true},
		{name: "unchanged, a year ahead", stored: &metav1.Time{Time: now.AddDate(1, 0, 0)}, heartbeat: time.Hour, written: true},
		{name: "unchanged, 30s ahead (skew within bounds)", stored: &metav1.Time{Time: now.Add(30 * time.Second)}, heartbeat: time.Hour, written: false},
		{name: "unchanged, a year ago", stored: &metav1.Time{Time: now.AddDate(-1, 0, 0)}, heartbeat: time.Hour, written: true},
		{name: "unchanged, every check", stored: &metav1.Time{Time: now.Add(-time.Minute)}, heartbeat: -1, written: true},
		{name: "digest moved", stored: &metav1.Time{Time: now.Add(-time.Minute)}, heartbeat: time.Hour, written: true,
			change: func(o *imagesv1alpha1.ImageConfig) { o.Status.Digest = "sha256:bbbb" }},
		{name: "turned not Ready", stored: &metav1.Time{Time: now.Add(-time.Minute)}, heartbeat: time.Hour, written: true,
			change: func(o *imagesv1alpha1.ImageConfig) {
				imagestatus.MarkRetrying(o, "Unavailable", "503")
			}},
		{name: "quota changed", stored: &metav1.Time{Time: now.Add(-time.Minute)}, heartbeat: time.Hour, written: true,
			change: func(o *imagesv1alpha1.ImageConfig) {
				o.Status.RateLimit = &imagesv1alpha1.RateLimitStatus{Host: "r", Limit: 100, Remaining: 50}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := resolvedObject(now)
			base.Spec.Interval.Duration = time.Hour // 10 intervals = 10h; the heartbeat is 10-15h
			base.Status.LastCheckedTime = tt.stored
			if tt.nearHeartbeat != 0 {
				base.Status.LastCheckedTime = &metav1.Time{Time: now.Add(-heartbeatOf(base, tt.heartbeat) - tt.nearHeartbeat)}
			}
			obj := base.DeepCopy()
			obj.Status.LastCheckedTime = &metav1.Time{Time: now}
			if tt.change != nil {
				tt.change(obj)
			}
			unchanged := settleLastChecked(base, obj, now, tt.heartbeat)
			got := obj.Status.LastCheckedTime
			written := got != nil && got.Time.Equal(now)
			if unchanged && written {
				t.Error("settleLastChecked reported an unchanged status and kept the new lastCheckedTime")
			}
			if written != tt.written {
				t.Errorf("lastCheckedTime = %v, written %v, want written %v", got, written, tt.written)
			}
			if !written {
				if data, err := statusPatch(base, obj); err != nil || data != nil {
					t.Error("an unchanged check left a status patch to write")
				}
			}
		})
	}
}

// TestScheduleMetrics: the oldest-check gauge follows the schedule.
func TestScheduleMetrics(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	r := &ImageConfigReconciler{Now: func() time.Time { return now }}
	reg := prometheus.NewPedanticRegistry()
	if err := r.RegisterScheduleMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if got := gaugeValue(t, reg, "imageconfig_oldest_check_age_seconds"); got != 0 {
		t.Errorf("empty schedule: oldest age = %v, want 0", got)
	}
	a, b := resolvedObject(now), resolvedObject(now)
	b.Name = "other"
	r.sched().checked(a, now.Add(-90*time.Second), now)
	// Not checked by this process: its status says 10 minutes ago.
	b.Status.LastCheckedTime.Time = now.Add(-10 * time.Minute)
	r.sched().untilDue(b, now)
	if got := gaugeValue(t, reg, "imageconfig_oldest_check_age_seconds"); got != 600 {
		t.Errorf("oldest age = %v, want 600", got)
	}
	if got := gaugeValue(t, reg, "imageconfig_scheduled_objects"); got != 2 {
		t.Errorf("scheduled = %v, want 2", got)
	}
	r.sched().forget(types.NamespacedName{Namespace: b.Namespace, Name: b.Name})
	if got := gaugeValue(t, reg, "imageconfig_oldest_check_age_seconds"); got != 90 {
		t.Errorf("oldest age after forgetting the older = %v, want 90", got)
	}
}

// gaugeValue returns the value of the gauge named name in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
