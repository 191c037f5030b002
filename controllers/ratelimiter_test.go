package controllers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestLimiterBackoff(t *testing.T) {
	const s = time.Second
	a := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "default", Name: "a"}}
	b := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "default", Name: "b"}}

	// Each step is an action on the limiter; When steps record what it returned.
	type step func(l *intervalLimiter, got *[]time.Duration)
	when := func(item reconcile.Request, n int) step {
		return func(l *intervalLimiter, got *[]time.Duration) {
			for range n {
				*got = append(*got, l.When(item))
			}
		}
	}
	setInterval := func(item reconcile.Request, d time.Duration) step {
		return func(l *intervalLimiter, _ *[]time.Duration) { l.setInterval(item, d) }
	}
	forget := func(item reconcile.Request) step {
		return func(l *intervalLimiter, _ *[]time.Duration) { l.Forget(item) }
	}
	remove := func(item reconcile.Request) step {
		return func(l *intervalLimiter, _ *[]time.Duration) { l.remove(item) }
	}

	tests := []struct {
		name         string
		steps        []step
		want         []time.Duration
		wantRequeues map[reconcile.Request]int
	}{
		{
			name:         "doubles up to the maximum",
			steps:        []step{when(a, 7)},
			want:         []time.Duration{10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s},
			wantRequeues: map[reconcile.Request]int{a: 7, b: 0},
		},
		{
			name:  "capped at the interval",
			steps: []step{setInterval(a, time.Minute), when(a, 7)},
			want:  []time.Duration{10 * s, 20 * s, 40 * s, 60 * s, 60 * s, 60 * s, 60 * s},
		},
		{
			name:  "interval set after some failures",
			steps: []step{when(a, 4), setInterval(a, 30*s), when(a, 2)},
			want:  []time.Duration{10 * s, 20 * s, 40 * s, 80 * s, 30 * s, 30 * s},
		},
		{
			name:  "interval above the maximum does not matter",
			steps: []step{setInterval(a, time.Hour), when(a, 7)},
			want:  []time.Duration{10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s},
		},
		{
			name:  "zero interval is ignored",
			steps: []step{setInterval(a, 0), when(a, 3)},
			want:  []time.Duration{10 * s, 20 * s, 40 * s},
		},
		{
			name:         "Forget resets the backoff",
			steps:        []step{when(a, 3), forget(a), when(a, 2)},
			want:         []time.Duration{10 * s, 20 * s, 40 * s, 10 * s, 20 * s},
			wantRequeues: map[reconcile.Request]int{a: 2},
		},
		{
			// A success forgets the cap too; the reconciler records it with each failure.
			name:  "Forget drops the interval",
			steps: []step{setInterval(a, 15*s), when(a, 2), forget(a), when(a, 2), setInterval(a, 15*s), when(a, 1)},
			want:  []time.Duration{10 * s, 15 * s, 10 * s, 20 * s, 15 * s},
		},
		{
			name:         "items back off independently",
			steps:        []step{setInterval(b, 15*s), when(a, 3), when(b, 1), when(a, 1), when(b, 2), forget(a), when(b, 1)},
			want:         []time.Duration{10 * s, 20 * s, 40 * s, 10 * s, 80 * s, 15 * s, 15 * s, 15 * s},
			wantRequeues: map[reconcile.Request]int{a: 0, b: 4},
		},
		{
			name:         "remove forgets the interval and the backoff",
			steps:        []step{setInterval(a, 15*s), when(a, 2), remove(a), when(a, 3)},
			want:         []time.Duration{10 * s, 15 * s, 10 * s, 20 * s, 40 * s},
			wantRequeues: map[reconcile.Request]int{a: 3},
		},
		{
			name:         "remove of one item leaves the other",
			steps:        []step{setInterval(b, 15*s), when(a, 2), when(b, 2), remove(a), when(b, 1), when(a, 1)},
			want:         []time.Duration{10 * s, 20 * s, 10 * s, 15 * s, 15 * s, 10 * s},
			wantRequeues: map[reconcile.Request]int{a: 1, b: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Fewer than 100 calls: the token bucket's burst keeps its delay at zero,
			// so the exponential backoff decides.
			l := newIntervalLimiter(10*time.Second, 5*time.Minute)
			var got []time.Duration
			for _, st := range tt.steps {
				st(l, &got)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("When (-want +got):\n%s", diff)
			}
			gotRequeues := map[reconcile.Request]int{}
			for item := range tt.wantRequeues {
				gotRequeues[item] = l.NumRequeues(item)
			}
			if diff := cmp.Diff(tt.wantRequeues, gotRequeues, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("NumRequeues (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimiterNilReceiver(t *testing.T) {
	// The reconciler calls setInterval and remove even when it was not set up
	// through SetupWithManager, as in tests that call Reconcile directly.
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "default", Name: "a"}}
	tests := []struct {
		name string
		call func(l *intervalLimiter)
	}{
		{"setInterval", func(l *intervalLimiter) { l.setInterval(req, time.Minute) }},
		{"remove", func(l *intervalLimiter) { l.remove(req) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panicked: %v", r)
				}
			}()
			tt.call(nil)
		})
	}
}
