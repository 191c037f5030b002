package v1alpha1_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// TestStatusLimitsMatchCRD checks the generated CRD's list bounds under status
// against the constants of limits.go: every bounded list or map is listed here
// with its constant, and every list of status.lastChange is bounded by
// MaxChangeItems. A marker edited without its constant, or the other way round,
// fails here.
func TestStatusLimitsMatchCRD(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "images.imageconfig.dev_imageconfigs.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatalf("parse the CRD: %v", err)
	}
	var status *apiextensionsv1.JSONSchemaProps
	for _, v := range crd.Spec.Versions {
		if v.Name == imagesv1alpha1.GroupVersion.Version {
			s := v.Schema.OpenAPIV3Schema.Properties["status"]
			status = &s
		}
	}
	if status == nil {
		t.Fatalf("the CRD has no %s status schema", imagesv1alpha1.GroupVersion.Version)
	}

	got := map[string]int64{}
	walk("status", status, got)
	want := map[string]int64{
		"status.platforms":           imagesv1alpha1.MaxPlatforms,
		"status.layers":              imagesv1alpha1.MaxLayers,
		"status.config.env":          imagesv1alpha1.MaxEnv,
		"status.config.entrypoint":   imagesv1alpha1.MaxEntrypoint,
		"status.config.cmd":          imagesv1alpha1.MaxCmd,
		"status.config.exposedPorts": imagesv1alpha1.MaxPorts,
		"status.config.volumes":      imagesv1alpha1.MaxVolumes,
		"status.config.labels":       imagesv1alpha1.MaxLabels,
		"status.files.layers":        imagesv1alpha1.MaxFileLayers,
		"status.files.findings":      imagesv1alpha1.MaxFindingKinds,
		"status.files.examples":      imagesv1alpha1.MaxFileExamples,
		"status.referrers.entries":   imagesv1alpha1.MaxReferrers,
	}
	changeLists := 0
	for path := range got {
		if strings.HasPrefix(path, "status.lastChange.") {
			want[path] = imagesv1alpha1.MaxChangeItems
			changeLists++
		}
	}
	if changeLists < 10 {
		t.Errorf("%d lists under status.lastChange, want the 10 or more of change_types.go: the walk lost its way", changeLists)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRD bounds under status (-limits.go +CRD):\n%s", diff)
	}
}

// walk records the maxItems or maxProperties of every list and map below s,
// and reports an unbounded one as -1 (conditions excepted: metav1.Condition
// lists are bounded by their listMapKey).
func walk(path string, s *apiextensionsv1.JSONSchemaProps, out map[string]int64) {
	switch s.Type {
	case "array":
		if path != "status.conditions" {
			out[path] = bound(s.MaxItems)
		}
		if s.Items != nil && s.Items.Schema != nil {
			walk(path, s.Items.Schema, out)
		}
	case "object":
		if s.AdditionalProperties != nil {
			out[path] = bound(s.MaxProperties)
		}
		for name, p := range s.Properties {
			walk(path+"."+name, &p, out)
		}
	}
}

func bound(n *int64) int64 {
	if n == nil {
		return -1
	}
	return *n
}
