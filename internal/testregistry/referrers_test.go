package testregistry_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestNoReferrersAPI: the referrers API answers with an index, or with 404 under
// NoReferrersAPI; then Write of an image with a subject maintains the
// tag-schema fallback, as go-containerregistry does on such registries.
func TestNoReferrersAPI(t *testing.T) {
	for _, tc := range []struct {
		name         string
		noAPI        bool
		wantAPI      int
		wantFallback int
	}{
		{"referrers API", false, http.StatusOK, http.StatusNotFound},
		{"no referrers API", true, http.StatusNotFound, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{NoReferrersAPI: tc.noAPI})
			img := testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"app"}})
			d := reg.PushImage(t, "r", "1", img)
			reg.Write(t, "r", "", testregistry.SBOMReferrer(t, testregistry.DescriptorOf(t, img), nil))
			get := func(path string) int {
				resp, err := reg.Client().Get(reg.URL() + path)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := get("/v2/r/referrers/" + d.String()); got != tc.wantAPI {
				t.Errorf("referrers API: %d, want %d", got, tc.wantAPI)
			}
			if got := get("/v2/r/manifests/" + testregistry.CosignTag(d, "")); got != tc.wantFallback {
				t.Errorf("fallback tag: %d, want %d", got, tc.wantFallback)
			}
		})
	}
}
