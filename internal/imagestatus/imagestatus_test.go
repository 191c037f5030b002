package imagestatus

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
	digestC = "sha256:" + strings.Repeat("c", 64)
)

// cond is the part of a metav1.Condition that the setters decide.
type cond struct {
	Type, Status, Reason, Message string
	ObservedGeneration            int64
}

func condsOf(cs []metav1.Condition) []cond {
	out := make([]cond, 0, len(cs))
	for _, c := range cs {
		out = append(out, cond{c.Type, string(c.Status), c.Reason, c.Message, c.ObservedGeneration})
	}
	slices.SortFunc(out, func(a, b cond) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func condition(typ string, st metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{
		Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen,
		LastTransitionTime: metav1.NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
}

// checkKstatusInvariants fails t when the conditions would be ambiguous to kstatus.
func checkKstatusInvariants(t *testing.T, cs []metav1.Condition) {
	t.Helper()
	isTrue := func(typ string) bool { return apimeta.IsStatusConditionTrue(cs, typ) }
	ready, reconciling, stalled := isTrue(imagesv1alpha1.ReadyCondition), isTrue(imagesv1alpha1.ReconcilingCondition), isTrue(imagesv1alpha1.StalledCondition)
	if ready && (reconciling || stalled) {
		t.Errorf("Ready=True coexists with Reconciling=%v Stalled=%v", reconciling, stalled)
	}
	if reconciling && stalled {
		t.Error("Reconciling and Stalled are both True")
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.Type] {
			t.Errorf("condition %s appears twice", c.Type)
		}
		seen[c.Type] = true
	}
}

func TestConditions(t *testing.T) {
	const (
		gen    = int64(2) // obj.Generation
		oldGen = int64(1) // generation of the starting conditions and status.observedGeneration
		msg    = "Resolved index.docker.io/library/nginx:1.27 to sha256:aaa for linux/amd64"
		errMsg = "registry said no"
	)
	ready, reconciling, stalled := imagesv1alpha1.ReadyCondition, imagesv1alpha1.ReconcilingCondition, imagesv1alpha1.StalledCondition
	suspendedMsg := "Suspended: spec.suspend is true, so the registry is not contacted"

	starts := map[string]struct {
		conds       []metav1.Condition
		observedGen int64
	}{
		"none": {},
		"ready": {
			conds:       []metav1.Condition{condition(ready, metav1.ConditionTrue, imagesv1alpha1.ResolvedReason, "old", oldGen)},
			observedGen: oldGen,
		},
		"stalled": {
			conds: []metav1.Condition{
				condition(ready, metav1.ConditionFalse, imagesv1alpha1.NotFoundReason, "gone", oldGen),
				condition(stalled, metav1.ConditionTrue, imagesv1alpha1.NotFoundReason, "gone", oldGen),
			},
			observedGen: oldGen,
		},
		"reconciling": {
			conds: []metav1.Condition{
				condition(ready, metav1.ConditionFalse, imagesv1alpha1.UnavailableReason, "503", oldGen),
				condition(reconciling, metav1.ConditionTrue, imagesv1alpha1.ProgressingReason, "Retrying: 503", oldGen),
			},
			observedGen: oldGen,
		},
	}

	markReadyFn := func(o *imagesv1alpha1.ImageConfig) { MarkReady(o, msg) }
	markRetryingFn := func(o *imagesv1alpha1.ImageConfig) {
		MarkRetrying(o, imagesv1alpha1.UnavailableReason, errMsg)
	}
	markStalledFn := func(o *imagesv1alpha1.ImageConfig) {
		MarkStalled(o, imagesv1alpha1.UnauthorizedReason, errMsg)
	}

	wantReady := []cond{{ready, "True", imagesv1alpha1.ResolvedReason, msg, gen}}
	wantRetrying := []cond{
		{ready, "False", imagesv1alpha1.UnavailableReason, errMsg, gen},
		{reconciling, "True", imagesv1alpha1.ProgressingReason, "Retrying: " + errMsg, gen},
	}
	wantStalled := []cond{
		{ready, "False", imagesv1alpha1.UnauthorizedReason, errMsg, gen},
		{stalled, "True", imagesv1alpha1.UnauthorizedReason, errMsg, gen},
	}

	tests := []struct {
		name            string
		start           string
		mark            func(*imagesv1alpha1.ImageConfig)
		want            []cond
		wantObservedGen int64
		// wantKstatus is kstatus' verdict; a suspended object's last edit (the
		// suspend) is not acted on, so it stays InProgress, as Flux's do.
		wantKstatus status.Status
	}{
		{"ready from none", "none", markReadyFn, wantReady, gen, status.CurrentStatus},
		{"ready from ready", "ready", markReadyFn, wantReady, gen, status.CurrentStatus},
		{"ready from stalled", "stalled", markReadyFn, wantReady, gen, status.CurrentStatus},
		{"ready from reconciling", "reconciling", markReadyFn, wantReady, gen, status.CurrentStatus},

		// status.observedGeneration is the generation acted on, failures included
		// (Flux's meaning), so that kstatus sees the verdict on this generation.
		{"retrying from none", "none", markRetryingFn, wantRetrying, gen, status.InProgressStatus},
		{"retrying from ready", "ready", markRetryingFn, wantRetrying, gen, status.InProgressStatus},
		{"retrying from stalled", "stalled", markRetryingFn, wantRetrying, gen, status.InProgressStatus},
		{"retrying from reconciling", "reconciling", markRetryingFn, wantRetrying, gen, status.InProgressStatus},

		{"stalled from none", "none", markStalledFn, wantStalled, gen, status.FailedStatus},
		{"stalled from ready", "ready", markStalledFn, wantStalled, gen, status.FailedStatus},
		{"stalled from stalled", "stalled", markStalledFn, wantStalled, gen, status.FailedStatus},
		{"stalled from reconciling", "reconciling", markStalledFn, wantStalled, gen, status.FailedStatus},

		{
			"suspended from none", "none", MarkSuspended,
			[]cond{{ready, "Unknown", imagesv1alpha1.SuspendedReason, suspendedMsg, gen}}, 0, status.InProgressStatus,
		},
		{
			"suspended from ready keeps Ready", "ready", MarkSuspended,
			[]cond{{ready, "True", imagesv1alpha1.ResolvedReason, "old", oldGen}}, oldGen, status.InProgressStatus,
		},
		{
			"suspended from stalled keeps Ready and Stalled", "stalled", MarkSuspended,
			[]cond{
				{ready, "False", imagesv1alpha1.NotFoundReason, "gone", oldGen},
				{stalled, "True", imagesv1alpha1.NotFoundReason, "gone", oldGen},
			}, oldGen, status.InProgressStatus,
		},
		{
			"suspended from reconciling drops Reconciling", "reconciling", MarkSuspended,
			[]cond{{ready, "False", imagesv1alpha1.UnavailableReason, "503", oldGen}}, oldGen, status.InProgressStatus,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := starts[tt.start]
			obj := &imagesv1alpha1.ImageConfig{}
			obj.Generation = gen
			obj.Status.ObservedGeneration = start.observedGen
			obj.Status.Conditions = slices.Clone(start.conds)

			tt.mark(obj)

			if diff := cmp.Diff(tt.want, condsOf(obj.Status.Conditions)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if got := obj.Status.ObservedGeneration; got != tt.wantObservedGen {
				t.Errorf("status.observedGeneration = %d, want %d", got, tt.wantObservedGen)
			}
			for _, c := range obj.Status.Conditions {
				if c.LastTransitionTime.IsZero() {
					t.Errorf("condition %s has no lastTransitionTime", c.Type)
				}
			}
			checkKstatusInvariants(t, obj.Status.Conditions)
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				t.Fatal(err)
			}
			if res, err := status.Compute(&unstructured.Unstructured{Object: u}); err != nil || res.Status != tt.wantKstatus {
				t.Errorf("kstatus = %+v (%v), want %s", res, err, tt.wantKstatus)
			}
		})
	}
}

func TestConditionsSequence(t *testing.T) {
	// Every order of setters keeps the kstatus invariants.
	setters := map[string]func(*imagesv1alpha1.ImageConfig){
		"ready":     func(o *imagesv1alpha1.ImageConfig) { MarkReady(o, "ok") },
		"retrying":  func(o *imagesv1alpha1.ImageConfig) { MarkRetrying(o, "Unavailable", "503") },
		"stalled":   func(o *imagesv1alpha1.ImageConfig) { MarkStalled(o, "NotFound", "404") },
		"suspended": MarkSuspended,
	}
	names := []string{"ready", "retrying", "stalled", "suspended"}
	for _, a := range names {
		for _, b := range names {
			for _, c := range names {
				t.Run(a+"-"+b+"-"+c, func(t *testing.T) {
					obj := &imagesv1alpha1.ImageConfig{}
					obj.Generation = 1
					for _, n := range []string{a, b, c} {
						setters[n](obj)
						checkKstatusInvariants(t, obj.Status.Conditions)
					}
				})
			}
		}
	}
}

// fullSummary returns a Summary with every field set, with whole-second UTC times.
func fullSummary() manifests.Summary {
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	layer1 := time.Date(2025, 3, 1, 0, 0, 1, 0, time.UTC)
	layer2 := time.Date(2025, 3, 4, 5, 6, 0, 0, time.UTC)
	return manifests.Summary{
		ImageRef:       "index.docker.io/library/nginx:1.27",
		Digest:         digestA,
		MediaType:      "application/vnd.oci.image.index.v1+json",
		ManifestDigest: digestB,
		ConfigDigest:   digestC,
		Platform:       "linux/arm64/v8",
		Platforms: []manifests.IndexEntry{
			{OS: "linux", Architecture: "amd64", Digest: digestB, Size: 1234, MediaType: "application/vnd.oci.image.manifest.v1+json"},
			{OS: "windows", Architecture: "arm64", Variant: "v8", OSVersion: "10.0.17763.6659", Digest: digestC, Size: 99, MediaType: "application/vnd.oci.image.manifest.v1+json"},
			{OS: "unknown", Architecture: "unknown", Digest: digestA, Size: 566, MediaType: "application/vnd.oci.image.manifest.v1+json", Attestation: true},
		},
		Config: &manifests.BuildConfig{
			Created:      &created,
			Author:       "NGINX Docker Maintainers",
			OS:           "linux",
			Architecture: "arm64",
			Variant:      "v8",
			OSVersion:    "6.1",
			User:         "101:101",
			Env:          []string{"PATH=/usr/local/bin:/usr/bin", "NGINX_VERSION=1.27.4"},
			Entrypoint:   []string{"/docker-entrypoint.sh"},
			Cmd:          []string{"nginx", "-g", "daemon off;"},
			WorkingDir:   "/srv",
			ExposedPorts: []string{"443/tcp", "80/tcp"},
			Volumes:      []string{"/var/cache/nginx"},
			Labels:       map[string]string{"maintainer": "NGINX", "org.opencontainers.image.version": "1.27.4"},
			StopSignal:   "SIGQUIT",
		},
		Layers: []manifests.Layer{
			{Digest: digestB, DiffID: digestC, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 28000000, Created: &layer1, CreatedBy: "ADD rootfs.tar.xz /", Comment: "buildkit.dockerfile.v0"},
			{Digest: digestC, DiffID: digestA, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Size: 627, Created: &layer2, CreatedBy: "COPY docker-entrypoint.sh /", Comment: "copied"},
		},
		LayerHistoryNote: "history has 9 entries that create layers, the manifest has 2 layers",
		LayerCount:       2,
		TotalSize:        28000627,
		BaseImage:        &manifests.BaseImage{Name: "docker.io/library/debian:bookworm-slim", Digest: digestB},
		AuthSource:       "secret/pull",
	}
}

// zeroFields lists the fields under v that are zero (in every entry, for a slice),
// so that a fixture that is meant to be fully populated fails when a field is added
// to the type but not to the fixture.
func zeroFields(path string, v reflect.Value) []string {
	if v.IsZero() {
		return []string{path}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem() != reflect.TypeFor[time.Time]() {
			return zeroFields(path, v.Elem())
		}
	case reflect.Slice:
		// A field counts as set when any entry sets it.
		out := zeroFields(path+"[]", v.Index(0))
		for i := 1; i < v.Len(); i++ {
			in := zeroFields(path+"[]", v.Index(i))
			out = slices.DeleteFunc(out, func(p string) bool { return !slices.Contains(in, p) })
		}
		return out
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			out = append(out, zeroFields(path+"."+v.Type().Field(i).Name, v.Field(i))...)
		}
		return out
	}
	return nil
}

// summaryJSON decodes the JSON of v into a generic value, so that two encodings
// compare independently of field order.
func summaryJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

// statusSummary is the status without the fields that the controller owns.
func statusSummary(st imagesv1alpha1.ImageConfigStatus) imagesv1alpha1.ImageConfigStatus {
	st.ObservedGeneration = 0
	st.Conditions = nil
	st.LastCheckedTime = nil
	st.LastChangedTime = nil
	st.LastChange = nil
	st.LastHandledReconcileAt = ""
	return st
}

func TestApplyResult(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	full := fullSummary()
	if zero := zeroFields("Summary", reflect.ValueOf(full)); len(zero) > 0 {
		t.Fatalf("the fixture must set every field; these are zero: %v", zero)
	}
	// A status that holds another, older resolution, with controller-owned fields.
	stale := imagesv1alpha1.ImageConfigStatus{
		ObservedGeneration:     7,
		Conditions:             []metav1.Condition{condition(imagesv1alpha1.ReadyCondition, metav1.ConditionTrue, "Resolved", "ok", 7)},
		ImageRef:               "index.docker.io/library/nginx:1.26",
		Digest:                 digestC,
		MediaType:              "application/vnd.docker.distribution.manifest.list.v2+json",
		ManifestDigest:         digestC,
		ConfigDigest:           digestC,
		Platform:               "linux/amd64",
		Platforms:              []imagesv1alpha1.IndexEntry{{OS: "linux", Architecture: "s390x", Digest: digestC}},
		Config:                 &imagesv1alpha1.ImageBuildConfig{OS: "linux", User: "root", Env: []string{"OLD=1"}},
		Layers:                 []imagesv1alpha1.Layer{{Digest: digestC}, {Digest: digestC}, {Digest: digestC}},
		LayerHistoryNote:       "old note",
		LayerCount:             3,
		TotalSize:              3,
		AuthSource:             "serviceAccount/old",
		LastHandledReconcileAt: "123",
	}
	single := manifests.Summary{
		ImageRef: "ghcr.io/org/app:v1", Digest: digestB, MediaType: "application/vnd.oci.image.manifest.v1+json",
		ManifestDigest: digestB, ConfigDigest: digestC, Platform: "linux/amd64",
		Layers:     []manifests.Layer{{Digest: digestA, Size: 10}},
		LayerCount: 1, TotalSize: 10,
	}

	tests := []struct {
		name  string
		start imagesv1alpha1.ImageConfigStatus
		sum   manifests.Summary
	}{
		{"full result into an empty status", imagesv1alpha1.ImageConfigStatus{}, full},
		{"full result replaces an older one", stale, full},
		{"single-platform result without config clears index, config and note", stale, single},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := *tt.start.DeepCopy()
			Apply(&st, &manifests.Result{Summary: tt.sum, RawConfig: []byte(`{}`)}, now)

			want, got := summaryJSON(t, tt.sum), summaryJSON(t, statusSummary(st))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status summary fields differ from the result (-result +status):\n%s", diff)
			}
			// The fields the controller owns are left alone.
			if st.ObservedGeneration != tt.start.ObservedGeneration ||
				st.LastHandledReconcileAt != tt.start.LastHandledReconcileAt ||
				!reflect.DeepEqual(st.Conditions, tt.start.Conditions) ||
				st.LastCheckedTime != nil {
				t.Errorf("applyResult changed controller-owned fields: %+v", st)
			}
		})
	}
}

func TestApplyResultLastChangedTime(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	earlier := metav1.NewTime(now.Add(-48 * time.Hour))
	tests := []struct {
		name       string
		oldDigest  string
		oldChanged *metav1.Time
		newDigest  string
		want       time.Time
	}{
		{"first resolution", "", nil, digestA, now},
		{"digest unchanged keeps the time", digestA, &earlier, digestA, earlier.Time},
		{"digest changed", digestA, &earlier, digestB, now},
		{"digest unchanged but never set", digestA, nil, digestA, now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := imagesv1alpha1.ImageConfigStatus{Digest: tt.oldDigest, LastChangedTime: tt.oldChanged}
			Apply(&st, &manifests.Result{Summary: manifests.Summary{Digest: tt.newDigest}}, now)
			if st.LastChangedTime == nil {
				t.Fatal("lastChangedTime is nil")
			}
			if !st.LastChangedTime.Time.Equal(tt.want) {
				t.Errorf("lastChangedTime = %v, want %v", st.LastChangedTime.Time, tt.want)
			}
			if st.Digest != tt.newDigest {
				t.Errorf("digest = %q, want %q", st.Digest, tt.newDigest)
			}
		})
	}
}

func TestPreviousResult(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	minimal := manifests.Summary{
		ImageRef: "ghcr.io/org/app:v1", Digest: digestB, Platform: "linux/amd64",
		Config: &manifests.BuildConfig{OS: "linux", Architecture: "amd64"},
		Layers: []manifests.Layer{{Digest: digestA}},
	}
	tests := []struct {
		name string
		st   imagesv1alpha1.ImageConfigStatus
		want *manifests.Summary
	}{
		{name: "empty status", st: imagesv1alpha1.ImageConfigStatus{}},
		{name: "digest without config", st: imagesv1alpha1.ImageConfigStatus{ImageRef: "x", Digest: digestA}},
		{name: "config without digest", st: imagesv1alpha1.ImageConfigStatus{Config: &imagesv1alpha1.ImageBuildConfig{OS: "linux"}}},
		{name: "round trip of a full result", want: new(fullSummary())},
		{name: "round trip of a minimal result", want: &minimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.st
			if tt.want != nil {
				Apply(&st, &manifests.Result{Summary: *tt.want, RawConfig: []byte(`{}`), Unchanged: true}, now)
			}
			got := Previous(&st)
			if tt.want == nil {
				if got != nil {
					t.Fatalf("previousResult = %+v, want nil", got)
				}
				return
			}
			if got == nil {
				t.Fatal("previousResult = nil")
			}
			if diff := cmp.Diff(*tt.want, got.Summary); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if got.RawConfig != nil || got.Unchanged {
				t.Errorf("RawConfig = %q, Unchanged = %v; want nil and false", got.RawConfig, got.Unchanged)
			}
		})
	}
}

// controllerOwnedStatusFields are the status fields that are not part of a resolution.
var controllerOwnedStatusFields = []string{"observedGeneration", "requestedImageRef", "requestedPlatform", "conditions", "lastCheckedTime", "lastChangedTime", "lastChange", "lastHandledReconcileAt", "truncated", "rateLimit", "files",
	// The supply-chain checks (ApplyBase, ApplyReferrers), not the resolution, write these.
	"referrers", ".baseImage[].currentDigest"}

// jsonFields maps the JSON names of t's fields to their field and tag options.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// compareShapes reports where the JSON of a value of type a would not decode into b
// with the same field names and kinds. time.Time and metav1.Time are compatible.
// Fields of b listed in extraB may be missing from a: by name at the top level,
// or by path (".baseImage[].currentDigest") below it.
func compareShapes(path string, a, b reflect.Type, extraB []string) []string {
	timeT, metaTimeT := reflect.TypeFor[time.Time](), reflect.TypeFor[metav1.Time]()
	if a == timeT && b == metaTimeT {
		return nil
	}
	if a.Kind() != b.Kind() {
		return []string{fmt.Sprintf("%s: kind %s, status has %s", path, a.Kind(), b.Kind())}
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return compareShapes(path+"[]", a.Elem(), b.Elem(), extraB)
	case reflect.Map:
		return append(compareShapes(path+"{key}", a.Key(), b.Key(), nil), compareShapes(path+"{}", a.Elem(), b.Elem(), nil)...)
	case reflect.Struct:
		var out []string
		af, bf := jsonFields(a), jsonFields(b)
		for name, fa := range af {
			fb, ok := bf[name]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing from %s", path, name, b))
				continue
			}
			_, optsA, _ := strings.Cut(fa.Tag.Get("json"), ",")
			_, optsB, _ := strings.Cut(fb.Tag.Get("json"), ",")
			if optsA != optsB {
				out = append(out, fmt.Sprintf("%s.%s: json options %q, status has %q", path, name, optsA, optsB))
			}
			out = append(out, compareShapes(path+"."+name, fa.Type, fb.Type, extraB)...)
		}
		for name := range bf {
			allowed := (path == "" && slices.Contains(extraB, name)) || slices.Contains(extraB, path+"."+name)
			if _, ok := af[name]; !ok && !allowed {
				out = append(out, fmt.Sprintf("%s.%s: in %s but not in %s", path, name, b, a))
			}
		}
		slices.Sort(out)
		return out
	}
	return nil
}

func TestSummaryFieldNames(t *testing.T) {
	type badEntry struct {
		OS   string `json:"os,omitempty"`
		Size int32  `json:"size"`
	}
	type badSummary struct {
		Digest    string     `json:"digest,omitempty"`
		Platforms []badEntry `json:"platforms,omitempty"`
		Created   *time.Time `json:"lastCheckedTime,omitempty"`
		Extra     string     `json:"extra,omitempty"`
		Layers    int        `json:"layers,omitempty"`
	}
	type badStatus struct {
		Digest    string                      `json:"digest,omitempty"`
		Platforms []imagesv1alpha1.IndexEntry `json:"platforms,omitempty"`
		Checked   *metav1.Time                `json:"lastCheckedTime,omitempty"`
		Layers    []imagesv1alpha1.Layer      `json:"layers,omitempty"`
		Reason    string                      `json:"reason,omitempty"`
	}
	tests := []struct {
		name string
		a, b reflect.Type
		want []string
	}{
		{
			name: "manifests.Summary has the status field names",
			a:    reflect.TypeFor[manifests.Summary](),
			b:    reflect.TypeFor[imagesv1alpha1.ImageConfigStatus](),
		},
		{
			// The walker itself must find mismatches: a missing field, another kind,
			// other json options, and a status field that no summary field fills.
			name: "mismatches are reported",
			a:    reflect.TypeFor[badSummary](),
			b:    reflect.TypeFor[badStatus](),
			want: []string{
				".extra: missing from imagestatus.badStatus",
				".layers: kind int, status has slice",
				".platforms[].architecture: in v1alpha1.IndexEntry but not in imagestatus.badEntry",
				".platforms[].attestation: in v1alpha1.IndexEntry but not in imagestatus.badEntry",
				".platforms[].digest: in v1alpha1.IndexEntry but not in imagestatus.badEntry",
				".platforms[].mediaType: in v1alpha1.IndexEntry but not in imagestatus.badEntry",
				".platforms[].osVersion: in v1alpha1.IndexEntry but not in imagestatus.badEntry",
				".platforms[].size: json options \"\", status has \"omitempty\"",
				".platforms[].size: kind int32, status has int64",
				".platforms[].variant: in v1alpha1.IndexEntry but not in imagestatus.badEntry",
				".reason: in imagestatus.badStatus but not in imagestatus.badSummary",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compareShapes("", tt.a, tt.b, controllerOwnedStatusFields)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	withStatus := func(o *imagesv1alpha1.ImageConfig, st imagesv1alpha1.ImageConfigStatus) *imagesv1alpha1.ImageConfig {
		o.Status = st
		return o
	}
	full := &imagesv1alpha1.ImageConfig{Spec: imagesv1alpha1.ImageConfigSpec{
		Registry:   "ghcr.io",
		Repository: "org/app",
		Tag:        "v1.2",
		Platform:   imagesv1alpha1.PlatformSpec{OS: "windows", Architecture: "arm64", Variant: "v8", OSVersion: "10.0.17763.6659"},
		Insecure:   true,
		Timeout:    &metav1.Duration{Duration: 90 * time.Second},
		Interval:   &metav1.Duration{Duration: 5 * time.Minute},
		Suspend:    true,
	}}
	fullWant := manifests.Options{
		Registry: "ghcr.io", Repository: "org/app", Tag: "v1.2",
		Platform: platforms.Platform{OS: "windows", Architecture: "arm64", Variant: "v8", OSVersion: "10.0.17763.6659"},
		Network:  manifests.Network{Insecure: true, Timeout: 90 * time.Second},
	}
	resolved := imagesv1alpha1.ImageConfigStatus{
		ImageRef: "ghcr.io/org/app:v1.2", Digest: digestA, ConfigDigest: digestC, Platform: "linux/amd64",
		Config: &imagesv1alpha1.ImageBuildConfig{OS: "linux", Architecture: "amd64", User: "app"},
	}

	tests := []struct {
		name         string
		obj          *imagesv1alpha1.ImageConfig
		want         manifests.Options
		wantPrevious *manifests.Summary
	}{
		{name: "every spec field", obj: full.DeepCopy(), want: fullWant},
		{
			name: "digest, default timeout and platform",
			obj: &imagesv1alpha1.ImageConfig{Spec: imagesv1alpha1.ImageConfigSpec{
				Repository: "library/nginx", Digest: digestB,
			}},
			want: manifests.Options{Repository: "library/nginx", Digest: digestB, Network: manifests.Network{Timeout: 60 * time.Second}},
		},
		{
			name: "previous from a resolved status",
			obj:  withStatus(full.DeepCopy(), resolved),
			want: fullWant,
			wantPrevious: &manifests.Summary{
				ImageRef: "ghcr.io/org/app:v1.2", Digest: digestA, ConfigDigest: digestC, Platform: "linux/amd64",
				Config: &manifests.BuildConfig{OS: "linux", Architecture: "amd64", User: "app"},
			},
		},
		{
			name: "no previous without a config",
			obj:  withStatus(full.DeepCopy(), imagesv1alpha1.ImageConfigStatus{ImageRef: "ghcr.io/org/app:v1.2", Digest: digestA}),
			want: fullWant,
		},
		{
			name: "no previous without a digest",
			obj:  withStatus(full.DeepCopy(), imagesv1alpha1.ImageConfigStatus{Config: &imagesv1alpha1.ImageBuildConfig{OS: "linux"}}),
			want: fullWant,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Options(tt.obj)
			prev := got.Previous
			got.Previous = nil
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(manifests.Options{})); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantPrevious == nil && prev != nil:
				t.Errorf("Previous = %+v, want nil", prev)
			case tt.wantPrevious != nil && prev == nil:
				t.Error("Previous = nil")
			case tt.wantPrevious != nil:
				if diff := cmp.Diff(*tt.wantPrevious, prev.Summary); diff != "" {
					t.Errorf("Previous (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestChangeFieldNames keeps the finders' Change and status.lastChange.change in step,
// since the controller converts one into the other by their JSON names.
func TestChangeFieldNames(t *testing.T) {
	if got := compareShapes("", reflect.TypeFor[compare.Change](), reflect.TypeFor[imagesv1alpha1.ImageChangeDetails](), nil); len(got) != 0 {
		t.Errorf("compare.Change and ImageChangeDetails differ:\n%q", got)
	}
}

func TestRecordChange(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res := func(ref, platform, digest string) *manifests.Result {
		return &manifests.Result{Summary: manifests.Summary{ImageRef: ref, Platform: platform, Digest: digest, Config: &manifests.BuildConfig{}}}
	}
	earlier := &imagesv1alpha1.ImageChange{From: "sha256:0", To: "sha256:1", Time: metav1.Time{Time: now.Add(-time.Hour)}}
	tests := []struct {
		name      string
		prev, res *manifests.Result
		want      *imagesv1alpha1.ImageChange // nil: cleared; earlier: untouched
		moved     bool
	}{
		{name: "first resolution", res: res("r:1", "linux/amd64", "sha256:1"), want: earlier},
		{name: "unchanged", prev: res("r:1", "linux/amd64", "sha256:1"), res: res("r:1", "linux/amd64", "sha256:1"), want: earlier},
		{name: "moved", prev: res("r:1", "linux/amd64", "sha256:1"), res: res("r:1", "linux/amd64", "sha256:2"), moved: true},
		{name: "another reference", prev: res("r:1", "linux/amd64", "sha256:1"), res: res("r:2", "linux/amd64", "sha256:2")},
		{name: "another platform", prev: res("r:1", "linux/amd64", "sha256:1"), res: res("r:1", "linux/arm64", "sha256:2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &imagesv1alpha1.ImageConfigStatus{LastChange: earlier}
			RecordChange(st, tt.prev, tt.res, "tag 1", now)
			switch {
			case tt.moved:
				want := &imagesv1alpha1.ImageChange{From: "sha256:1", To: "sha256:2", Time: metav1.Time{Time: now},
					Summary: "tag 1 moved sha256:1 → sha256:2: same config fields and layers",
					Change:  &imagesv1alpha1.ImageChangeDetails{Digest: &imagesv1alpha1.StringChange{Before: "sha256:1", After: "sha256:2"}}}
				if diff := cmp.Diff(want, st.LastChange); diff != "" {
					t.Errorf("lastChange (-want +got):\n%s", diff)
				}
			case st.LastChange != tt.want:
				t.Errorf("lastChange = %+v, want %+v", st.LastChange, tt.want)
			}
		})
	}
}

func TestRateLimitedMessage(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hub := &manifests.RateLimitInfo{Host: "registry-1.docker.io", Limit: 100, Remaining: 0, Window: 6 * time.Hour, Source: "192.0.2.7", ObservedAt: now.Add(-time.Minute)}
	tests := []struct {
		name string
		err  *manifests.Error
		want string
	}{
		{"Retry-After", &manifests.Error{Reason: manifests.RateLimited, Message: "m", RetryAfter: 90 * time.Second, RateLimit: hub},
			"m; expect relief at 2026-03-01T12:01:30Z"},
		{"Docker Hub: no Retry-After, a window", &manifests.Error{Reason: manifests.RateLimited, Message: "m", RateLimit: hub},
			"m; quota: 0 of 100 pulls left per 6h0m0s, counted against 192.0.2.7; no Retry-After, expect relief by 2026-03-01T17:59:00Z, one window after the refusal"},
		{"neither", &manifests.Error{Reason: manifests.RateLimited, Message: "m"},
			"m; the registry said neither Retry-After nor its quota's window, retrying with backoff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RateLimitedMessage(tt.err, now); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// BenchmarkRecheckUnchanged is the status work of a re-check whose tag has not
// moved, paid by every object on every interval: the last resolution rebuilt
// from the status (the finder's Options.Previous), and the confirmed result
// applied to a copy of the status.
func BenchmarkRecheckUnchanged(b *testing.B) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var st imagesv1alpha1.ImageConfigStatus
	Apply(&st, &manifests.Result{Summary: fullSummary(), RawConfig: []byte(`{}`)}, now)
	b.ReportAllocs()
	for b.Loop() {
		cur := st.DeepCopy()
		prev := Previous(cur)
		Apply(cur, &manifests.Result{Summary: prev.Summary, Unchanged: true}, now)
	}
}
