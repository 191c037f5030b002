package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

func init() { addCommand(newServeCommand) }

func newServeCommand(a *app) *cobra.Command {
	var addr string
	var ttl time.Duration
	var entries int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the web UI for references resolved on demand",
		Long: `serve starts the operator's web UI without a cluster: a form takes a REF and a
platform, and the one-image page shows it, resolved through the registry with
the credential flags. Results are kept in memory for --cache-ttl.

The UI shows image metadata to whoever can reach --address; on loopback it
answers only to localhost, 127.0.0.1 or [::1].`,
		Example: `  imageconfig serve
  imageconfig serve --insecure --registry 127.0.0.1:5001   # make dev's demo registry`,
		Args: exactRefs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkFlags(); err != nil {
				return err
			}
			if entries < 1 || ttl <= 0 {
				return &usageError{"--cache-entries and --cache-ttl must be positive"}
			}
			src := &resolveSource{a: a, ttl: ttl, max: entries, now: time.Now}
			h, err := ui.New(ui.Options{Source: src, Instruction: manifests.DockerfileLine, Title: "imageconfig serve"})
			if err != nil {
				return err
			}
			srv := &ui.Server{Addr: addr, Handler: h, Listening: func(bound string) {
				fmt.Fprintf(a.stdout, "Serving the web UI on http://%s/ (Ctrl-C stops it)\n", bound)
			}}
			if err := srv.Start(cmd.Context()); err != nil {
				return &registryError{err}
			}
			return nil
		},
	}
	a.addRegistryFlags(cmd.Flags())
	cmd.Flags().StringVar(&addr, "address", "127.0.0.1:8083", "address to serve the UI on")
	cmd.Flags().DurationVar(&ttl, "cache-ttl", 5*time.Minute, "how long a resolution is kept and shown again without asking the registry")
	cmd.Flags().IntVar(&entries, "cache-entries", 64, "how many resolutions are kept")
	return cmd
}

// resolveSource is the UI's data on demand: it resolves references with the
// finders and keeps the last results in memory. It has no namespaced objects.
type resolveSource struct {
	a   *app
	ttl time.Duration
	max int
	now func() time.Time

	optsMu sync.Mutex // app.options reads --password-stdin once
	mu     sync.Mutex
	cache  []cached // most recent first
	// resolve is manifests.Resolve; tests replace it.
	resolve func(context.Context, manifests.Options) (*manifests.Result, error)
}

type cached struct {
	key  string
	at   time.Time
	item ui.Item
}

// List returns the cached resolutions, most recent first.
func (s *resolveSource) List(context.Context) ([]ui.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	items := make([]ui.Item, len(s.cache))
	for i, c := range s.cache {
		items[i] = c.item
	}
	return items, nil
}

// Get finds nothing: references resolved on demand have no namespace.
func (s *resolveSource) Get(_ context.Context, namespace, name string) (*ui.Item, error) {
	return nil, fmt.Errorf("imageconfig serve has no ImageConfig %s/%s: %w", namespace, name, ui.ErrNotFound)
}

// options builds the finder options for ref and platform (the command's
// --platform when empty); the flags are shared, hence the lock.
func (s *resolveSource) options(ref, platform string) (manifests.Options, error) {
	if platform == "" {
		platform = s.a.platform
	}
	s.optsMu.Lock()
	defer s.optsMu.Unlock()
	return s.a.options(ref, platform)
}

// Resolve resolves ref for platform, or answers from the cache. A registry
// failure becomes the item's Ready condition, and is not cached.
func (s *resolveSource) Resolve(ctx context.Context, ref, platform string) (*ui.Item, error) {
	opts, err := s.options(ref, platform)
	if err != nil {
		return nil, err
	}
	imageRef, requestedPlatform, err := manifests.Requested(opts)
	if err != nil {
		return nil, err
	}
	key := imageRef + " " + requestedPlatform
	s.mu.Lock()
	s.expire()
	for _, c := range s.cache {
		if c.key == key {
			s.mu.Unlock()
			return &c.item, nil
		}
	}
	s.mu.Unlock()

	resolve := s.resolve
	if resolve == nil {
		resolve = manifests.Resolve
	}
	now := s.now()
	res, rerr := resolve(ctx, opts)
	it := ui.Item{Object: imagesv1alpha1.ImageConfig{Spec: imagestatus.Spec(opts)}}
	obj := &it.Object
	if rerr != nil {
		imagestatus.MarkFailed(obj, rerr, now)
	} else {
		obj.Status.LastCheckedTime = &metav1.Time{Time: now}
		imagestatus.MarkResolved(obj, res, now)
		if steps, err := manifests.History(res.RawConfig, res.Layers); err == nil {
			for _, step := range steps {
				it.Steps = append(it.Steps, ui.Step{Layer: step.Layer, Size: step.Size, Digest: step.Digest, EmptyLayer: step.EmptyLayer, CreatedBy: step.CreatedBy, Comment: step.Comment})
			}
		}
	}
	st := &obj.Status
	st.RequestedImageRef, st.RequestedPlatform = imageRef, requestedPlatform
	if rerr == nil {
		s.mu.Lock()
		s.cache = append([]cached{{key: key, at: now, item: it}}, s.cache...)
		if len(s.cache) > s.max {
			s.cache = s.cache[:s.max]
		}
		s.mu.Unlock()
	}
	return &it, nil
}

// expire drops results older than the TTL; s.mu is held.
func (s *resolveSource) expire() {
	now := s.now()
	kept := s.cache[:0]
	for _, c := range s.cache {
		if now.Sub(c.at) < s.ttl {
			kept = append(kept, c)
		}
	}
	s.cache = kept
}
