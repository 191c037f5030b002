package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// testHostile resolves images whose content is built to break the status: every
// one must produce a status that the API server accepts, well under etcd's object
// limit, with a Ready message of one line and at most 1 KiB, and short events.
func testHostile(t *testing.T, env *testenv.Env) {
	reg := testregistry.New(t, testregistry.Options{})
	ns := newNamespace(t, env.Client)
	rec := &recorder{}
	r := &ImageConfigReconciler{Client: env.Client, Recorder: rec, AllowInsecureRegistries: true, Finder: RegistryFinder}
	amd64 := func(cfg v1.Config, layers ...string) v1.Image {
		if len(layers) == 0 {
			layers = []string{"base"}
		}
		return testregistry.Image(t, testregistry.ImageSpec{Layers: layers, Config: cfg})
	}
	controls := "echo \x1b[31mred\x1b[0m\r\x00\x07\nrm -rf / \u202eevil\u2028next"

	manyEnv := make([]string, 10000)
	for i := range manyEnv {
		manyEnv[i] = fmt.Sprintf("VAR_%05d=%s", i, strings.Repeat("v", 100))
	}
	bigLabels := map[string]string{}
	for i := range 300 {
		bigLabels[fmt.Sprintf("label.%03d", i)] = strings.Repeat("l", 10<<10)
	}
	manyLayers := make([]string, 40)
	for i := range manyLayers {
		manyLayers[i] = fmt.Sprintf("%d %s", i, strings.Repeat("c", 30<<10))
	}
	hostilePlatforms := func() v1.ImageIndex {
		img := amd64(v1.Config{})
		var entries []testregistry.IndexEntry
		for i := range 200 {
			entries = append(entries, testregistry.IndexEntry{Image: img, Platform: &v1.Platform{
				OS: "linux\r\nX-Injected: 1", Architecture: fmt.Sprintf("arm%d\n", i), Variant: "v7\n\x1b[2J",
			}})
		}
		return testregistry.Index(t, "", entries...)
	}

	tests := []struct {
		name   string
		push   func(repo string)
		reason string
		check  func(t *testing.T, st imagesv1alpha1.ImageConfigStatus)
	}{
		{"a 100 KiB label value", func(repo string) {
			reg.PushImage(t, repo, "v1", amd64(v1.Config{Labels: map[string]string{"big": strings.Repeat("x", 100<<10)}}))
		}, "Resolved", func(t *testing.T, st imagesv1alpha1.ImageConfigStatus) {
			if v := st.Config.Labels["big"]; len(v) > imagesv1alpha1.MaxStringLength || !strings.HasSuffix(v, "…") || st.Truncated == "" {
				t.Errorf("label of %d bytes, truncated %q: want it cut to %d bytes and noted", len(v), st.Truncated, imagesv1alpha1.MaxStringLength)
			}
		}},
		{"10,000 env entries", func(repo string) {
			reg.PushImage(t, repo, "v1", amd64(v1.Config{Env: manyEnv}))
		}, "Resolved", func(t *testing.T, st imagesv1alpha1.ImageConfigStatus) {
			if len(st.Config.Env) != imagesv1alpha1.MaxEnv || !strings.Contains(st.Truncated, "config.env: kept the first 256 of 10000") {
				t.Errorf("%d env entries, truncated %q", len(st.Config.Env), st.Truncated)
			}
		}},
		{"createdBy with control characters", func(repo string) {
			reg.PushImage(t, repo, "v1", amd64(v1.Config{}, controls))
		}, "Resolved", func(t *testing.T, st imagesv1alpha1.ImageConfigStatus) {
			// Stored as data, byte for byte; only messages are made one line.
			if len(st.Layers) != 1 || st.Layers[0].CreatedBy != "RUN "+controls {
				t.Errorf("layers = %+v", st.Layers)
			}
		}},
		{"300 labels of 10 KiB and 40 layers of 30 KiB history", func(repo string) {
			reg.PushImage(t, repo, "v1", amd64(v1.Config{Labels: bigLabels}, manyLayers...))
		}, "Resolved", func(t *testing.T, st imagesv1alpha1.ImageConfigStatus) {
			if len(st.Layers) != 40 || len(st.Config.Labels) != imagesv1alpha1.MaxLabels || !strings.Contains(st.Truncated, "values were cut") {
				t.Errorf("%d layers, %d labels, truncated %q", len(st.Layers), len(st.Config.Labels), st.Truncated)
			}
		}},
		{"platform strings with newlines, in a long list of available platforms", func(repo string) {
			reg.PushIndex(t, repo, "v1", hostilePlatforms())
		}, "PlatformNotFound", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := fmt.Sprintf("hostile/%d", i)
			tt.push(repo)
			obj := &imagesv1alpha1.ImageConfig{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("hostile-%d", i), Namespace: ns},
				Spec:       imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: repo, Tag: "v1", Insecure: true},
			}
			if err := env.Client.Create(context.Background(), obj); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)}); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			got := &imagesv1alpha1.ImageConfig{}
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
				t.Fatal(err)
			}
			c := ready(got)
			if c == nil || c.Reason != tt.reason {
				t.Fatalf("Ready = %+v, want %s", c, tt.reason)
			}
			checkLine(t, "Ready message", c.Message)
			if b, _ := json.Marshal(got); len(b) > imagesv1alpha1.MaxStatusBytes+64<<10 {
				t.Errorf("the object is %d bytes, over the %d-byte status budget", len(b), imagesv1alpha1.MaxStatusBytes)
			}
			// A failure is a transition and has its event; a first resolution has none.
			evs := rec.of(obj)
			if c.Status == metav1.ConditionFalse && len(evs) == 0 {
				t.Error("no event for the failure")
			}
			for _, e := range evs {
				checkLine(t, "event "+e.reason, e.note)
			}
			if tt.check != nil {
				if got.Status.Config == nil {
					t.Fatalf("no config in the status: %s", conditionSummary(got))
				}
				tt.check(t, got.Status)
			}
		})
	}
}

// checkLine fails unless s is one line of at most manifests.MaxMessageLength bytes
// without control characters.
func checkLine(t *testing.T, what, s string) {
	t.Helper()
	if len(s) > manifests.MaxMessageLength {
		t.Errorf("%s is %d bytes, over %d", what, len(s), manifests.MaxMessageLength)
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		t.Errorf("%s has a control character at %d: %q", what, i, s)
	}
}
