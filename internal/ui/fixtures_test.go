package ui_test

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// now is the fixed clock of every page test.
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-d)} }

// fakeSource serves fixed items.
type fakeSource struct{ items []ui.Item }

func (s fakeSource) List(context.Context) ([]ui.Item, error) { return s.items, nil }

func (s fakeSource) Get(_ context.Context, ns, name string) (*ui.Item, error) {
	for i := range s.items {
		if o := s.items[i].Object; o.Namespace == ns && o.Name == name {
			return &s.items[i], nil
		}
	}
	return nil, fmt.Errorf("imageconfig %s/%s: %w", ns, name, ui.ErrNotFound)
}

func digest(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return "sha256:" + string(b)
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Time{Time: now.Add(-10 * time.Minute)}}
}

func readyObject(ns, name string) imagesv1alpha1.ImageConfig {
	return imagesv1alpha1.ImageConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec: imagesv1alpha1.ImageConfigSpec{Registry: "registry-1.docker.io", Repository: "nginx", Tag: "1.27",
			Platform: imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "arm64"}},
		Status: imagesv1alpha1.ImageConfigStatus{
			ObservedGeneration: 1,
			RequestedImageRef:  "index.docker.io/library/nginx:1.27", RequestedPlatform: "linux/arm64/v8",
			Conditions: []metav1.Condition{
				cond("Ready", metav1.ConditionTrue, "Resolved", "Resolved index.docker.io/library/nginx:1.27 to "+digest('a')+" for linux/arm64/v8"),
				cond("BaseImageOutdated", metav1.ConditionTrue, "BaseMoved", "Base docker.io/library/debian:bookworm-slim moved from "+digest('f')+" to "+digest('0')+"; first seen 2026-12-01T11:50:00Z"),
			},
			ImageRef: "index.docker.io/library/nginx:1.27", Digest: digest('a'), MediaType: "application/vnd.oci.image.index.v1+json",
			ManifestDigest: digest('b'), ConfigDigest: digest('c'), Platform: "linux/arm64/v8",
			Platforms: []imagesv1alpha1.IndexEntry{
				{OS: "linux", Architecture: "amd64", Digest: digest('d'), Size: 1234, MediaType: "application/vnd.oci.image.manifest.v1+json"},
				{OS: "linux", Architecture: "arm64", Variant: "v8", Digest: digest('b'), Size: 1235, MediaType: "application/vnd.oci.image.manifest.v1+json"},
				{OS: "unknown", Architecture: "unknown", Digest: digest('e'), Size: 566, MediaType: "application/vnd.oci.image.manifest.v1+json", Attestation: true},
			},
			Config: &imagesv1alpha1.ImageBuildConfig{
				Created: ago(72 * time.Hour), OS: "linux", Architecture: "arm64", Variant: "v8",
				Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.3"},
				Entrypoint:   []string{"/docker-entrypoint.sh"},
				Cmd:          []string{"nginx", "-g", "daemon off;"},
				ExposedPorts: []string{"80/tcp"},
				Labels:       map[string]string{"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
				StopSignal:   "SIGQUIT",
			},
			Layers: []imagesv1alpha1.Layer{
				{Digest: digest('1'), Size: 28 << 20, CreatedBy: "# debian.sh --arch 'arm64' out/ 'bookworm' '@1734912000'", Comment: "debuerreotype 0.15"},
				{Digest: digest('2'), Size: 40 << 20, CreatedBy: "RUN /bin/sh -c set -x && apt-get update && apt-get install -y nginx # buildkit"},
				{Digest: digest('3'), Size: 628, CreatedBy: "COPY docker-entrypoint.sh / # buildkit"},
			},
			LayerCount: 3, TotalSize: 28<<20 + 40<<20 + 628,
			AuthSource: "anonymous",
			LastChange: &imagesv1alpha1.ImageChange{From: digest('9'), To: digest('a'), Time: *ago(49 * time.Hour),
				Summary: "tag 1.27 moved sha256:9999… → sha256:aaaa…: base unchanged, 1 layer replaced (+2.1 MB), env NGINX_VERSION 1.27.2 → 1.27.3"},
			BaseImage: &imagesv1alpha1.BaseImageStatus{Name: "docker.io/library/debian:bookworm-slim", Digest: digest('f'), CurrentDigest: digest('0')},
			Referrers: &imagesv1alpha1.ReferrersStatus{Digest: digest('a'), Signed: true, LastListedTime: ago(30 * time.Minute), Entries: []imagesv1alpha1.Referrer{
				{Digest: digest('5'), ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Kind: "signature", Format: "cosign", Source: "cosignTag"},
				{Digest: digest('6'), ArtifactType: "application/spdx+json", Kind: "sbom", Format: "spdx", Source: "referrersAPI"},
			}},
			LastCheckedTime: ago(5 * time.Minute), LastChangedTime: ago(49 * time.Hour),
		},
	}
}

func stalledObject(ns, name string) imagesv1alpha1.ImageConfig {
	msg := "manifest unknown: 127.0.0.1:5001/demo/hello:nope not found"
	return imagesv1alpha1.ImageConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec:       imagesv1alpha1.ImageConfigSpec{Registry: "127.0.0.1:5001", Repository: "demo/hello", Tag: "nope", Insecure: true},
		Status: imagesv1alpha1.ImageConfigStatus{
			RequestedImageRef: "127.0.0.1:5001/demo/hello:nope", RequestedPlatform: "linux/amd64",
			Conditions: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "NotFound", msg),
				cond("Stalled", metav1.ConditionTrue, "NotFound", msg),
			},
			LastCheckedTime: ago(2 * time.Minute),
		},
	}
}

func retryingObject(ns, name string) imagesv1alpha1.ImageConfig {
	msg := "registry ghcr.io is unavailable: 503 Service Unavailable"
	return imagesv1alpha1.ImageConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
		Spec:       imagesv1alpha1.ImageConfigSpec{Registry: "ghcr.io", Repository: "org/app", Tag: "v1"},
		Status: imagesv1alpha1.ImageConfigStatus{
			RequestedImageRef: "ghcr.io/org/app:v1", RequestedPlatform: "linux/amd64",
			Conditions: []metav1.Condition{
				cond("Ready", metav1.ConditionFalse, "Unavailable", msg),
				cond("Reconciling", metav1.ConditionTrue, "Progressing", "Retrying: "+msg),
			},
		},
	}
}

// hostile is what an attacker controlling a registry can put into the status.
const (
	scriptPayload = `<script>window.__pwned=1;alert(1)</script>`
	imgPayload    = `"><img src=x onerror="window.__pwned=1;alert(2)">`
	jsURL         = `javascript:window.__pwned=1;alert(3)`
	controlChars  = "\x1b[31mred\x1b[0m\u202egnp.exe\x00\r"
)

func hostileObject(ns, name string) imagesv1alpha1.ImageConfig {
	obj := readyObject(ns, name)
	st := &obj.Status
	st.Digest = "sha256:" + imgPayload
	st.ManifestDigest = jsURL
	st.Platforms[0].Digest = jsURL
	st.Platforms[1].Variant = scriptPayload
	st.Platforms[2].OS = imgPayload
	st.Config.Labels = map[string]string{
		"org.opencontainers.image.url": jsURL,
		"evil":                         scriptPayload + imgPayload,
		scriptPayload:                  controlChars,
	}
	st.Config.Env = append(st.Config.Env, "EVIL="+scriptPayload+imgPayload+controlChars, "URL="+jsURL)
	st.Config.User = imgPayload
	st.Config.Cmd = []string{scriptPayload, jsURL}
	st.Layers[1].CreatedBy = "/bin/sh -c " + scriptPayload + imgPayload + controlChars
	st.Layers[2].Digest = jsURL
	st.Conditions[0].Message = "Resolved " + scriptPayload
	st.BaseImage = &imagesv1alpha1.BaseImageStatus{Name: jsURL + imgPayload, Digest: scriptPayload, CurrentDigest: jsURL + controlChars}
	st.Conditions[1].Message = "Base " + imgPayload + " moved " + scriptPayload + controlChars
	st.Conditions[1].Reason = scriptPayload
	st.Referrers.Entries = append(st.Referrers.Entries, imagesv1alpha1.Referrer{
		Digest: jsURL, ArtifactType: scriptPayload + controlChars, Kind: imgPayload, Format: jsURL, Source: scriptPayload})
	st.Referrers.Digest = imgPayload
	st.LastChange.Summary = scriptPayload + controlChars
	st.LastChange.From = imgPayload
	return obj
}

// currentUnsignedObject is readyObject on a current base, with nothing signed attached.
func currentUnsignedObject(ns, name string) imagesv1alpha1.ImageConfig {
	obj := readyObject(ns, name)
	st := &obj.Status
	st.Conditions[1] = cond("BaseImageOutdated", metav1.ConditionFalse, "BaseCurrent", "Built on the current image of docker.io/library/debian:bookworm-slim ("+digest('f')+")")
	st.BaseImage.CurrentDigest = st.BaseImage.Digest
	st.Referrers = &imagesv1alpha1.ReferrersStatus{Digest: st.Digest, LastListedTime: ago(time.Hour)}
	return obj
}

func fleet() []ui.Item {
	return []ui.Item{
		{Object: readyObject("web", "nginx")},
		{Object: currentUnsignedObject("shop", "nginx-copy")},
		{Object: stalledObject("web", "missing")},
		{Object: retryingObject("shop", "app")},
	}
}
