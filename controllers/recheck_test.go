package controllers

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// TestRecheckJitter: objects created together spread their re-checks over 0 to
// 10 % of the interval, each by a fixed amount, and never re-check early.
func TestRecheckJitter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // the fake clock
	interval := 10 * time.Minute
	due := map[time.Duration]int{}
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for i := range 100 {
		o := &imagesv1alpha1.ImageConfig{}
		o.UID = k8stypes.UID(fmt.Sprintf("5f0c3a52-0000-4000-8000-%012d", i))
		o.Generation, o.Status.ObservedGeneration = 1, 1
		o.Spec.Interval = &metav1.Duration{Duration: interval}
		o.Status.LastCheckedTime = &metav1.Time{Time: now}
		o.Status.Conditions = []metav1.Condition{condition(imagesv1alpha1.ReadyCondition, metav1.ConditionTrue, imagesv1alpha1.ResolvedReason, "ok", 1)}

		got := recheckInterval(o)
		if got != recheckInterval(o.DeepCopy()) {
			t.Fatal("the jitter is not fixed per object")
		}
		if got < interval || got > interval+interval/10 {
			t.Fatalf("recheckInterval = %s, want within [%s, %s]", got, interval, interval+interval/10)
		}
		// Created and checked together, the objects become due at spread times.
		s := newSchedule()
		if w := s.checked(o, now, now); w != got {
			t.Fatalf("wait right after the check = %s, want %s", w, got)
		}
		if w := s.untilDue(o, now); w != got {
			t.Fatalf("untilDue right after the check = %s, want %s", w, got)
		}
		if w := s.untilDue(o, now.Add(got)); w != 0 {
			t.Fatalf("untilDue at the jittered interval = %s, want 0", w)
		}
		due[got/time.Second]++
		lo, hi = min(lo, got), max(hi, got)
	}
	if len(due) < 40 || hi-lo < interval/20 {
		t.Errorf("100 objects re-check in %d distinct seconds over %s; want them spread over most of 60s", len(due), hi-lo)
	}
	if o := (&imagesv1alpha1.ImageConfig{}); recheckInterval(o) != time.Hour {
		t.Errorf("an object without a UID gets %s, want the bare default interval", recheckInterval(o))
	}
}

func TestHeadWindow(t *testing.T) {
	o := &imagesv1alpha1.ImageConfig{}
	o.Spec.Interval = &metav1.Duration{Duration: 10 * time.Minute}
	if w := headWindow(o); w != 5*time.Minute {
		t.Errorf("window = %s, want half the interval", w)
	}
	o.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "now"}
	if w := headWindow(o); w != 0 {
		t.Errorf("a requested re-check has window %s, want 0: it must ask the registry", w)
	}
	o.Status.LastHandledReconcileAt = "now"
	if w := headWindow(o); w != 5*time.Minute {
		t.Errorf("a handled request keeps window %s, want 5m", w)
	}
}

func TestCheckedAt(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name           string
		reported, want time.Time
	}{
		{"not reported", time.Time{}, now},
		{"a recent answer", now.Add(-time.Minute), now.Add(-time.Minute)},
		{"from the future", now.Add(time.Minute), now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkedAt(tt.reported, now); !got.Equal(tt.want) {
				t.Errorf("checkedAt = %v, want %v", got, tt.want)
			}
		})
	}
}
