// Package demo serves the offline demo registry of `make dev`: an in-process,
// plain-HTTP registry seeded with a small multi-platform image, demo/hello:1.0,
// whose config has a realistic env, cmd, labels and layer history, and its next
// release demo/hello:1.1, which differs in its top (app config) layer and in one
// env var, HELLO_VERSION, so that `imageconfig diff` has something to show.
// It also holds demo/files:1.0 (FilesImage), for `imageconfig files`, and the
// supply-chain images of supplychain.go: a base that can move, an app on it,
// and a signed and attested image.
package demo

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Repository and Tag name the seeded image; NextTag is its next release.
const (
	Repository = "demo/hello"
	Tag        = "1.0"
	NextTag    = "1.1"
)

// release is what differs between the demo's tags.
type release struct {
	version  string // HELLO_VERSION
	greeting string // in the top layer, app/config.yaml
}

var releases = map[string]release{
	Tag:     {version: "1.0.0", greeting: "hello"},
	NextTag: {version: "1.1.0", greeting: "hello, world"},
}

// Platforms are the platforms of the seeded index.
var Platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
	{OS: "linux", Architecture: "arm", Variant: "v7"},
}

var created = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// Index builds the demo image index of Tag. The content is deterministic.
func Index() (v1.ImageIndex, error) { return IndexOf(Tag) }

// IndexOf builds the demo image index of tag, Tag or NextTag.
func IndexOf(tag string) (v1.ImageIndex, error) {
	rel, ok := releases[tag]
	if !ok {
		return nil, fmt.Errorf("the demo has no tag %q", tag)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range Platforms {
		img, err := image(p, rel)
		if err != nil {
			return nil, err
		}
		pl := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	return idx, nil
}

func image(p v1.Platform, rel release) (v1.Image, error) {
	arch := p.Architecture
	if p.Variant != "" {
		arch += p.Variant
	}
	steps := []struct {
		createdBy string
		files     map[string]string // nil: an empty layer
	}{
		{"ADD alpine-minirootfs-3.20.3-" + arch + ".tar.gz / # buildkit", map[string]string{"etc/os-release": "NAME=\"Alpine Linux\"\nVERSION_ID=3.20.3\n", "etc/alpine-release": "3.20.3\n"}},
		{`CMD ["/bin/sh"]`, nil},
		{"RUN /bin/sh -c apk add --no-cache ca-certificates tzdata # buildkit", map[string]string{"etc/ssl/certs/ca-certificates.crt": "# demo CA bundle\n", "usr/share/zoneinfo/UTC": "TZif2\n"}},
		{"ENV APP_HOME=/app", nil},
		{"WORKDIR /app", nil},
		{"COPY hello /usr/local/bin/hello # buildkit", map[string]string{"usr/local/bin/hello": "#!/bin/sh\necho hello from " + p.OS + "/" + arch + "\n"}},
		{"COPY config.yaml /app/config.yaml # buildkit", map[string]string{"app/config.yaml": "listen: :8080\ngreeting: " + rel.greeting + "\n"}},
		{"USER 65532:65532", nil},
		{"EXPOSE map[8080/tcp:{}]", nil},
		{`ENTRYPOINT ["/usr/local/bin/hello"]`, nil},
		{`CMD ["--listen" ":8080"]`, nil},
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, s := range steps {
		h := v1.History{Created: v1.Time{Time: created}, CreatedBy: s.createdBy, EmptyLayer: s.files == nil}
		if s.files == nil {
			var err error
			if img, err = mutate.Append(img, mutate.Addendum{History: h}); err != nil {
				return nil, err
			}
			continue
		}
		layer, err := tarLayer(s.files)
		if err != nil {
			return nil, err
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: h, MediaType: types.OCILayer}); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = v1.Time{Time: created}
	cf.Author = "imageconfig-operator demo"
	cf.Config = v1.Config{
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_HOME=/app", "HELLO_VERSION=" + rel.version},
		Entrypoint:   []string{"/usr/local/bin/hello"},
		Cmd:          []string{"--listen", ":8080"},
		WorkingDir:   "/app",
		User:         "65532:65532",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "hello",
			"org.opencontainers.image.version":  "1.0.0",
			"org.opencontainers.image.source":   "https://example.com/demo/hello",
			"org.opencontainers.image.licenses": "Apache-2.0",
		},
		StopSignal: "SIGTERM",
	}
	return mutate.ConfigFile(img, cf)
}

// tarLayer builds a gzipped tar layer holding files.
func tarLayer(files map[string]string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(body)), ModTime: created, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
}

// Registry is a running demo registry.
type Registry struct {
	// Addr is the host:port it listens on.
	Addr   string
	server *http.Server
	auth   authn.Authenticator

	mu          sync.Mutex
	baseRelease int // index in BaseReleases of what BaseRepository:BaseTag points to
}

// Start serves a registry on addr (such as "127.0.0.1:5001", or "127.0.0.1:0" for
// any free port) and pushes demo/hello:1.0 and demo/hello:1.1 to it.
func Start(ctx context.Context, addr string) (*Registry, error) {
	return start(ctx, addr, "", "")
}

// StartBasicAuth is Start for a registry that requires HTTP basic authentication
// with username and password, for every request.
func StartBasicAuth(ctx context.Context, addr, username, password string) (*Registry, error) {
	return start(ctx, addr, username, password)
}

func start(ctx context.Context, addr, username, password string) (*Registry, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	var handler http.Handler = mux
	if username != "" {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != username || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="demo"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	r := &Registry{Addr: ln.Addr().String(), server: srv}
	mux.HandleFunc(MoveBasePath, r.serveMoveBase)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Printf("demo registry: %v\n", err)
		}
	}()
	auth := authn.Anonymous
	if username != "" {
		auth = &authn.Basic{Username: username, Password: password}
	}
	r.auth = auth
	for _, t := range []string{Tag, NextTag} {
		idx, err := IndexOf(t)
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("building the demo image: %w", err)
		}
		tag, err := name.NewTag(r.Addr+"/"+Repository+":"+t, name.Insecure)
		if err != nil {
			_ = r.Close()
			return nil, err
		}
		if err := remote.WriteIndex(tag, idx, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("pushing the demo image: %w", err)
		}
	}
	if err := pushFiles(ctx, r.Addr, auth); err != nil {
		_ = r.Close()
		return nil, err
	}
	if err := pushSupplyChain(ctx, r.Addr, auth); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// pushFiles pushes FilesImage as FilesRepository:Tag.
func pushFiles(ctx context.Context, addr string, auth authn.Authenticator) error {
	img, err := FilesImage()
	if err != nil {
		return fmt.Errorf("building the demo files image: %w", err)
	}
	tag, err := name.NewTag(addr+"/"+FilesRepository+":"+Tag, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
		return fmt.Errorf("pushing the demo files image: %w", err)
	}
	return nil
}

// Close stops the registry.
func (r *Registry) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.server.Shutdown(ctx)
}
