package compare_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/compare"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

const (
	d1 = "sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	d2 = "sha256:cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"
)

func layer(id string, size int64, createdBy string) manifests.Layer {
	return manifests.Layer{Digest: "sha256:blob-" + id, DiffID: "sha256:diff-" + id, Size: size, CreatedBy: createdBy}
}

// image is a small nginx-like image; edit changes a copy of it.
func image(edit func(s *manifests.Summary)) *manifests.Result {
	s := manifests.Summary{
		Digest: d1, ManifestDigest: "sha256:m1", ConfigDigest: "sha256:c1",
		Config: &manifests.BuildConfig{
			OS: "linux", Architecture: "amd64",
			Env:        []string{"PATH=/usr/bin", "NGINX_VERSION=1.27.2"},
			Entrypoint: []string{"/docker-entrypoint.sh"},
			Cmd:        []string{"nginx", "-g", "daemon off;"},
			User:       "", WorkingDir: "/",
			ExposedPorts: []string{"80/tcp"},
			Volumes:      []string{"/cache"},
			Labels:       map[string]string{"maintainer": "nginx", "version": "1"},
			StopSignal:   "SIGQUIT",
		},
		Layers:    []manifests.Layer{layer("base", 28_000_000, "ADD rootfs"), layer("nginx", 40_000_000, "RUN install nginx"), layer("conf", 1_000, "COPY nginx.conf")},
		BaseImage: &manifests.BaseImage{Name: "debian:bookworm-slim", Digest: "sha256:b1"},
	}
	if edit != nil {
		edit(&s)
	}
	return &manifests.Result{Summary: s}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *manifests.Summary)
		want compare.Change
		line string
	}{
		{name: "same image", want: compare.Change{}, line: "no change"},
		{
			name: "env by name",
			edit: func(s *manifests.Summary) {
				s.Config.Env = []string{"NGINX_VERSION=1.27.3", "NJS=0.8", "PATH=/usr/bin"}
			},
			want: compare.Change{Env: &compare.MapChange{
				Added:   []compare.KeyValue{{Key: "NJS", Value: "0.8"}},
				Changed: []compare.KeyChange{{Key: "NGINX_VERSION", Before: "1.27.2", After: "1.27.3"}},
			}},
			line: "env NGINX_VERSION 1.27.2 → 1.27.3, env +NJS=0.8",
		},
		{
			name: "labels by key",
			edit: func(s *manifests.Summary) { s.Config.Labels = map[string]string{"version": "2", "vendor": "x"} },
			want: compare.Change{Labels: &compare.MapChange{
				Added:   []compare.KeyValue{{Key: "vendor", Value: "x"}},
				Removed: []compare.KeyValue{{Key: "maintainer", Value: "nginx"}},
				Changed: []compare.KeyChange{{Key: "version", Before: "1", After: "2"}},
			}},
			line: "label version 1 → 2, label +vendor=x, label -maintainer",
		},
		{
			name: "entrypoint and cmd as lists",
			edit: func(s *manifests.Summary) {
				s.Config.Entrypoint = nil
				s.Config.Cmd = []string{"nginx-debug"}
			},
			want: compare.Change{
				Entrypoint: &compare.ListChange{Before: []string{"/docker-entrypoint.sh"}},
				Cmd:        &compare.ListChange{Before: []string{"nginx", "-g", "daemon off;"}, After: []string{"nginx-debug"}},
			},
			line: `entrypoint "/docker-entrypoint.sh" → "", cmd "nginx -g daemon off;" → "nginx-debug"`,
		},
		{
			name: "user, working dir, stop signal and platform",
			edit: func(s *manifests.Summary) {
				c := s.Config
				c.User, c.WorkingDir, c.StopSignal, c.Architecture, c.Variant = "101", "/srv", "SIGTERM", "arm64", "v8"
			},
			want: compare.Change{
				User: &compare.StringChange{After: "101"}, WorkingDir: &compare.StringChange{Before: "/", After: "/srv"},
				StopSignal:   &compare.StringChange{Before: "SIGQUIT", After: "SIGTERM"},
				Architecture: &compare.StringChange{Before: "amd64", After: "arm64"}, Variant: &compare.StringChange{After: "v8"},
			},
			line: "user (none) → 101, workdir / → /srv, stop signal SIGQUIT → SIGTERM, architecture amd64 → arm64, variant (none) → v8",
		},
		{
			name: "ports and volumes as sets",
			edit: func(s *manifests.Summary) {
				s.Config.ExposedPorts = []string{"443/tcp", "80/tcp"}
				s.Config.Volumes = nil
			},
			want: compare.Change{
				ExposedPorts: &compare.SetChange{Added: []string{"443/tcp"}},
				Volumes:      &compare.SetChange{Removed: []string{"/cache"}},
			},
			line: "ports +443/tcp, volumes -/cache",
		},
		{
			name: "digests",
			edit: func(s *manifests.Summary) { s.Digest, s.ManifestDigest, s.ConfigDigest = d2, "sha256:m2", "sha256:c2" },
			want: compare.Change{
				Digest:         &compare.StringChange{Before: d1, After: d2},
				ManifestDigest: &compare.StringChange{Before: "sha256:m1", After: "sha256:m2"},
				ConfigDigest:   &compare.StringChange{Before: "sha256:c1", After: "sha256:c2"},
			},
			line: "same config fields and layers",
		},
		{
			name: "same base, new tail",
			edit: func(s *manifests.Summary) {
				s.Layers = []manifests.Layer{s.Layers[0], s.Layers[1], layer("conf2", 2_101_000, "COPY nginx.conf")}
			},
			want: compare.Change{Layers: &compare.LayerChange{
				Kind: compare.LayersTailReplaced, KeptCount: 2, KeptSize: 68_000_000,
				Removed:    []compare.LayerRef{{DiffID: "sha256:diff-conf", Digest: "sha256:blob-conf", Size: 1_000, CreatedBy: "COPY nginx.conf"}},
				Added:      []compare.LayerRef{{DiffID: "sha256:diff-conf2", Digest: "sha256:blob-conf2", Size: 2_101_000, CreatedBy: "COPY nginx.conf"}},
				SizeChange: 2_100_000,
			}},
			line: "base unchanged, 1 layer replaced (+2.0 MiB)",
		},
		{
			name: "rebuilt base: the first layer changed",
			edit: func(s *manifests.Summary) {
				s.Layers = []manifests.Layer{layer("base2", 29_000_000, "ADD rootfs"), s.Layers[1], s.Layers[2]}
				s.BaseImage = &manifests.BaseImage{Name: "debian:bookworm-slim", Digest: "sha256:b2"}
			},
			want: compare.Change{
				Layers: &compare.LayerChange{
					Kind:       compare.LayersRebuilt,
					Removed:    []compare.LayerRef{{DiffID: "sha256:diff-base", Digest: "sha256:blob-base", Size: 28_000_000, CreatedBy: "ADD rootfs"}, {DiffID: "sha256:diff-nginx", Digest: "sha256:blob-nginx", Size: 40_000_000, CreatedBy: "RUN install nginx"}, {DiffID: "sha256:diff-conf", Digest: "sha256:blob-conf", Size: 1_000, CreatedBy: "COPY nginx.conf"}},
					Added:      []compare.LayerRef{{DiffID: "sha256:diff-base2", Digest: "sha256:blob-base2", Size: 29_000_000, CreatedBy: "ADD rootfs"}, {DiffID: "sha256:diff-nginx", Digest: "sha256:blob-nginx", Size: 40_000_000, CreatedBy: "RUN install nginx"}, {DiffID: "sha256:diff-conf", Digest: "sha256:blob-conf", Size: 1_000, CreatedBy: "COPY nginx.conf"}},
					SizeChange: 1_000_000,
				},
				BaseImage: &compare.BaseImageChange{
					Before: &manifests.BaseImage{Name: "debian:bookworm-slim", Digest: "sha256:b1"},
					After:  &manifests.BaseImage{Name: "debian:bookworm-slim", Digest: "sha256:b2"},
				},
			},
			line: "base debian:bookworm-slim@sha256:b1 → debian:bookworm-slim@sha256:b2, base rebuilt: all 3 layers replaced by 3 (+976.6 KiB)",
		},
		{
			name: "layers appended",
			edit: func(s *manifests.Summary) { s.Layers = append(s.Layers, layer("extra", 500, "RUN touch x")) },
			want: compare.Change{Layers: &compare.LayerChange{
				Kind: compare.LayersAppended, KeptCount: 3, KeptSize: 68_001_000,
				Added: []compare.LayerRef{{DiffID: "sha256:diff-extra", Digest: "sha256:blob-extra", Size: 500, CreatedBy: "RUN touch x"}}, SizeChange: 500,
			}},
			line: "base unchanged, 1 layer added (+500 B)",
		},
		{
			name: "a layer identified by digest when its diffID is unknown",
			edit: func(s *manifests.Summary) {
				for i := range s.Layers {
					s.Layers[i].DiffID = ""
				}
			},
			want: compare.Change{Layers: &compare.LayerChange{
				Kind:       compare.LayersRebuilt,
				Removed:    []compare.LayerRef{{DiffID: "sha256:diff-base", Digest: "sha256:blob-base", Size: 28_000_000, CreatedBy: "ADD rootfs"}, {DiffID: "sha256:diff-nginx", Digest: "sha256:blob-nginx", Size: 40_000_000, CreatedBy: "RUN install nginx"}, {DiffID: "sha256:diff-conf", Digest: "sha256:blob-conf", Size: 1_000, CreatedBy: "COPY nginx.conf"}},
				Added:      []compare.LayerRef{{Digest: "sha256:blob-base", Size: 28_000_000, CreatedBy: "ADD rootfs"}, {Digest: "sha256:blob-nginx", Size: 40_000_000, CreatedBy: "RUN install nginx"}, {Digest: "sha256:blob-conf", Size: 1_000, CreatedBy: "COPY nginx.conf"}},
				SizeChange: 0,
			}},
			line: "base rebuilt: all 3 layers replaced by 3 (+0 B)",
		},
		{
			name: "base image declared",
			edit: func(s *manifests.Summary) { s.BaseImage = nil },
			want: compare.Change{BaseImage: &compare.BaseImageChange{Before: &manifests.BaseImage{Name: "debian:bookworm-slim", Digest: "sha256:b1"}}},
			line: "base debian:bookworm-slim@sha256:b1 → (none)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := image(nil), image(tt.edit)
			got := compare.Compare(a, b)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Compare (-want +got):\n%s", diff)
			}
			if s := got.Summary(); s != tt.line {
				t.Errorf("Summary = %q\nwant      %q", s, tt.line)
			}
			if diff := cmp.Diff(got.Reverse(), compare.Compare(b, a)); diff != "" {
				t.Errorf("Compare(b, a) is not the reverse of Compare(a, b) (-reverse +Compare(b, a)):\n%s", diff)
			}
		})
	}
}

func TestLine(t *testing.T) {
	a := image(nil)
	b := image(func(s *manifests.Summary) {
		s.Digest = d2
		s.Config.Env = []string{"PATH=/usr/bin", "NGINX_VERSION=1.27.3"}
		s.Layers = []manifests.Layer{s.Layers[0], s.Layers[1], layer("conf2", 2_101_000, "COPY nginx.conf")}
	})
	got := compare.Line("tag 1.27", compare.Compare(a, b))
	want := "tag 1.27 moved sha256:ab12ab12ab12 → sha256:cd34cd34cd34: base unchanged, 1 layer replaced (+2.0 MiB), env NGINX_VERSION 1.27.2 → 1.27.3"
	if got != want {
		t.Errorf("Line =\n%q\nwant\n%q", got, want)
	}

	// Hundreds of changed variables, some with newlines: still one line within the bound.
	c := image(func(s *manifests.Summary) {
		s.Digest = d2
		for i := range 500 {
			s.Config.Env = append(s.Config.Env, "V"+strings.Repeat("x", i)+"=a\nb")
		}
	})
	long := compare.Line("tag 1.27", compare.Compare(a, c))
	if len(long) > compare.MaxLineLength || strings.Contains(long, "\n") || !strings.Contains(long, "and 497 more") {
		t.Errorf("long line: %d bytes, %q", len(long), long)
	}
}

func TestBound(t *testing.T) {
	a := image(nil)
	b := image(func(s *manifests.Summary) {
		s.Layers = nil
		for i := range 10 {
			s.Layers = append(s.Layers, layer(strings.Repeat("n", i+1), 10, "RUN "+strings.Repeat("y", 100)))
		}
		s.Config.Labels = map[string]string{"big": strings.Repeat("z", 100)}
	})
	c := compare.Compare(a, b)
	got, note := c.Bound(4, 20)

	var added []compare.LayerRef
	for i := range 4 {
		id := strings.Repeat("n", i+1)
		added = append(added, compare.LayerRef{DiffID: "sha256:diff-" + id, Digest: "sha256:blob-" + id, Size: 10, CreatedBy: "RUN " + strings.Repeat("y", 13) + "…"})
	}
	want := compare.Change{
		Labels: &compare.MapChange{
			Added:   []compare.KeyValue{{Key: "big", Value: strings.Repeat("z", 17) + "…"}},
			Removed: []compare.KeyValue{{Key: "maintainer", Value: "nginx"}, {Key: "version", Value: "1"}},
		},
		Layers: &compare.LayerChange{
			Kind: compare.LayersRebuilt,
			Removed: []compare.LayerRef{
				{DiffID: "sha256:diff-base", Digest: "sha256:blob-base", Size: 28_000_000, CreatedBy: "ADD rootfs"},
				{DiffID: "sha256:diff-nginx", Digest: "sha256:blob-nginx", Size: 40_000_000, CreatedBy: "RUN install nginx"},
				{DiffID: "sha256:diff-conf", Digest: "sha256:blob-conf", Size: 1_000, CreatedBy: "COPY nginx.conf"},
			},
			Added:      added,
			SizeChange: 100 - 68_001_000,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Bound(4, 20) (-want +got):\n%s", diff)
	}
	if want := "layers.added: 4 of 10 kept; values cut to 20 bytes"; note != want {
		t.Errorf("note = %q, want %q", note, want)
	}
	if diff := cmp.Diff(compare.Compare(a, b), c); diff != "" {
		t.Errorf("Bound changed its receiver (-before +after):\n%s", diff)
	}
	unbounded, note := c.Bound(100, 1000)
	if diff := cmp.Diff(c, unbounded); diff != "" || note != "" {
		t.Errorf("nothing to cut, note %q, changed (-want +got):\n%s", note, diff)
	}
}
