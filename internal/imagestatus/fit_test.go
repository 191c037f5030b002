package imagestatus

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

func TestFitStatus(t *testing.T) {
	long := strings.Repeat("é", 5000) // 10,000 bytes, two per character
	huge := func() *imagesv1alpha1.ImageConfigStatus {
		st := &imagesv1alpha1.ImageConfigStatus{Config: &imagesv1alpha1.ImageBuildConfig{Labels: map[string]string{}}}
		for i := range 300 {
			st.Platforms = append(st.Platforms, imagesv1alpha1.IndexEntry{Digest: fmt.Sprint(i)})
			st.Layers = append(st.Layers, imagesv1alpha1.Layer{Digest: fmt.Sprint(i), CreatedBy: long, Comment: long})
			st.Config.Env = append(st.Config.Env, fmt.Sprintf("V%d=%s", i, long))
			st.Config.Labels[fmt.Sprintf("l%03d", i)] = long
		}
		return st
	}
	tests := []struct {
		name      string
		status    *imagesv1alpha1.ImageConfigStatus
		wantNotes []string
	}{
		{"a normal image is left alone", &imagesv1alpha1.ImageConfigStatus{
			Layers: []imagesv1alpha1.Layer{{Digest: "a", CreatedBy: "RUN make"}},
			Config: &imagesv1alpha1.ImageBuildConfig{Env: []string{"A=1"}, Labels: map[string]string{"a": "b"}},
		}, nil},
		{"a huge image is cut to fit", huge(), []string{"platforms: kept the first 128 of 300", "layers: kept the first 256 of 300", "config.env: kept the first 256 of 300", "config.labels: kept the first 256 of 300", "values were cut"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(tt.status)
			note := Fit(tt.status)
			after, _ := json.Marshal(tt.status)
			if tt.wantNotes == nil {
				if note != "" || string(before) != string(after) {
					t.Errorf("changed a status that fits: note %q", note)
				}
				return
			}
			for _, w := range tt.wantNotes {
				if !strings.Contains(note, w) {
					t.Errorf("note %q lacks %q", note, w)
				}
			}
			if len(after) > imagesv1alpha1.MaxStatusBytes {
				t.Errorf("status is %d bytes, over %d", len(after), imagesv1alpha1.MaxStatusBytes)
			}
			if !utf8.Valid(after) {
				t.Errorf("cutting split a character")
			}
			if _, ok := tt.status.Config.Labels["l000"]; !ok {
				t.Errorf("labels were not kept by name order")
			}
		})
	}
}

// TestJSONSize: Fit's size is the length json.Marshal would return, escapes
// of HTML characters and non-ASCII text included.
func TestJSONSize(t *testing.T) {
	for _, st := range []*imagesv1alpha1.ImageConfigStatus{
		{},
		{Digest: "sha256:" + strings.Repeat("a", 64), Config: &imagesv1alpha1.ImageBuildConfig{
			Env:    []string{"A=<b>&amp;</b>", "NAME=Zürich ✓", "CTRL=\x01\t"},
			Labels: map[string]string{"org.opencontainers.image.title": "a \"quoted\" <title>"},
		}},
	} {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		n, err := jsonSize(st)
		if err != nil || n != len(b) {
			t.Errorf("jsonSize = %d, %v; len(json.Marshal) = %d", n, err, len(b))
		}
	}
}
