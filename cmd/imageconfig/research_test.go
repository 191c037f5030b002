package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// researchImage has three layers of 200, 6 and 50 bytes with empty-layer steps
// (ENV, CMD) between them, and APP_VERSION in its env.
func researchImage(t *testing.T, app, version string) v1.Image {
	cfg := testregistry.RichConfig()
	cfg.Env = append(cfg.Env, "APP_VERSION="+version)
	return testregistry.Image(t, testregistry.ImageSpec{
		Layers:             []string{"base " + strings.Repeat("b", 195), app, "config " + strings.Repeat("c", 43)},
		EmptyLayersBetween: true,
		Config:             cfg,
	})
}

func TestResearchCommands(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	d1 := reg.PushImage(t, "research/app", "1", researchImage(t, "app v1", "1"))
	d2 := reg.PushImage(t, "research/app", "2", researchImage(t, "app v2, larger", "2"))
	ref1, ref2 := reg.Host()+"/research/app:1", reg.Host()+"/research/app:2"
	bRow := "RUN base " + strings.Repeat("b", 195)
	cRow := "RUN config " + strings.Repeat("c", 43)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "layers in build order with the empty-layer steps",
			args: []string{"layers", ref1, "--insecure"},
			want: `#  SIZE     SHARE  CREATED BY
0  200 B    78.1%  ` + bRow + `
-  (empty)         ENV STEP=1
1  6 B      2.3%   RUN app v1
-  (empty)         CMD ["step-2"]
2  50 B     19.5%  ` + cRow + `
3 layers, 256 B
`,
		},
		{
			name: "--sort size, --truncate",
			args: []string{"layers", ref1, "--insecure", "--sort", "size", "--truncate", "12"},
			want: `#  SIZE     SHARE  CREATED BY
0  200 B    78.1%  RUN base bb…
2  50 B     19.5%  RUN config …
1  6 B      2.3%   RUN app v1
-  (empty)         ENV STEP=1
-  (empty)         CMD ["step-…
3 layers, 256 B
`,
		},
		{
			name: "--top keeps the largest in build order and says what they hold",
			args: []string{"layers", ref1, "--insecure", "--top", "2", "--truncate", "12"},
			want: `#  SIZE   SHARE  CREATED BY
0  200 B  78.1%  RUN base bb…
2  50 B   19.5%  RUN config …
the 2 largest of 3 layers hold 250 B of 256 B (97.7%)
`,
		},
		{
			name: "diff of two tags",
			args: []string{"diff", ref1, ref2, "--insecure"},
			want: `--- ` + ref1 + ` (linux/amd64, ` + short(d1.String()) + `)
+++ ` + ref2 + ` (linux/amd64, ` + short(d2.String()) + `)
base unchanged, 2 layers replaced (+8 B), env APP_VERSION 1 → 2
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := imageconfig(t, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			got := r.stdout
			if strings.HasPrefix(tt.args[0], "diff") {
				// The head of the diff; the blocks below are checked in TestDiffBlocks.
				got = strings.Join(strings.SplitAfterN(got, "\n", 4)[:3], "")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("diff blocks", func(t *testing.T) {
		r := imageconfig(t, "diff", ref1, ref2, "--insecure")
		for _, want := range []string{"digest ", "-  " + d1.String(), "+  " + d2.String(), "env       -  APP_VERSION=1\n          +  APP_VERSION=2\n",
			"layers: TailReplaced; 1 kept (200 B), 2 removed, 2 added, net +8 B", "RUN app v1", "RUN app v2, larger"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("diff lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("diff of two digests", func(t *testing.T) {
		repo := reg.Host() + "/research/app@"
		r := imageconfig(t, "diff", repo+d1.String(), repo+d2.String(), "--insecure", "-o", "json")
		var got struct{ From, To, Summary string }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("exit %d, %v\n%s", r.code, err, r.stderr)
		}
		want := struct{ From, To, Summary string }{d1.String(), d2.String(), "base unchanged, 2 layers replaced (+8 B), env APP_VERSION 1 → 2"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("diff -o json (-want +got):\n%s", diff)
		}
	})

	t.Run("platforms -o json has the status' index entry names", func(t *testing.T) {
		idx, _ := testregistry.MultiArch(t)
		reg.PushIndex(t, "research/plats", "1", idx)
		r := imageconfig(t, "platforms", reg.Host()+"/research/plats:1", "--insecure", "-o", "json")
		var entries []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil || len(entries) != 8 {
			t.Fatalf("%v: %s", err, r.stdout)
		}
		names := jsonNames(reflect.TypeFor[imagesv1alpha1.IndexEntry]())
		for _, e := range entries {
			for k := range e {
				if !slices.Contains(names, k) {
					t.Errorf("platforms -o json: %q is not a field of status.platforms[]", k)
				}
			}
		}
	})

	t.Run("diff of two platforms of one REF", func(t *testing.T) {
		idx, _ := testregistry.MultiArch(t)
		reg.PushIndex(t, "research/multi", "1", idx)
		r := imageconfig(t, "diff", reg.Host()+"/research/multi:1", "--insecure", "--platform", "linux/arm/v7", "--platform2", "linux/arm/v6")
		if r.code != 0 || !strings.Contains(r.stdout, "variant v7 → v6") || !strings.Contains(r.stdout, "env PLATFORM linux/arm/v7 → linux/arm/v6") {
			t.Errorf("exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("-o json keeps the status field names", func(t *testing.T) {
		r := imageconfig(t, "diff", ref1, ref2, "--insecure", "-o", "json")
		var got map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		var change map[string]any
		_ = json.Unmarshal(got["change"], &change)
		lastChange := jsonNames(reflect.TypeFor[imagesv1alpha1.ImageChange]())
		details := jsonNames(reflect.TypeFor[imagesv1alpha1.ImageChangeDetails]())
		for _, k := range []string{"from", "to", "summary", "change"} {
			if _, ok := got[k]; !ok || !slices.Contains(lastChange, k) {
				t.Errorf("diff -o json: %q missing, or not a field of status.lastChange", k)
			}
		}
		for k := range change {
			if !slices.Contains(details, k) {
				t.Errorf("diff -o json: change.%s is not a field of status.lastChange.change", k)
			}
		}
		if len(change) < 4 {
			t.Errorf("change has %d fields: %s", len(change), got["change"])
		}

		r = imageconfig(t, "layers", ref1, "--insecure", "-o", "json")
		var layers struct {
			ImageRef  string           `json:"imageRef"`
			TotalSize int64            `json:"totalSize"`
			History   []map[string]any `json:"history"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &layers); err != nil || layers.ImageRef != ref1 || layers.TotalSize != 256 || len(layers.History) != 5 {
			t.Fatalf("layers -o json: %v\n%s", err, r.stdout)
		}
		statusLayer := jsonNames(reflect.TypeFor[imagesv1alpha1.Layer]())
		for _, k := range []string{"digest", "diffID", "size", "createdBy"} {
			if _, ok := layers.History[0][k]; !ok || !slices.Contains(statusLayer, k) {
				t.Errorf("layers -o json: history[0].%s missing or not a status layer field: %v", k, layers.History[0])
			}
		}
		if diff := cmp.Diff(map[string]any{"createdBy": "ENV STEP=1", "emptyLayer": true, "instruction": "ENV STEP=1", "layer": float64(-1)}, layers.History[1]); diff != "" {
			t.Errorf("history[1] is not the empty ENV step (-want +got):\n%s", diff)
		}

		r = imageconfig(t, "summary", ref1, "--insecure", "-o", "yaml")
		if r.code != 0 || !strings.Contains(r.stdout, "imageRef: "+ref1+"\n") || !strings.Contains(r.stdout, "configDigest: sha256:") {
			t.Errorf("summary -o yaml:\n%s", r.stdout)
		}
	})

	t.Run("summary table", func(t *testing.T) {
		r := imageconfig(t, "summary", ref1, "--insecure")
		for _, want := range []string{"IMAGE        " + ref1 + "\n", "ENV          PATH=", "\n             APP_VERSION=1\n", "LAYERS       3, 256 B"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("summary lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"unknown -o", []string{"summary", ref1, "--insecure", "-o", "xml"}, `-o "xml": want table, json or yaml`},
		{"unknown -o on layers", []string{"layers", ref1, "-o", "wide"}, `-o "wide"`},
		{"two REFs to layers", []string{"layers", ref1, ref2}, "want one REF, got 2 arguments"},
		{"three REFs to diff", []string{"diff", ref1, ref2, ref1}, "want two REFs, got 3 arguments"},
		{"one REF to diff without --platform2", []string{"diff", ref1}, "want two REFs, or one REF with --platform2"},
		{"bad --sort", []string{"layers", ref1, "--sort", "name"}, `--sort "name": want size`},
		{"negative --top", []string{"layers", ref1, "--top", "-1"}, "--top"},
		{"bad --platform2", []string{"diff", ref1, ref2, "--platform2", "linux"}, "--platform2"},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			reg.Log().Reset()
			r := imageconfig(t, tt.args...)
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "imageconfig: ") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", r.code, r.stdout, r.stderr, tt.want)
			}
			if n := len(reg.Log().Requests()); n != 0 {
				t.Errorf("a usage error made %d requests", n)
			}
		})
	}
}

func short(d string) string { return d[:len("sha256:")+12] }

// jsonNames lists the JSON names of t's fields.
func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}
