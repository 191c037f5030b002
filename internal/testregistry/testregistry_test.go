package testregistry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func ref(t *testing.T, r *Registry, repoAndRef string) name.Reference {
	t.Helper()
	var opts []name.Option
	if !strings.HasPrefix(r.URL(), "https://") {
		opts = append(opts, name.Insecure)
	}
	n, err := name.ParseReference(r.Host()+"/"+repoAndRef, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func get(t *testing.T, r *Registry, method, path string, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := r.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not a registry error body: %q (%v)", body, err)
	}
	return e.Errors[0].Code
}

func TestMultiArchTokenFlowIndex(t *testing.T) {
	r := New(t, Options{TokenAuth: true})
	idx, images := MultiArch(t)
	want := r.PushIndex(t, "library/app", "v1", idx)
	if n := len(r.Log().Requests()); n != 0 {
		t.Fatalf("fixture push was logged:\n%s", r.Log())
	}

	got, err := remote.Index(ref(t, r, "library/app:v1"), remote.WithTransport(r.Transport()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := got.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d != want {
		t.Fatalf("index digest = %s, want %s", d, want)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != len(MultiArchPlatforms)+2 {
		t.Fatalf("index has %d entries, want %d", len(im.Manifests), len(MultiArchPlatforms)+2)
	}
	for i, key := range MultiArchPlatforms {
		desc := im.Manifests[i]
		wantDigest, _ := images[key].Digest()
		if desc.Digest != wantDigest {
			t.Errorf("entry %d digest = %s, want %s (%s)", i, desc.Digest, wantDigest, key)
		}
		img, err := got.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if p := cf.Platform(); !p.Equals(*desc.Platform) {
			t.Errorf("%s: config platform %+v != descriptor platform %+v", key, p, desc.Platform)
		}
		if env := cf.Config.Env[len(cf.Config.Env)-1]; env != "PLATFORM="+key {
			t.Errorf("%s: last env = %q", key, env)
		}
	}

	log := r.Log()
	if log.Pings() != 1 || log.Tokens() != 1 {
		t.Errorf("pings=%d tokens=%d, want 1/1:\n%s", log.Pings(), log.Tokens(), log)
	}
	if got, want := log.ManifestGETs(), 1+len(MultiArchPlatforms); got != want {
		t.Errorf("manifest GETs = %d, want %d:\n%s", got, want, log)
	}
	if got, want := log.BlobGETs(), len(MultiArchPlatforms); got != want {
		t.Errorf("blob GETs = %d, want %d:\n%s", got, want, log)
	}
	if got := log.Count("GET", "/v2/*/*/manifests/*"); got != log.ManifestGETs() {
		t.Errorf("Count(GET, /v2/*/*/manifests/*) = %d, want %d", got, log.ManifestGETs())
	}
	if got := log.Count("GET", "/v2/*/manifests/*"); got != 0 {
		t.Errorf("Count(GET, /v2/*/manifests/*) = %d, want 0 ('*' must not cross '/')", got)
	}
	for _, req := range log.Requests() {
		switch req.Path {
		case "/token":
			if !strings.Contains(req.Query, "scope=repository%3Alibrary%2Fapp%3Apull") {
				t.Errorf("token query = %q, want the pull scope", req.Query)
			}
			if req.HasAuth {
				t.Errorf("anonymous token request has auth")
			}
		case "/v2/":
			if req.HasAuth {
				t.Errorf("ping has auth")
			}
		default:
			if !req.HasAuth {
				t.Errorf("%s %s without auth", req.Method, req.Path)
			}
		}
	}
	if s := log.String(); !strings.HasPrefix(s, "GET /v2/\nGET /token\nGET /v2/library/app/manifests/v1\n") {
		t.Errorf("String() =\n%s", s)
	}
	log.Reset()
	if n := len(log.Requests()); n != 0 || log.String() != "" {
		t.Errorf("after Reset: %d requests", n)
	}
}

func TestMultiArchTokenFlowPlatformImage(t *testing.T) {
	r := New(t, Options{TokenAuth: true})
	idx, images := MultiArch(t)
	r.PushIndex(t, "org/team/app", "latest", idx)

	for _, key := range []string{"linux/arm/v7", "windows/amd64"} {
		t.Run(key, func(t *testing.T) {
			r.Log().Reset()
			p, err := v1.ParsePlatform(key)
			if err != nil {
				t.Fatal(err)
			}
			img, err := remote.Image(ref(t, r, "org/team/app:latest"),
				remote.WithTransport(r.Transport()), remote.WithPlatform(*p))
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			wantCF, _ := images[key].ConfigFile()
			if cf.Config.Labels["testregistry.platform"] != key {
				t.Errorf("got config %+v, want the label testregistry.platform=%s", cf, key)
			}
			if diff := cmp.Diff(wantCF.Platform(), cf.Platform()); diff != "" {
				t.Errorf("config platform (-want +got):\n%s", diff)
			}
			log := r.Log()
			want := Counts{Pings: 1, Tokens: 1, ManifestGETs: 2, BlobGETs: 1}
			if diff := cmp.Diff(want, log.Counts(), cmpopts.IgnoreFields(Counts{}, "ManifestHEADs")); diff != "" {
				t.Errorf("want ping, token, 2 manifest GETs and 1 blob GET (-want +got):\n%s\n%s", diff, log)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	r := New(t, Options{TokenAuth: true})
	realm := `Bearer realm="` + r.URL() + `/token",service="testregistry"`
	const dgst = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		method, path, want string
	}{
		{"GET", "/v2/", realm},
		{"GET", "/v2/app/manifests/v1", realm + `,scope="repository:app:pull"`},
		{"HEAD", "/v2/library/app/manifests/" + dgst, realm + `,scope="repository:library/app:pull"`},
		{"GET", "/v2/a/b/c/blobs/" + dgst, realm + `,scope="repository:a/b/c:pull"`},
		{"GET", "/v2/a/b/tags/list", realm + `,scope="repository:a/b:pull"`},
		{"POST", "/v2/a/b/blobs/uploads/", realm + `,scope="repository:a/b:pull,push"`},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			for _, auth := range []string{"", "Bearer not-a-token", "Basic dXNlcjpwYXNz"} {
				hdr := http.Header{}
				if auth != "" {
					hdr.Set("Authorization", auth)
				}
				resp, body := get(t, r, tc.method, tc.path, hdr)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("auth %q: status %d, want 401", auth, resp.StatusCode)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != tc.want {
					t.Errorf("WWW-Authenticate =\n %s\nwant\n %s", got, tc.want)
				}
				if tc.method != "HEAD" && errorCode(t, body) != "UNAUTHORIZED" {
					t.Errorf("body %s", body)
				}
			}
		})
	}

	// A token from the endpoint is accepted.
	resp, body := get(t, r, "GET", "/token?service=testregistry&scope=repository:app:pull", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" || tok.Token != tok.AccessToken || tok.ExpiresIn != 300 {
		t.Fatalf("token body %s (%v)", body, err)
	}
	resp, _ = get(t, r, "GET", "/v2/", http.Header{"Authorization": {"Bearer " + tok.Token}})
	if resp.StatusCode != 200 {
		t.Errorf("ping with token: %d", resp.StatusCode)
	}
	resp, body = get(t, r, "GET", "/v2/app/manifests/v1", http.Header{"Authorization": {"Bearer " + tok.Token}})
	if resp.StatusCode != 404 || errorCode(t, body) == "UNAUTHORIZED" {
		t.Errorf("unknown manifest with token: %d %s", resp.StatusCode, body)
	}
	if got := r.Log().Tokens(); got != 1 {
		t.Errorf("Tokens() = %d", got)
	}
	if q := r.Log().Requests()[len(r.Log().Requests())-3].Query; q != "service=testregistry&scope=repository:app:pull" {
		t.Errorf("token query logged as %q", q)
	}
}

func TestRequireBasic(t *testing.T) {
	r := New(t, Options{TokenAuth: true})
	img := Image(t, ImageSpec{Layers: []string{"layer-1"}, Config: RichConfig()})
	r.PushImage(t, "private/app", "v1", img)
	r.RequireBasic("alice", "s3cret")

	tests := []struct {
		name       string
		user, pass string
		useBasic   bool
		wantStatus int
	}{
		{"anonymous", "", "", false, 401},
		{"wrong password", "alice", "nope", true, 401},
		{"right credentials", "alice", "s3cret", true, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", r.URL()+"/token?service=testregistry&scope=repository:private/app:pull", nil)
			if tc.useBasic {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := r.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
		})
	}

	// Through go-containerregistry.
	_, err := remote.Image(ref(t, r, "private/app:v1"), remote.WithTransport(r.Transport()))
	var terr *transport.Error
	if err == nil || !errors.As(err, &terr) || terr.StatusCode != 401 {
		t.Errorf("anonymous pull: err = %v, want 401", err)
	} else {
		t.Logf("anonymous pull: %v", err)
	}
	got, err := remote.Image(ref(t, r, "private/app:v1"), remote.WithTransport(r.Transport()),
		remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.ConfigFile(); err != nil {
		t.Fatal(err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     http.Header
		wantCode   string
		wantHeader string
	}{
		{"503", http.StatusServiceUnavailable, nil, "UNAVAILABLE", ""},
		{"429 with Retry-After", http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, "TOOMANYREQUESTS", "7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(t, Options{})
			r.PushImage(t, "app", "v1", Image(t, ImageSpec{Layers: []string{"layer-1"}}))
			r.SetFault(FailRequests("GET", "/v2/*/manifests/*", tc.status, 1, tc.header))

			resp, body := get(t, r, "GET", "/v2/app/manifests/v1", nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.wantHeader {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantHeader)
			}
			if got := errorCode(t, body); got != tc.wantCode {
				t.Errorf("code %q, want %q", got, tc.wantCode)
			}
			// Other paths pass, and only the first match failed.
			if resp, _ := get(t, r, "GET", "/v2/", nil); resp.StatusCode != 200 {
				t.Errorf("ping: %d", resp.StatusCode)
			}
			if resp, _ := get(t, r, "GET", "/v2/app/manifests/v1", nil); resp.StatusCode != 200 {
				t.Errorf("second GET: %d", resp.StatusCode)
			}
			// Always-failing fault, then cleared.
			r.SetFault(FailRequests("", "", tc.status, 0, tc.header))
			for range 2 {
				if resp, _ := get(t, r, "HEAD", "/v2/app/manifests/v1", nil); resp.StatusCode != tc.status {
					t.Errorf("HEAD: %d", resp.StatusCode)
				}
			}
			r.SetFault(nil)
			if resp, _ := get(t, r, "HEAD", "/v2/app/manifests/v1", nil); resp.StatusCode != 200 {
				t.Errorf("after clearing: %d", resp.StatusCode)
			}
			if got := r.Log().ManifestGETs() + r.Log().ManifestHEADs(); got != 5 {
				t.Errorf("faulted requests must be logged; got %d manifest requests:\n%s", got, r.Log())
			}
		})
	}

	t.Run("token endpoint and custom fault", func(t *testing.T) {
		r := New(t, Options{TokenAuth: true})
		var seen []string
		r.SetFault(Chain(nil, func(w http.ResponseWriter, req *http.Request) bool {
			seen = append(seen, req.URL.Path)
			if req.URL.Path == "/token" {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
			return false
		}))
		if resp, _ := get(t, r, "GET", "/token?scope=x", nil); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("token: %d", resp.StatusCode)
		}
		if resp, _ := get(t, r, "GET", "/v2/", nil); resp.StatusCode != 401 {
			t.Errorf("ping: %d", resp.StatusCode)
		}
		if fmt.Sprint(seen) != "[/token /v2/]" {
			t.Errorf("fault saw %v", seen)
		}
	})
}

func TestPushRaw(t *testing.T) {
	oversized := bytes.Repeat([]byte(" "), 5<<20)
	copy(oversized, `{"schemaVersion":2}`)
	const zero = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		name, ref, mediaType string
		body                 []byte
	}{
		{"schema1 signed", "old", "application/vnd.docker.distribution.manifest.v1+prettyjws",
			[]byte(`{"schemaVersion":1,"name":"app","tag":"old","architecture":"amd64","fsLayers":[],"history":[],"signatures":[]}`)},
		{"malformed index", "broken", string(types.OCIImageIndex), []byte(`{"manifests": [`)},
		{"index with missing children", "dangling", string(types.DockerManifestList),
			[]byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + zero + `","size":7}]}`)},
		{"oversized", "big", string(types.OCIManifestSchema1), oversized},
		{"odd media type", "odd", "text/plain; charset=utf-8", []byte("not a manifest")},
		{"by digest", "", string(types.OCIManifestSchema1), []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(t, Options{TokenAuth: false})
			sum, _, _ := v1.SHA256(bytes.NewReader(tc.body))
			refStr := tc.ref
			if refStr == "" {
				refStr = sum.String()
			}
			h := r.PushRaw(t, "raw/app", refStr, tc.mediaType, tc.body)
			if h != sum {
				t.Fatalf("PushRaw = %s, want %s", h, sum)
			}
			for _, rr := range []string{refStr, h.String()} {
				resp, body := get(t, r, "GET", "/v2/raw/app/manifests/"+rr, nil)
				if resp.StatusCode != 200 {
					t.Fatalf("GET %s: %d %s", rr, resp.StatusCode, body)
				}
				if !bytes.Equal(body, tc.body) {
					t.Errorf("GET %s: body differs (%d bytes vs %d)", rr, len(body), len(tc.body))
				}
				if got := resp.Header.Get("Content-Type"); got != tc.mediaType {
					t.Errorf("Content-Type = %q", got)
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != h.String() {
					t.Errorf("Docker-Content-Digest = %q", got)
				}
				resp, _ = get(t, r, "HEAD", "/v2/raw/app/manifests/"+rr, nil)
				if resp.StatusCode != 200 || resp.ContentLength != int64(len(tc.body)) ||
					resp.Header.Get("Docker-Content-Digest") != h.String() || resp.Header.Get("Content-Type") != tc.mediaType {
					t.Errorf("HEAD %s: %d len=%d headers=%v", rr, resp.StatusCode, resp.ContentLength, resp.Header)
				}
			}
		})
	}

	t.Run("digest mismatch", func(t *testing.T) {
		r := New(t, Options{})
		body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
		r.PushRaw(t, "app", zero, string(types.OCIManifestSchema1), body)
		_, err := remote.Image(ref(t, r, "app@"+zero), remote.WithTransport(r.Transport()))
		if err == nil {
			t.Fatal("pull by mismatching digest succeeded")
		}
		if !strings.Contains(err.Error(), "digest") {
			t.Errorf("unexpected error: %v", err)
		}
	})

	t.Run("later push replaces override", func(t *testing.T) {
		r := New(t, Options{})
		r.PushRaw(t, "app", "v1", string(types.OCIImageIndex), []byte("{"))
		img := Image(t, ImageSpec{Layers: []string{"x"}})
		want := r.PushImage(t, "app", "v1", img)
		resp, _ := get(t, r, "GET", "/v2/app/manifests/v1", nil)
		if got := resp.Header.Get("Docker-Content-Digest"); got != want.String() {
			t.Errorf("digest %s, want %s", got, want)
		}
	})
}

func TestPushBlob(t *testing.T) {
	r := New(t, Options{TokenAuth: true})
	body := []byte(`{"architecture": 42, "os": null}`)
	h := r.PushBlob(t, "app", body)
	l, err := remote.Layer(ref(t, r, "app@"+h.String()).Context().Digest(h.String()), remote.WithTransport(r.Transport()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("blob = %q", got)
	}
}

func TestTLS(t *testing.T) {
	for _, tokenAuth := range []bool{false, true} {
		t.Run(fmt.Sprintf("TokenAuth=%v", tokenAuth), func(t *testing.T) {
			r := New(t, Options{TLS: true, TokenAuth: tokenAuth})
			if !strings.HasPrefix(r.URL(), "https://127.0.0.1:") || r.URL() != "https://"+r.Host() {
				t.Fatalf("URL %s Host %s", r.URL(), r.Host())
			}
			idx, images := MultiArch(t)
			r.PushIndex(t, "app", "v1", idx)
			if tokenAuth {
				resp, _ := get(t, r, "GET", "/v2/", nil)
				if got, want := resp.Header.Get("WWW-Authenticate"), `Bearer realm="https://`+r.Host()+`/token",service="testregistry"`; got != want {
					t.Errorf("challenge %q, want %q", got, want)
				}
				r.Log().Reset()
			}
			img, err := remote.Image(ref(t, r, "app:v1"), remote.WithTransport(r.Transport()),
				remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}))
			if err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			want, _ := images["linux/arm64/v8"].Digest()
			if d != want {
				t.Errorf("digest %s, want %s", d, want)
			}
			if _, err := img.ConfigFile(); err != nil {
				t.Fatal(err)
			}
			wantTokens := 0
			if tokenAuth {
				wantTokens = 1
			}
			if r.Log().Pings() != 1 || r.Log().Tokens() != wantTokens {
				t.Errorf("log:\n%s", r.Log())
			}
		})
	}
}

func TestImageFixture(t *testing.T) {
	created := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name                       string
		mt, wantCfgMT, wantLayerMT types.MediaType
	}{
		{"default OCI", "", types.OCIConfigJSON, types.OCILayer},
		{"Docker", types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := ImageSpec{
				OS: "linux", Architecture: "arm", Variant: "v7",
				MediaType:          tc.mt,
				Layers:             []string{"layer-1", "layer-2", "layer-3"},
				EmptyLayersBetween: true,
				Config:             RichConfig(),
				Created:            created,
				Author:             "me",
			}
			img := Image(t, spec)
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			wantMT := tc.mt
			if wantMT == "" {
				wantMT = types.OCIManifestSchema1
			}
			if m.MediaType != wantMT || m.Config.MediaType != tc.wantCfgMT {
				t.Errorf("media types %s / %s", m.MediaType, m.Config.MediaType)
			}
			if len(m.Layers) != 3 {
				t.Fatalf("%d layers", len(m.Layers))
			}
			for _, l := range m.Layers {
				if l.MediaType != tc.wantLayerMT {
					t.Errorf("layer media type %s", l.MediaType)
				}
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != "arm" || cf.Variant != "v7" || cf.Author != "me" || !cf.Created.Equal(created) {
				t.Errorf("config file %+v", cf)
			}
			if cf.Config.User != "1000:1000" || cf.Config.StopSignal != "SIGTERM" || len(cf.Config.ExposedPorts) != 2 {
				t.Errorf("config %+v", cf.Config)
			}
			var createdBy []string
			empty := 0
			for _, h := range cf.History {
				createdBy = append(createdBy, h.CreatedBy)
				if h.EmptyLayer {
					empty++
				}
			}
			if want := `[RUN layer-1 ENV STEP=1 RUN layer-2 CMD ["step-2"] RUN layer-3]`; fmt.Sprint(createdBy) != want {
				t.Errorf("history %v, want %s", createdBy, want)
			}
			if empty != 2 || len(cf.RootFS.DiffIDs) != 3 {
				t.Errorf("empty=%d diffIDs=%d", empty, len(cf.RootFS.DiffIDs))
			}
			// Deterministic.
			d1, _ := img.Digest()
			d2, _ := Image(t, spec).Digest()
			if d1 != d2 {
				t.Errorf("digests differ: %s %s", d1, d2)
			}
		})
	}
}

func TestDockerManifestList(t *testing.T) {
	amd := Image(t, ImageSpec{MediaType: types.DockerManifestSchema2, Layers: []string{"a"}})
	arm := Image(t, ImageSpec{MediaType: types.DockerManifestSchema2, Architecture: "arm", Variant: "v7", Layers: []string{"b"}})
	idx := Index(t, types.DockerManifestList,
		IndexEntry{Image: amd},
		IndexEntry{Image: arm, Annotations: map[string]string{"k": "v"}},
		IndexEntry{Image: amd, NoPlatform: true},
	)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.DockerManifestList {
		t.Errorf("media type %s", im.MediaType)
	}
	wantPlatforms := []string{"linux/amd64", "linux/arm/v7", ""}
	for i, d := range im.Manifests {
		if d.MediaType != types.DockerManifestSchema2 {
			t.Errorf("entry %d media type %s", i, d.MediaType)
		}
		got := ""
		if d.Platform != nil {
			got = d.Platform.String()
		}
		if got != wantPlatforms[i] {
			t.Errorf("entry %d platform %q, want %q", i, got, wantPlatforms[i])
		}
	}
	if im.Manifests[1].Annotations["k"] != "v" {
		t.Errorf("annotations %v", im.Manifests[1].Annotations)
	}

	r := New(t, Options{})
	r.PushIndex(t, "app", "list", idx)
	img, err := remote.Image(ref(t, r, "app:list"), remote.WithTransport(r.Transport()),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d != must(arm.Digest()) {
		t.Errorf("resolved %s", d)
	}
}

func TestMultiArchFixture(t *testing.T) {
	idx, images := MultiArch(t)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("media type %s", im.MediaType)
	}
	configs := map[v1.Hash]string{}
	for i, key := range MultiArchPlatforms {
		img := images[key]
		if img == nil {
			t.Fatalf("no image for %s", key)
		}
		m, _ := img.Manifest()
		if prev, dup := configs[m.Config.Digest]; dup {
			t.Errorf("%s and %s share a config", prev, key)
		}
		configs[m.Config.Digest] = key
		desc := im.Manifests[i]
		p := desc.Platform
		gotKey := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			gotKey += "/" + p.Variant
		}
		if gotKey != key {
			t.Errorf("entry %d platform %s, want %s", i, gotKey, key)
		}
		if key == "windows/amd64" && p.OSVersion != WindowsOSVersion {
			t.Errorf("windows os.version %q", p.OSVersion)
		}
		cf, _ := img.ConfigFile()
		if !cf.Platform().Equals(*p) {
			t.Errorf("%s: config platform %v", key, cf.Platform())
		}
	}
	for i, key := range []string{"linux/amd64", "linux/arm64/v8"} {
		desc := im.Manifests[len(MultiArchPlatforms)+i]
		if desc.Platform == nil || desc.Platform.OS != "unknown" || desc.Platform.Architecture != "unknown" {
			t.Errorf("attestation %d platform %v", i, desc.Platform)
		}
		if desc.Annotations[AnnotationReferenceType] != AttestationManifest ||
			desc.Annotations[AnnotationReferenceDigest] != must(images[key].Digest()).String() {
			t.Errorf("attestation %d annotations %v", i, desc.Annotations)
		}
	}
	idx2, _ := MultiArch(t)
	if must(idx.Digest()) != must(idx2.Digest()) {
		t.Errorf("MultiArch is not deterministic")
	}
}

func TestRepoFromPath(t *testing.T) {
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"/v2/", "", false},
		{"/v2/_catalog", "", false},
		{"/v2/app/manifests/v1", "app", true},
		{"/v2/a/b/c/manifests/sha256:abc", "a/b/c", true},
		{"/v2/a/b/blobs/sha256:abc", "a/b", true},
		{"/v2/a/b/tags/list", "a/b", true},
		{"/v2/a/b/referrers/sha256:abc", "a/b", true},
		{"/v2/a/b/blobs/uploads/", "a/b", true},
		{"/v2/a/blobs/uploads/some-uuid", "a", true},
		{"/v2/a/b/tags/other", "", false},
		{"/token", "", false},
	}
	for _, tc := range tests {
		got, ok := RepoFromPath(tc.path)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RepoFromPath(%q) = %q, %v; want %q, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
