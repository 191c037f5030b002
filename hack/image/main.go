// Command image builds the manager's multi-platform container image without a
// Docker engine: it cross-compiles the manager for each platform with the Go
// toolchain (static, -trimpath) and assembles an OCI index with
// internal/imagebuild. It pushes the index to --image, or writes an OCI layout
// to --layout.
//
// The same commit gives the same digest: file and config dates come from
// SOURCE_DATE_EPOCH, or else the commit's time; the CA bundle comes from a Go
// module pinned in go.mod, not from the build machine.
//
//	go run ./hack/image --image 127.0.0.1:5001/imageconfig-operator:dev
//	go run ./hack/image --layout bin/image
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imageconfig/imageconfig-operator/internal/imagebuild"
)

type options struct {
	platforms, pkg, image, layoutDir, buildDir, insecure string
	source, version, revision, base, caBundle            string
	timeout                                              time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.platforms, "platforms", "linux/amd64,linux/arm64", "Comma-separated os/arch[/variant] list of the index's platforms.")
	flag.StringVar(&o.pkg, "package", "./cmd/manager", "The Go package to build.")
	flag.StringVar(&o.image, "image", "", "Push the index to this reference (host[:port]/repo:tag). Empty: write an OCI layout to --layout.")
	flag.StringVar(&o.layoutDir, "layout", "bin/image", "The OCI layout directory written when --image is empty; it is replaced.")
	flag.StringVar(&o.buildDir, "build-dir", "bin/image-build", "Where the per-platform binaries are built.")
	flag.StringVar(&o.insecure, "insecure", "auto", "Plain HTTP to the registry: true, false, or auto (true for localhost and loopback addresses only).")
	flag.StringVar(&o.source, "source", "https://github.com/imageconfig/imageconfig-operator", "The org.opencontainers.image.source label.")
	flag.StringVar(&o.version, "version", "", "The org.opencontainers.image.version label (default: git describe --tags --always --dirty).")
	flag.StringVar(&o.revision, "revision", "", "The org.opencontainers.image.revision label (default: git rev-parse HEAD).")
	flag.StringVar(&o.base, "base", "", "A base image to build on, such as gcr.io/distroless/static:nonroot; it replaces the built-in users and CA layer. Empty: build from scratch.")
	flag.StringVar(&o.caBundle, "ca-bundle", "", "A PEM file to use as the image's CA bundle instead of the one of golang.org/x/crypto/x509roots/fallback.")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "Overall timeout for building and pushing.")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "image: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "image: "+format+"\n", args...) }

func run(ctx context.Context, o options) error {
	m, err := metadata(o)
	if err != nil {
		return err
	}
	var ca []byte
	if o.base == "" {
		if o.caBundle != "" {
			if ca, err = os.ReadFile(o.caBundle); err != nil {
				return fmt.Errorf("--ca-bundle: %w", err)
			}
		} else {
			ca = imagebuild.CABundle()
		}
	}
	var ref name.Reference
	var nameOpts []name.Option
	if o.image != "" {
		if nameOpts, err = insecureOption(o.image, o.insecure); err != nil {
			return err
		}
		if ref, err = name.ParseReference(o.image, nameOpts...); err != nil {
			return fmt.Errorf("--image %q: %w", o.image, err)
		}
	}
	var platforms []imagebuild.Platform
	for _, s := range strings.Split(o.platforms, ",") {
		p, err := imagebuild.ParsePlatform(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("--platforms: %w", err)
		}
		bin, err := build(ctx, o, p)
		if err != nil {
			return err
		}
		ip := imagebuild.Platform{Platform: p, Binary: bin}
		if o.base != "" {
			if ip.Base, err = pullBase(ctx, o.base, p); err != nil {
				return err
			}
			ip.BaseName = o.base
		}
		platforms = append(platforms, ip)
	}
	idx, err := imagebuild.Index(platforms, ca, m)
	if err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("index digest: %w", err)
	}
	if ref != nil {
		logf("pushing %s", ref)
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("imageconfig-operator-hack-image")); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		fmt.Printf("%s@%s\n", ref.Context().Name(), digest)
		return nil
	}
	if err := writeLayout(o.layoutDir, idx); err != nil {
		return err
	}
	logf("wrote the OCI layout %s", o.layoutDir)
	fmt.Printf("%s@%s\n", o.layoutDir, digest)
	return nil
}

// metadata reads the labels' values and the timestamp from the flags, the
// environment and git.
func metadata(o options) (imagebuild.Metadata, error) {
	m := imagebuild.Metadata{Source: o.source, Version: o.version, Revision: o.revision}
	if m.Version == "" {
		m.Version = git("describe", "--tags", "--always", "--dirty")
	}
	if m.Revision == "" {
		m.Revision = git("rev-parse", "HEAD")
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	from := "SOURCE_DATE_EPOCH"
	if epoch == "" {
		epoch, from = git("log", "-1", "--format=%ct"), "the commit's time"
	}
	if epoch == "" {
		logf("no SOURCE_DATE_EPOCH and no git commit: dating the image 1970-01-01")
		epoch = "0"
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || sec < 0 {
		return m, fmt.Errorf("%s %q is not a non-negative count of seconds since 1970", from, epoch)
	}
	m.Created = time.Unix(sec, 0).UTC()
	logf("version %s, revision %s, created %s (from %s)", m.Version, m.Revision, m.Created.Format(time.RFC3339), from)
	return m, nil
}

func git(args ...string) string {
	out, err := exec.Command("git", args...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// build cross-compiles the package for p, reproducibly: no cgo, no paths of the
// build machine, no VCS stamp, no build ID, and none of the user's GOFLAGS,
// GOAMD64, GOEXPERIMENT, … (see buildEnv). Go's build cache makes a rebuild
// of an unchanged tree quick.
func build(ctx context.Context, o options, p v1.Platform) ([]byte, error) {
	out := filepath.Join(o.buildDir, "manager-"+p.OS+"-"+p.Architecture+p.Variant)
	if err := os.MkdirAll(o.buildDir, 0o755); err != nil {
		return nil, err
	}
	goEnv, err := userGoEnv(ctx)
	if err != nil {
		return nil, err
	}
	env := buildEnv(os.Environ(), goEnv, p)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out, o.pkg)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build %s for %s/%s: %w", o.pkg, p.OS, p.Architecture, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	logf("built %s for %s/%s%s in %s (%d bytes)", o.pkg, p.OS, p.Architecture, variantSuffix(p), time.Since(start).Round(time.Millisecond), len(b))
	return b, nil
}

func variantSuffix(p v1.Platform) string {
	if p.Variant == "" {
		return ""
	}
	return "/" + p.Variant
}

// insecureOption decides whether the registry is spoken to over plain HTTP.
// "auto" allows it for localhost and loopback addresses only.
func insecureOption(image, mode string) ([]name.Option, error) {
	switch mode {
	case "true":
		return []name.Option{name.Insecure}, nil
	case "false":
		return nil, nil
	case "auto", "":
		host := image
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i]
		}
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return []name.Option{name.Insecure}, nil
		}
		return nil, nil
	default:
		return nil, fmt.Errorf("--insecure %q: want true, false or auto", mode)
	}
}

func pullBase(ctx context.Context, base string, p v1.Platform) (v1.Image, error) {
	ref, err := name.ParseReference(base)
	if err != nil {
		return nil, fmt.Errorf("--base %q: %w", base, err)
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithPlatform(p), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, fmt.Errorf("pulling the base %s for %s/%s: %w", base, p.OS, p.Architecture, err)
	}
	return img, nil
}

// writeLayout replaces dir with an OCI layout whose index.json names the index.
func writeLayout(dir string, idx v1.ImageIndex) error {
	if dir == "" {
		return errors.New("--layout: empty path")
	}
	// Replace only what is an OCI layout already, never a directory of something else.
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("--layout %s exists and is not an OCI layout; not replacing it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("--layout: %w", err)
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("--layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx); err != nil {
		return fmt.Errorf("--layout %s: %w", dir, err)
	}
	return nil
}
