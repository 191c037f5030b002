package main

import (
	"strings"
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/refregistry"
)

// TestPlainHTTP uses the reference registry's plain-HTTP set-up: --insecure is
// required, and without it nothing is sent over plain HTTP.
func TestPlainHTTP(t *testing.T) {
	reg := refregistry.Start(t, refregistry.Options{Mode: refregistry.PlainHTTP})
	idx, _ := testregistry.MultiArch(t)
	reg.Push(t, "public/app", "1", idx)
	ref := reg.Host() + "/public/app:1"

	if r := imageconfig(t, "digest", "--insecure", ref); r.code != 0 || !strings.HasPrefix(r.stdout, "sha256:") {
		t.Errorf("--insecure: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	reg.Log().Reset()
	r := imageconfig(t, "digest", ref)
	want := "imageconfig: Unsupported: registry " + reg.Host() + " answers plain HTTP, not HTTPS; pass --insecure to allow plain HTTP\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("without --insecure: exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
	}
	for _, req := range reg.Log().Requests() {
		if req.Path != "/v2/" {
			t.Errorf("a request went out over plain HTTP without --insecure: %v", req)
		}
	}
}
