package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/supplychain"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

func TestBaseCommand(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	baseName := reg.Host() + "/lib/base:1"
	baseImg := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"os 1"}})
	based := reg.PushImage(t, "lib/base", "1", baseImg).String()
	app := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"os 1", "app"}})
	reg.PushImage(t, "team/app", "1", mutate.Annotations(app, map[string]string{
		manifests.BaseNameAnnotation: baseName, manifests.BaseDigestAnnotation: based,
	}).(v1.Image))
	reg.PushImage(t, "team/plain", "1", app)
	ref := reg.Host() + "/team/app:1"

	base := func(t *testing.T, args ...string) supplychain.BaseCheck {
		t.Helper()
		r := imageconfig(t, append([]string{"base", "--insecure", "-o", "json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var got supplychain.BaseCheck
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v:\n%s", err, r.stdout)
		}
		for _, k := range []string{`"name"`, `"currentDigest"`, `"outdated"`} {
			if !strings.Contains(r.stdout, k) {
				t.Errorf("output lacks %s:\n%s", k, r.stdout)
			}
		}
		return got
	}

	t.Run("current base from the annotations", func(t *testing.T) {
		want := supplychain.BaseCheck{Name: baseName, Digest: based, CurrentDigest: based}
		if diff := cmp.Diff(want, base(t, ref)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("--base compares layers", func(t *testing.T) {
		want := supplychain.BaseCheck{Name: baseName, CurrentDigest: based}
		if diff := cmp.Diff(want, base(t, reg.Host()+"/team/plain:1", "--base", baseName)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("no base declared", func(t *testing.T) {
		r := imageconfig(t, "base", "--insecure", reg.Host()+"/team/plain:1")
		if r.code != 1 || !strings.Contains(r.stderr, "declares no base image") || !strings.Contains(r.stderr, "--base") {
			t.Errorf("exit %d, stderr %q; want 1 and a hint at --base", r.code, r.stderr)
		}
	})
	t.Run("bad --base: usage error, no request", func(t *testing.T) {
		reg.Log().Reset()
		r := imageconfig(t, "base", "--insecure", ref, "--base", "UPPER/case:1")
		if r.code != 2 || !strings.Contains(r.stderr, "--base") {
			t.Errorf("exit %d, stderr %q; want 2 naming --base", r.code, r.stderr)
		}
		if n := len(reg.Log().Requests()); n != 0 {
			t.Errorf("%d requests were made", n)
		}
	})
	t.Run("moved base: outdated, table", func(t *testing.T) {
		moved := reg.PushImage(t, "lib/base", "1", testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"os 2"}})).String()
		want := supplychain.BaseCheck{Name: baseName, Digest: based, CurrentDigest: moved, Outdated: true, Reason: supplychain.ReasonBaseMoved,
			Message: "base " + baseName + " moved: the image was built on " + based + ", the tag now points to " + moved}
		if diff := cmp.Diff(want, base(t, ref)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		r := imageconfig(t, "base", "--insecure", ref)
		for _, want := range []string{"BASE      " + baseName, "RECORDED  " + based, "CURRENT   " + moved, "OUTDATED  true", "REASON    BaseMoved"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.stdout)
			}
		}
	})
}

func TestReferrersCommand(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{NoReferrersAPI: true})
	img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"app"}})
	d := reg.PushImage(t, "team/signed", "1", img)
	sig := reg.PushImage(t, "team/signed", testregistry.CosignTag(d, ".sig"), testregistry.CosignSignature(t, "team/signed", d))
	sbom := reg.Write(t, "team/signed", "", testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), nil))
	ref := reg.Host() + "/team/signed:1"

	r := imageconfig(t, "referrers", "--insecure", ref, "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got supplychain.Referrers
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	var kinds []string
	for _, e := range got.Entries {
		kinds = append(kinds, e.Kind+"/"+e.Format+"/"+e.Source+"/"+e.Digest)
	}
	want := []string{
		"signature/cosign/cosignTag/" + sig.String(),
		"sbom/spdx/tagSchema/" + sbom.String(),
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	r = imageconfig(t, "referrers", "--insecure", ref)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "KIND       FORMAT  SOURCE     DIGEST") || !strings.Contains(r.stdout, "signature  cosign  cosignTag  "+sig.String()) {
		t.Errorf("exit %d, table:\n%s", r.code, r.stdout)
	}
	if r := imageconfig(t, "referrers", "--insecure", ref, "-o", "yaml"); r.code != 0 || !strings.Contains(r.stdout, "kind: sbom") {
		t.Errorf("exit %d, yaml:\n%s", r.code, r.stdout)
	}
	for _, cmd := range []string{"base", "referrers"} {
		h := imageconfig(t, cmd, "--help")
		for _, flag := range []string{"--insecure", "--platform string", "--username string", "--docker-config string", "-o, --output string"} {
			if !strings.Contains(h.stdout, flag) {
				t.Errorf("%s --help lacks %s", cmd, flag)
			}
		}
	}
}
