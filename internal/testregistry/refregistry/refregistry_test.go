package refregistry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// client describes how a test client talks to the registry.
type client struct {
	trustCA    bool
	clientCert bool
	user, pass string
}

func (c client) transport(t *testing.T, r *Registry) *http.Transport {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.trustCA && r.CAPEM() != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(r.CAPEM()) {
			t.Fatal("bad CA PEM")
		}
		cfg.RootCAs = pool
	}
	if c.clientCert {
		certPEM, keyPEM := r.ClientCertPEM()
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr.TLSClientConfig = cfg
	return tr
}

func (c client) options(t *testing.T, r *Registry) []remote.Option {
	opts := []remote.Option{
		remote.WithContext(context.Background()),
		remote.WithTransport(c.transport(t, r)),
	}
	if c.user != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: c.user, Password: c.pass}))
	}
	return opts
}

func ref(t *testing.T, r *Registry, repo, tag string) name.Reference {
	t.Helper()
	var opts []name.Option
	if r.CAPEM() == nil {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(r.Host()+"/"+repo+":"+tag, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// pullImage reads the manifest, config and every layer of repo:tag and
// checks the digest against want.
func pullImage(t *testing.T, r *Registry, c client, repo, tag string, want v1.Hash) error {
	t.Helper()
	img, err := remote.Image(ref(t, r, repo, tag), c.options(t, r)...)
	if err != nil {
		return err
	}
	got, err := img.Digest()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("digest %s, want %s", got, want)
	}
	if _, err := img.ConfigFile(); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

func randomImage(t *testing.T) (v1.Image, v1.Hash) {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return img, d
}

func TestPlainHTTP(t *testing.T) {
	r := Start(t, Options{Mode: PlainHTTP})
	if r.CAPEM() != nil || r.TokenRealm() != "" {
		t.Fatalf("plain registry has CA %q / realm %q", r.CAPEM(), r.TokenRealm())
	}
	img, d := randomImage(t)
	r.PushImage(t, "x/img", "v1", img)
	idx, err := random.Index(256, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	r.Push(t, "x/idx", "v1", idx)
	if n := len(r.Log().Requests()); n != 0 {
		t.Fatalf("pushes were logged:\n%s", r.Log())
	}

	if err := pullImage(t, r, client{}, "x/img", "v1", d); err != nil {
		t.Fatalf("anonymous pull: %v", err)
	}
	got, err := remote.Index(ref(t, r, "x/idx", "v1"), client{}.options(t, r)...)
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := got.Digest()
	wd, _ := idx.Digest()
	if gd != wd {
		t.Fatalf("index digest %s, want %s", gd, wd)
	}
	for _, q := range r.Log().Requests() {
		if q.HasAuth || q.Status != http.StatusOK || q.Host != r.Host() {
			t.Errorf("unexpected request %v", q)
		}
	}
	if r.Log().CountPrefix(http.MethodGet, "/v2/x/img/manifests/") != 1 {
		t.Errorf("want one manifest GET:\n%s", r.Log())
	}
}

func TestHtpasswdTLS(t *testing.T) {
	r := Start(t, Options{Mode: HtpasswdTLS, Users: map[string]string{"alice": "alice-pw"}})
	img, d := randomImage(t)
	r.PushImage(t, "private/x", "v1", img)

	for _, tc := range []struct {
		name    string
		client  client
		status  int    // wanted transport.Error status, 0 for success
		errText string // wanted error substring
	}{
		{"admin", client{trustCA: true, user: AdminUser, pass: AdminPassword}, 0, ""},
		{"user", client{trustCA: true, user: "alice", pass: "alice-pw"}, 0, ""},
		{"wrong password", client{trustCA: true, user: "alice", pass: "nope"}, http.StatusUnauthorized, ""},
		{"unknown user", client{trustCA: true, user: "mallory", pass: "x"}, http.StatusUnauthorized, ""},
		{"anonymous", client{trustCA: true}, http.StatusUnauthorized, ""},
		{"no CA", client{user: "alice", pass: "alice-pw"}, 0, "x509"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pullImage(t, r, tc.client, "private/x", "v1", d)
			switch {
			case tc.status == 0 && tc.errText == "":
				if err != nil {
					t.Fatalf("pull: %v\n%s", err, r.Log())
				}
			case tc.status != 0:
				if statusOf(err) != tc.status {
					t.Fatalf("got %v (status %d), want status %d", err, statusOf(err), tc.status)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("got %v, want error containing %q", err, tc.errText)
				}
			}
		})
	}
}

func TestTokenAuth(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%t", useTLS), func(t *testing.T) {
			r := Start(t, Options{Mode: TokenAuth, TLS: useTLS, Users: map[string]string{"alice": "alice-pw"}})
			scheme := "http"
			if useTLS {
				scheme = "https"
			}
			if !strings.HasPrefix(r.TokenRealm(), scheme+"://localhost:") || !strings.HasSuffix(r.TokenRealm(), "/token") {
				t.Fatalf("realm %q", r.TokenRealm())
			}
			img, d := randomImage(t)
			r.PushImage(t, "public/x", "v1", img)
			r.PushImage(t, "private/x", "v1", img)
			r.PushImage(t, "other/x", "v1", img)
			trusted := client{trustCA: true}

			t.Run("challenge", func(t *testing.T) {
				resp, err := (&http.Client{Transport: trusted.transport(t, r)}).Get(scheme + "://" + r.Host() + "/v2/")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := fmt.Sprintf(`Bearer realm="%s",service="%s"`, r.TokenRealm(), tokenService)
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
					t.Fatalf("ping: %d %q, want 401 %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
				}
			})

			t.Run("anonymous public", func(t *testing.T) {
				r.Log().Reset()
				if err := pullImage(t, r, trusted, "public/x", "v1", d); err != nil {
					t.Fatalf("pull: %v\n%s", err, r.Log())
				}
				reqs := r.Log().Requests()
				if len(reqs) < 4 {
					t.Fatalf("too few requests:\n%s", r.Log())
				}
				ping := Request{Method: http.MethodGet, Host: r.Host(), Path: "/v2/", Status: http.StatusUnauthorized}
				if diff := cmp.Diff(ping, reqs[0]); diff != "" {
					t.Errorf("first request, want an anonymous ping answered 401 (-want +got):\n%s", diff)
				}
				realmHost := strings.TrimPrefix(strings.TrimSuffix(r.TokenRealm(), "/token"), scheme+"://")
				token := Request{Method: http.MethodGet, Host: realmHost, Path: "/token", Status: http.StatusOK}
				if diff := cmp.Diff(token, reqs[1], cmpopts.IgnoreFields(Request{}, "Query")); diff != "" {
					t.Errorf("second request, want an anonymous token request (-want +got):\n%s", diff)
				}
				for _, q := range reqs[2:] {
					if q.Method != http.MethodGet || !q.HasAuth || q.Status != http.StatusOK || !strings.HasPrefix(q.Path, "/v2/public/x/") {
						t.Errorf("unexpected request %v", q)
					}
				}
				if n := r.Log().CountPrefix(http.MethodGet, "/token"); n != 1 {
					t.Errorf("%d token requests, want 1:\n%s", n, r.Log())
				}
			})

			for _, tc := range []struct {
				name   string
				repo   string
				client client
				status int // 0: success; -1: 401 or 403
				token  int // wanted status of the token request, 0 to skip
			}{
				{"anonymous private", "private/x", trusted, -1, http.StatusOK},
				{"anonymous other", "other/x", trusted, -1, http.StatusOK},
				{"user private", "private/x", client{trustCA: true, user: "alice", pass: "alice-pw"}, 0, http.StatusOK},
				{"user public", "public/x", client{trustCA: true, user: "alice", pass: "alice-pw"}, 0, http.StatusOK},
				{"user other", "other/x", client{trustCA: true, user: "alice", pass: "alice-pw"}, -1, http.StatusOK},
				{"admin other", "other/x", client{trustCA: true, user: AdminUser, pass: AdminPassword}, 0, http.StatusOK},
				{"wrong password", "private/x", client{trustCA: true, user: "alice", pass: "wrong"}, http.StatusUnauthorized, http.StatusUnauthorized},
				{"unknown user", "public/x", client{trustCA: true, user: "mallory", pass: "x"}, http.StatusUnauthorized, http.StatusUnauthorized},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r.Log().Reset()
					err := pullImage(t, r, tc.client, tc.repo, "v1", d)
					st := statusOf(err)
					switch tc.status {
					case 0:
						if err != nil {
							t.Fatalf("pull: %v\n%s", err, r.Log())
						}
					case -1:
						if st != http.StatusUnauthorized && st != http.StatusForbidden {
							t.Fatalf("got %v (status %d), want 401/403\n%s", err, st, r.Log())
						}
					default:
						if st != tc.status {
							t.Fatalf("got %v (status %d), want %d\n%s", err, st, tc.status, r.Log())
						}
					}
					if tc.token != 0 {
						found := false
						for _, q := range r.Log().Requests() {
							if q.Path == "/token" {
								found = true
								if q.Status != tc.token {
									t.Errorf("token request %v, want status %d", q, tc.token)
								}
							}
						}
						if !found {
							t.Errorf("no token request:\n%s", r.Log())
						}
					}
				})
			}

			t.Run("user cannot push", func(t *testing.T) {
				img2, _ := randomImage(t)
				c := client{trustCA: true, user: "alice", pass: "alice-pw"}
				err := remote.Write(ref(t, r, "private/x", "v2"), img2, c.options(t, r)...)
				if st := statusOf(err); st != http.StatusUnauthorized && st != http.StatusForbidden {
					t.Fatalf("push as user: %v (status %d), want 401/403", err, st)
				}
			})

			t.Run("forged token", func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, scheme+"://"+r.Host()+"/v2/public/x/manifests/v1", nil)
				req.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
				resp, err := (&http.Client{Transport: trusted.transport(t, r)}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("forged token: %d, want 401", resp.StatusCode)
				}
			})

			if len(r.Tokens()) == 0 {
				t.Error("no tokens recorded")
			}
			for _, tok := range r.Tokens() {
				if strings.Count(tok, ".") != 2 {
					t.Errorf("token %q is not a compact JWS", tok)
				}
			}
		})
	}
}

func TestRequireClientCert(t *testing.T) {
	for _, opts := range []Options{
		{Mode: HtpasswdTLS, RequireClientCert: true},
		{Mode: TokenAuth, TLS: true, RequireClientCert: true},
	} {
		t.Run(opts.Mode.String(), func(t *testing.T) {
			r := Start(t, opts)
			img, d := randomImage(t)
			repo := "public/x"
			r.PushImage(t, repo, "v1", img)

			without := client{trustCA: true, user: AdminUser, pass: AdminPassword}
			_, err := (&http.Client{Transport: without.transport(t, r)}).Get("https://" + r.Host() + "/v2/")
			if err == nil || !strings.Contains(err.Error(), "tls") {
				t.Fatalf("GET without client cert: %v, want a TLS error", err)
			}
			if err := pullImage(t, r, without, repo, "v1", d); err == nil || !strings.Contains(err.Error(), "certificate required") {
				t.Fatalf("pull without client cert: %v, want a TLS certificate-required error", err)
			}

			with := without
			with.clientCert = true
			if err := pullImage(t, r, with, repo, "v1", d); err != nil {
				t.Fatalf("pull with client cert: %v\n%s", err, r.Log())
			}
		})
	}
}

func TestBlobRedirect(t *testing.T) {
	for _, tc := range []struct {
		opts   Options
		client client
	}{
		{Options{Mode: PlainHTTP}, client{}},
		{Options{Mode: HtpasswdTLS}, client{trustCA: true, user: AdminUser, pass: AdminPassword}},
		{Options{Mode: TokenAuth, TLS: true}, client{trustCA: true}},
	} {
		t.Run(tc.opts.Mode.String(), func(t *testing.T) {
			r := Start(t, tc.opts)
			img, d := randomImage(t)
			r.PushImage(t, "public/x", "v1", img)
			cdn, cdnLog := StartCDN(t, r)
			if !strings.HasPrefix(cdn, "http://localhost:") {
				t.Fatalf("CDN URL %q", cdn)
			}
			r.SetRedirectBlobs(cdn)

			if err := pullImage(t, r, tc.client, "public/x", "v1", d); err != nil {
				t.Fatalf("pull: %v\nregistry:\n%scdn:\n%s", err, r.Log(), cdnLog)
			}
			// Config + 2 layers.
			if n := cdnLog.CountPrefix(http.MethodGet, "/blobs/"); n != 3 {
				t.Errorf("%d CDN blob GETs, want 3:\n%s", n, cdnLog)
			}
			for _, q := range cdnLog.Requests() {
				if q.HasAuth || q.Status != http.StatusOK {
					t.Errorf("CDN request %v, want 200 without Authorization", q)
				}
			}
			for _, q := range r.Log().Requests() {
				if strings.Contains(q.Path, "/blobs/") && q.Status != http.StatusTemporaryRedirect {
					t.Errorf("registry blob request %v, want 307", q)
				}
			}

			// Redirects only after authorisation.
			if tc.opts.Mode != PlainHTTP {
				_, err := (&http.Client{Transport: tc.client.transport(t, r)}).Get("https://" + r.Host() + "/v2/public/x/blobs/" + d.String())
				if err != nil {
					t.Fatal(err)
				}
				q := r.Log().Requests()[len(r.Log().Requests())-1]
				if q.Status != http.StatusUnauthorized {
					t.Errorf("anonymous blob GET %v, want 401", q)
				}
			}
		})
	}
}
