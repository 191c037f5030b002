package manifests_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

var (
	amd64 = platforms.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = platforms.Platform{OS: "linux", Architecture: "arm64"}

	sentinels = map[manifests.Reason]*manifests.Error{
		manifests.InvalidReference: manifests.ErrInvalidReference,
		manifests.NotFound:         manifests.ErrNotFound,
		manifests.Unauthorized:     manifests.ErrUnauthorized,
		manifests.PlatformNotFound: manifests.ErrPlatformNotFound,
		manifests.PlatformMismatch: manifests.ErrPlatformMismatch,
		manifests.InvalidManifest:  manifests.ErrInvalidManifest,
		manifests.TooLarge:         manifests.ErrTooLarge,
		manifests.DigestMismatch:   manifests.ErrDigestMismatch,
		manifests.Unsupported:      manifests.ErrUnsupported,
		manifests.RateLimited:      manifests.ErrRateLimited,
		manifests.Unavailable:      manifests.ErrUnavailable,
	}
)

// sha256Of returns the sha256 digest of b as "sha256:<hex>".
func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// manifestJSON builds an OCI image manifest with the given config descriptor and no layers.
func manifestJSON(t *testing.T, configMediaType, configDigest string, configSize int64) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     string(types.OCIManifestSchema1),
		"config":        map[string]any{"mediaType": configMediaType, "digest": configDigest, "size": configSize},
		"layers":        []any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushConfigImage pushes raw as a config blob and an OCI manifest pointing at it
// (with its real size and digest) under repo:tag.
func pushConfigImage(t *testing.T, reg *testregistry.Registry, repo, tag string, raw []byte) v1.Hash {
	t.Helper()
	d := reg.PushBlob(t, repo, raw)
	return reg.PushRaw(t, repo, tag, string(types.OCIManifestSchema1), manifestJSON(t, string(types.OCIConfigJSON), d.String(), int64(len(raw))))
}

func singleArch(t *testing.T, arch string) v1.Image {
	return testregistry.Image(t, testregistry.ImageSpec{Architecture: arch, Layers: []string{"one " + arch, "two " + arch}})
}

// unusedHost returns a loopback host:port that nothing listens on.
func unusedHost(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	return host
}

// errSetup is what one error case needs: the options to resolve with, the
// strings the message must and must not contain, and extra checks.
type errSetup struct {
	opts     manifests.Options
	contains []string
	excludes []string
	check    func(t *testing.T, e *manifests.Error)
}

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name   string
		reason manifests.Reason
		setup  func(t *testing.T) errSetup
	}{
		// NotFound
		{"unknown repository", manifests.NotFound, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			reg.PushImage(t, "some/repo", "1.0", singleArch(t, "amd64"))
			return errSetup{opts: options(reg, false, "other/repo", "1.0", amd64), contains: []string{reg.Host(), "other/repo", `"1.0"`}}
		}},
		{"unknown tag", manifests.NotFound, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			reg.PushImage(t, "some/repo", "1.0", singleArch(t, "amd64"))
			return errSetup{opts: options(reg, false, "some/repo", "nope", amd64), contains: []string{reg.Host(), "some/repo", `"nope"`}}
		}},

		// Unauthorized
		{"credentials required, none given", manifests.Unauthorized, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
			reg.PushImage(t, "some/repo", "1.0", singleArch(t, "amd64"))
			reg.RequireBasic("u", "p")
			return errSetup{opts: options(reg, false, "some/repo", "1.0", amd64), contains: []string{reg.Host()}}
		}},
		{"wrong credentials", manifests.Unauthorized, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
			reg.PushImage(t, "some/repo", "1.0", singleArch(t, "amd64"))
			reg.RequireBasic("u", "p")
			o := options(reg, false, "some/repo", "1.0", amd64)
			o.Auth.Authenticator = &authn.Basic{Username: "u", Password: "hunter2-s3cret"}
			return errSetup{opts: o, contains: []string{reg.Host()}, excludes: []string{"hunter2-s3cret"}}
		}},

		// PlatformNotFound
		{"platform not in index", manifests.PlatformNotFound, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			idx, _ := testregistry.MultiArch(t)
			reg.PushIndex(t, "some/repo", "1.0", idx)
			return errSetup{
				opts:     options(reg, false, "some/repo", "1.0", platforms.Platform{OS: "linux", Architecture: "ppc64le"}),
				contains: []string{"some/repo", "1.0", "linux/ppc64le"},
				check: func(t *testing.T, e *manifests.Error) {
					if len(e.Available) != 6 {
						t.Errorf("Available = %q, want the 6 selectable platforms", e.Available)
					}
					for _, p := range e.Available {
						if strings.Contains(p, "unknown") {
							t.Errorf("Available lists the attestation platform %q", p)
						}
						if !strings.Contains(e.Message, p) {
							t.Errorf("message %q does not list available platform %q", e.Message, p)
						}
					}
				},
			}
		}},

		{"index whose platforms have newlines", manifests.PlatformNotFound, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			body, _ := json.Marshal(map[string]any{
				"schemaVersion": 2,
				"mediaType":     string(types.OCIImageIndex),
				"manifests": []any{map[string]any{
					"mediaType": string(types.OCIManifestSchema1),
					"digest":    sha256Of([]byte("child")),
					"size":      100,
					"platform":  map[string]string{"os": "linux", "architecture": "s390x\nINJECTED"},
				}},
			})
			reg.PushRaw(t, "r", "t", string(types.OCIImageIndex), body)
			return errSetup{opts: options(reg, false, "r", "t", arm64), contains: []string{"r:t", "linux/arm64", "linux/s390x"}}
		}},

		// PlatformMismatch
		{"single-arch image for another platform", manifests.PlatformMismatch, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			reg.PushImage(t, "some/repo", "1.0", singleArch(t, "amd64"))
			return errSetup{
				opts:     options(reg, false, "some/repo", "1.0", arm64),
				contains: []string{"some/repo:1.0", "linux/amd64", "linux/arm64"},
				check: func(t *testing.T, e *manifests.Error) {
					if len(e.Available) != 1 || e.Available[0] != "linux/amd64" {
						t.Errorf("Available = %q, want [linux/amd64]", e.Available)
					}
				},
			}
		}},
		{"single-arch image whose config platform has a newline", manifests.PlatformMismatch, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			pushConfigImage(t, reg, "r", "t", []byte(`{"os":"linux","architecture":"amd64\nINJECTED","rootfs":{"type":"layers","diff_ids":[]}}`))
			return errSetup{opts: options(reg, false, "r", "t", arm64), contains: []string{"r:t", "linux/arm64"}}
		}},

		// InvalidManifest
		{"manifest is not JSON", manifests.InvalidManifest, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			reg.PushRaw(t, "r", "t", string(types.OCIManifestSchema1), []byte("this is not JSON\nat all"))
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{`"t"`, " r", "JSON"}}
		}},
		{"malformed config digest", manifests.InvalidManifest, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			reg.PushRaw(t, "r", "t", string(types.OCIManifestSchema1), manifestJSON(t, string(types.OCIConfigJSON), "sha256:not-hex", 2))
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{`"t"`, " r"}}
		}},
		{"config blob is not JSON", manifests.InvalidManifest, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			raw := []byte("not a config {")
			pushConfigImage(t, reg, "r", "t", raw)
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{sha256Of(raw), "r:t"}}
		}},

		// TooLarge
		{"manifest body over 4 MiB", manifests.TooLarge, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","pad":"` + strings.Repeat("a", manifests.MaxManifestSize) + `"}`)
			reg.PushRaw(t, "r", "t", string(types.OCIManifestSchema1), body)
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{`"t"`, " r"}}
		}},
		{"config declares 9 MiB", manifests.TooLarge, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			d := reg.PushBlob(t, "r", []byte("{}"))
			reg.PushRaw(t, "r", "t", string(types.OCIManifestSchema1), manifestJSON(t, string(types.OCIConfigJSON), d.String(), 9<<20))
			return errSetup{
				opts:     options(reg, false, "r", "t", amd64),
				contains: []string{d.String(), " r", fmt.Sprint(9 << 20)},
				check: func(t *testing.T, e *manifests.Error) {
					if n := reg.Log().BlobGETs(); n != 0 {
						t.Errorf("%d blob GETs; the declared size must be checked before reading\n%s", n, reg.Log())
					}
				},
			}
		}},
		{"index entry declares a manifest over 4 MiB", manifests.TooLarge, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			child := sha256Of([]byte("child"))
			body, _ := json.Marshal(map[string]any{
				"schemaVersion": 2,
				"mediaType":     string(types.OCIImageIndex),
				"manifests": []any{map[string]any{
					"mediaType": string(types.OCIManifestSchema1),
					"digest":    child,
					"size":      5 << 20,
					"platform":  map[string]string{"os": "linux", "architecture": "amd64"},
				}},
			})
			reg.PushRaw(t, "r", "t", string(types.OCIImageIndex), body)
			return errSetup{
				opts:     options(reg, false, "r", "t", amd64),
				contains: []string{child, " r"},
				check: func(t *testing.T, e *manifests.Error) {
					if n := reg.Log().Count(http.MethodGet, "/v2/r/manifests/"+child); n != 0 {
						t.Errorf("the oversized child was fetched %d times\n%s", n, reg.Log())
					}
					if n := reg.Log().ManifestGETs(); n != 1 {
						t.Errorf("%d manifest GETs, want only the index\n%s", n, reg.Log())
					}
				},
			}
		}},

		// DigestMismatch
		{"manifest bytes do not match the requested digest", manifests.DigestMismatch, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			img := singleArch(t, "amd64")
			raw, _ := img.RawManifest()
			fake := sha256Of([]byte("something else"))
			reg.PushRaw(t, "r", fake, string(types.OCIManifestSchema1), raw)
			o := options(reg, false, "r", "", amd64)
			o.Digest = fake
			return errSetup{opts: o, contains: []string{fake, " r", sha256Of(raw)}}
		}},
		{"config bytes do not match the config digest", manifests.DigestMismatch, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			img := singleArch(t, "amd64")
			reg.PushImage(t, "r", "t", img)
			m, _ := img.Manifest()
			cfg := m.Config.Digest.String()
			// Same length, other bytes.
			other := []byte(strings.Repeat(" ", int(m.Config.Size)))
			reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
				if req.Method != http.MethodGet || req.URL.Path != "/v2/r/blobs/"+cfg {
					return false
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(other)))
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(other)
				return true
			})
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{cfg, " r", sha256Of(other)}}
		}},
		{"config size does not match the declared size", manifests.DigestMismatch, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			raw := []byte(`{"os":"linux","architecture":"amd64","rootfs":{"type":"layers","diff_ids":[]}}`)
			d := reg.PushBlob(t, "r", raw)
			reg.PushRaw(t, "r", "t", string(types.OCIManifestSchema1), manifestJSON(t, string(types.OCIConfigJSON), d.String(), int64(len(raw))+10))
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{d.String(), " r", fmt.Sprint(len(raw))}}
		}},

		// Unsupported
		{"schema1 manifest", manifests.Unsupported, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			body := []byte(`{"schemaVersion":1,"name":"r","tag":"t","architecture":"amd64","fsLayers":[{"blobSum":"` + sha256Of(nil) + `"}],"history":[{"v1Compatibility":"{}"}],"signatures":[]}`)
			reg.PushRaw(t, "r", "t", string(types.DockerManifestSchema1Signed), body)
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{"unsupported: schema1", `"t"`, " r"}}
		}},
		{"helm chart artifact", manifests.Unsupported, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			const helm = "application/vnd.cncf.helm.config.v1+json"
			raw := []byte(`{"name":"chart","version":"1.0.0"}`)
			d := reg.PushBlob(t, "r", raw)
			reg.PushRaw(t, "r", "t", string(types.OCIManifestSchema1), manifestJSON(t, helm, d.String(), int64(len(raw))))
			return errSetup{
				opts:     options(reg, false, "r", "t", amd64),
				contains: []string{helm, `"t"`, " r"},
				check: func(t *testing.T, e *manifests.Error) {
					if n := reg.Log().BlobGETs(); n != 0 {
						t.Errorf("the artifact's config was fetched %d times", n)
					}
				},
			}
		}},

		// RateLimited
		{"429 with Retry-After", manifests.RateLimited, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
			reg.PushImage(t, "r", "t", singleArch(t, "amd64"))
			reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/r/manifests/*", http.StatusTooManyRequests, 0, http.Header{"Retry-After": {"7"}}))
			return errSetup{
				opts:     options(reg, false, "r", "t", amd64),
				contains: []string{reg.Host(), `"t"`, " r", "7s"},
				check: func(t *testing.T, e *manifests.Error) {
					if e.RetryAfter != 7*time.Second {
						t.Errorf("RetryAfter = %v, want 7s", e.RetryAfter)
					}
				},
			}
		}},
		{"429 without Retry-After", manifests.RateLimited, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
			reg.PushImage(t, "r", "t", singleArch(t, "amd64"))
			reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/r/manifests/*", http.StatusTooManyRequests, 0, nil))
			return errSetup{
				opts:     options(reg, false, "r", "t", amd64),
				contains: []string{reg.Host(), `"t"`, " r"},
				excludes: []string{"retry after"},
				check: func(t *testing.T, e *manifests.Error) {
					if e.RetryAfter != 0 {
						t.Errorf("RetryAfter = %v, want 0", e.RetryAfter)
					}
				},
			}
		}},

		// Unavailable
		{"503 on every manifest GET", manifests.Unavailable, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
			reg.PushImage(t, "r", "t", singleArch(t, "amd64"))
			reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/r/manifests/*", http.StatusServiceUnavailable, 0, nil))
			return errSetup{opts: options(reg, false, "r", "t", amd64), contains: []string{reg.Host(), "503", `"t"`, " r"}}
		}},
		{"nothing listens (insecure)", manifests.Unavailable, func(t *testing.T) errSetup {
			host := unusedHost(t)
			return errSetup{
				opts:     manifests.Options{Registry: host, Repository: "r", Tag: "t", Network: manifests.Network{Insecure: true, Timeout: 10 * time.Second, RetryBackoff: fastRetry}},
				contains: []string{host},
			}
		}},
		{"nothing listens (secure)", manifests.Unavailable, func(t *testing.T) errSetup {
			host := unusedHost(t)
			return errSetup{
				opts:     manifests.Options{Registry: host, Repository: "r", Tag: "t", Network: manifests.Network{Timeout: 10 * time.Second, RetryBackoff: fastRetry}},
				contains: []string{host, "refused"},
			}
		}},
		{"plain-HTTP registry not marked insecure", manifests.Unsupported, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{})
			reg.PushImage(t, "r", "t", singleArch(t, "amd64"))
			o := options(reg, false, "r", "t", amd64)
			o.Network.Insecure = false
			return errSetup{
				opts:     o,
				contains: []string{reg.Host(), "insecure"},
				check: func(t *testing.T, e *manifests.Error) {
					if n := reg.Log().ManifestGETs(); n != 0 {
						t.Errorf("%d manifest GETs over plain HTTP\n%s", n, reg.Log())
					}
				},
			}
		}},
		{"TLS registry with an untrusted certificate", manifests.Unavailable, func(t *testing.T) errSetup {
			reg := testregistry.New(t, testregistry.Options{TLS: true})
			reg.PushImage(t, "r", "t", singleArch(t, "amd64"))
			o := options(reg, true, "r", "t", amd64)
			o.Network.Transport = http.DefaultTransport.(*http.Transport).Clone()
			return errSetup{opts: o, contains: []string{reg.Host(), "certificate"}}
		}},

		// InvalidReference
		{"registry with a scheme", manifests.InvalidReference, func(t *testing.T) errSetup {
			return errSetup{opts: manifests.Options{Registry: "http://x", Repository: "r"}, contains: []string{"http://x"}}
		}},
		{"uppercase repository", manifests.InvalidReference, func(t *testing.T) errSetup {
			return errSetup{opts: manifests.Options{Registry: "ghcr.io", Repository: "Upper"}, contains: []string{"Upper"}}
		}},
		{"tag with a slash", manifests.InvalidReference, func(t *testing.T) errSetup {
			return errSetup{opts: manifests.Options{Registry: "ghcr.io", Repository: "r", Tag: "a/b"}, contains: []string{"a/b"}}
		}},
		{"tag and digest", manifests.InvalidReference, func(t *testing.T) errSetup {
			d := sha256Of(nil)
			return errSetup{opts: manifests.Options{Registry: "ghcr.io", Repository: "r", Tag: "t", Digest: d}, contains: []string{`"t"`, d}}
		}},
		{"short digest", manifests.InvalidReference, func(t *testing.T) errSetup {
			return errSetup{opts: manifests.Options{Registry: "ghcr.io", Repository: "r", Digest: "sha256:abc"}, contains: []string{"sha256:abc"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.setup(t)
			res, err := manifests.Resolve(context.Background(), s.opts)
			if err == nil {
				t.Fatalf("Resolve succeeded (%+v), want %s", res.Summary, tt.reason)
			}
			if !errors.Is(err, sentinels[tt.reason]) {
				t.Errorf("errors.Is(err, Err%s) = false; err = %v", tt.reason, err)
			}
			for r, sentinel := range sentinels {
				if r != tt.reason && errors.Is(err, sentinel) {
					t.Errorf("errors.Is(err, Err%s) = true, want only Err%s", r, tt.reason)
				}
			}
			var e *manifests.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not a *manifests.Error", err, err)
			}
			if e.Reason != tt.reason || manifests.ReasonOf(err) != tt.reason {
				t.Errorf("Reason = %s, want %s; message: %s", e.Reason, tt.reason, e.Message)
			}
			if wantTerminal := tt.reason != manifests.RateLimited && tt.reason != manifests.Unavailable; e.Terminal() != wantTerminal {
				t.Errorf("Terminal() = %v, want %v", e.Terminal(), wantTerminal)
			}
			msg := err.Error()
			if msg == "" || msg != e.Message {
				t.Errorf("Error() = %q, Message = %q", msg, e.Message)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Errorf("message is not one line: %q", msg)
			}
			for _, want := range s.contains {
				if !strings.Contains(msg, want) {
					t.Errorf("message does not contain %q: %s", want, msg)
				}
			}
			for _, bad := range s.excludes {
				if strings.Contains(msg, bad) {
					t.Errorf("message contains %q: %s", bad, msg)
				}
			}
			if s.check != nil {
				s.check(t, e)
			}
			t.Logf("%s: %s", e.Reason, msg)
		})
	}
}

// TestNoRetryStorm: a registry that answers 503 to every manifest GET gets at
// most go-containerregistry's 3 attempts per Resolve, not a retry per layer of
// transports.
func TestNoRetryStorm(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	reg.PushImage(t, "r", "t", singleArch(t, "amd64"))
	reg.SetFault(testregistry.FailRequests(http.MethodGet, "/v2/r/manifests/*", http.StatusServiceUnavailable, 0, nil))
	_, err := manifests.Resolve(context.Background(), options(reg, false, "r", "t", amd64))
	if !errors.Is(err, manifests.ErrUnavailable) {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	// go-containerregistry's retries within one attempt: 3 tries, no more.
	if n := reg.Log().ManifestGETs(); n != 3 {
		t.Errorf("%d manifest GET attempts, want 3\n%s", n, reg.Log())
	}
	if n := reg.Log().Tokens(); n != 1 {
		t.Errorf("%d token requests, want 1\n%s", n, reg.Log())
	}
}

// cdn is a second server, on another loopback port, that serves one blob and
// records the Authorization headers it receives.
type cdn struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
	auth []string
}

func newCDN(t *testing.T, body []byte) *cdn {
	c := &cdn{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits++
		if a := r.Header.Get("Authorization"); a != "" {
			c.auth = append(c.auth, a)
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// url returns the CDN's URL for the blob under the name localhost, which the
// SSRF rule allows (it refuses private IP literals on other hosts).
func (c *cdn) url(scheme string) string {
	_, port, _ := net.SplitHostPort(c.srv.Listener.Addr().String())
	return scheme + "://localhost:" + port + "/blob?sig=secret"
}

// redirectBlob makes the registry answer GETs of blob digest with a 307 to target.
func redirectBlob(reg *testregistry.Registry, repo, digest, target string) {
	reg.SetFault(func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method != http.MethodGet || req.URL.Path != "/v2/"+repo+"/blobs/"+digest {
			return false
		}
		http.Redirect(w, req, target, http.StatusTemporaryRedirect)
		return true
	})
}

// TestRedirectKeepsAuthorizationOnRegistry: a config blob redirected to a CDN on
// another host is fetched from there, without the registry's bearer token.
func TestRedirectKeepsAuthorizationOnRegistry(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	img := singleArch(t, "amd64")
	reg.PushImage(t, "r", "t", img)
	m, _ := img.Manifest()
	raw := rawConfig(t, img)
	c := newCDN(t, raw)
	redirectBlob(reg, "r", m.Config.Digest.String(), c.url("http"))

	res, err := manifests.Resolve(context.Background(), options(reg, false, "r", "t", amd64))
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if string(res.RawConfig) != string(raw) {
		t.Errorf("RawConfig is not the config served by the CDN")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hits != 1 {
		t.Errorf("CDN saw %d requests, want 1", c.hits)
	}
	if len(c.auth) != 0 {
		t.Errorf("CDN saw Authorization headers %q", c.auth)
	}
	// The registry itself did get the token on the blob request, so the test is meaningful.
	for _, r := range reg.Log().Requests() {
		if strings.Contains(r.Path, "/blobs/") && !r.HasAuth {
			t.Errorf("blob request %s %s to the registry carried no Authorization", r.Method, r.Path)
		}
	}
}

// TestRedirectRefused: a TLS registry that is not insecure cannot send the
// client to plain HTTP, and no registry can send it to a private IP literal on
// another host.
func TestRedirectRefused(t *testing.T) {
	tests := []struct {
		name     string
		tls      bool
		target   func(c *cdn) string
		want     error
		contains []string
	}{
		// Only a change to the spec (insecure) can help: terminal.
		{"https to http", true, func(c *cdn) string { return c.url("http") }, manifests.ErrUnsupported, []string{"plain HTTP", "insecure", "localhost"}},
		{"to a private IP literal", false, func(c *cdn) string {
			_, port, _ := net.SplitHostPort(c.srv.Listener.Addr().String())
			return "http://127.0.0.2:" + port + "/blob?sig=secret"
		}, manifests.ErrUnavailable, []string{"127.0.0.2", `/blob?REDACTED":`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := testregistry.New(t, testregistry.Options{TokenAuth: true, TLS: tt.tls})
			img := singleArch(t, "amd64")
			reg.PushImage(t, "r", "t", img)
			m, _ := img.Manifest()
			c := newCDN(t, rawConfig(t, img))
			redirectBlob(reg, "r", m.Config.Digest.String(), tt.target(c))

			_, err := manifests.Resolve(context.Background(), options(reg, tt.tls, "r", "t", amd64))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range tt.contains {
				if !strings.Contains(msg, want) {
					t.Errorf("message does not contain %q: %s", want, msg)
				}
			}
			if strings.Contains(msg, "secret") {
				t.Errorf("message leaks the redirect URL's query: %s", msg)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.hits != 0 {
				t.Errorf("CDN saw %d requests, want 0", c.hits)
			}
		})
	}
}
