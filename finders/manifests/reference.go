package manifests

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// isDockerHub reports whether a registry, as written, names Docker Hub; empty does.
func isDockerHub(host string) bool { return host == "" || auth.IsDockerHub(host) }

var (
	tagPattern        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	repositoryPattern = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
)

// reference is a validated, normalised image reference.
type reference struct {
	// host is the registry host contacted, with its port.
	host string
	// repo is the go-containerregistry repository on host, with Docker Hub's "library/" added.
	repo name.Repository
	// tag and digest: exactly one is set.
	tag    string
	digest v1.Hash
	// canonical is the reference users see, such as "index.docker.io/library/nginx:1.27".
	canonical string
	// authRepo is the repository that credentials are looked up for. For Docker Hub it
	// is on index.docker.io, the key that docker's config.json uses.
	authRepo name.Repository
}

// identifier is what follows manifests/ in a request path.
func (r reference) identifier() string {
	if r.tag != "" {
		return r.tag
	}
	return r.digest.String()
}

// describe names the reference in messages.
func (r reference) describe() string { return r.canonical }

func parseReference(o Options) (reference, error) {
	host := strings.TrimSpace(o.Registry)
	if strings.Contains(host, "://") {
		return reference{}, newError(InvalidReference, nil, "registry %q must be a host with an optional :port, without a scheme such as https://", o.Registry)
	}
	if strings.ContainsAny(host, "/ ") {
		return reference{}, newError(InvalidReference, nil, "registry %q must be a host with an optional :port", o.Registry)
	}
	hub := isDockerHub(host)
	canonicalHost := host
	if hub {
		// registry-1.docker.io is Docker Hub's API host; index.docker.io is its canonical name.
		host, canonicalHost = DefaultRegistry, name.DefaultRegistry
	}

	repo := o.Repository
	switch {
	case repo == "":
		return reference{}, newError(InvalidReference, nil, "repository must not be empty")
	case len(repo) > 255:
		return reference{}, newError(InvalidReference, nil, "repository %q is longer than 255 characters", truncate(repo, 64))
	case !repositoryPattern.MatchString(repo):
		return reference{}, newError(InvalidReference, nil, "repository %q is invalid: want lowercase components separated by \"/\", with \".\", \"_\", \"__\" or \"-\" inside a component", repo)
	}
	if hub && !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}

	var opts []name.Option
	if o.Network.Insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, append(opts, name.StrictValidation)...)
	if err != nil {
		return reference{}, newError(InvalidReference, err, "registry %q is invalid: want a host with an optional :port", o.Registry)
	}
	authReg, err := name.NewRegistry(canonicalHost, opts...)
	if err != nil {
		return reference{}, newError(InvalidReference, err, "registry %q is invalid: want a host with an optional :port", o.Registry)
	}

	ref := reference{host: host, repo: reg.Repo(repo), authRepo: authReg.Repo(repo)}
	switch {
	case o.Tag != "" && o.Digest != "":
		return reference{}, newError(InvalidReference, nil, "tag %q and digest %q are mutually exclusive: set one of them", o.Tag, o.Digest)
	case o.Digest != "":
		h, err := v1.NewHash(o.Digest)
		if err != nil || (h.Algorithm != "sha256" && h.Algorithm != "sha512") {
			return reference{}, newError(InvalidReference, err, "digest %q is invalid: want sha256: and 64 hex characters, or sha512: and 128", o.Digest)
		}
		ref.digest = h
		ref.canonical = fmt.Sprintf("%s/%s@%s", canonicalHost, repo, h)
	default:
		tag := o.Tag
		if tag == "" {
			tag = "latest"
		}
		if !tagPattern.MatchString(tag) {
			return reference{}, newError(InvalidReference, nil, "tag %q is invalid: want up to 128 of [A-Za-z0-9_.-], not starting with \".\" or \"-\"", tag)
		}
		ref.tag = tag
		ref.canonical = fmt.Sprintf("%s/%s:%s", canonicalHost, repo, tag)
	}
	return ref, nil
}

// ParseReference splits a Docker-style reference such as "nginx", "nginx:1.27",
// "ghcr.io/org/app:v1" or "localhost:5000/x@sha256:…" into the Registry,
// Repository, Tag and Digest of Options. A reference that names no registry
// gets defaultRegistry (DefaultRegistry when empty).
func ParseReference(s, defaultRegistry string) (Options, error) {
	if defaultRegistry == "" {
		defaultRegistry = DefaultRegistry
	}
	if strings.Contains(s, "://") {
		return Options{}, newError(InvalidReference, nil, "reference %q must not have a scheme such as https://", s)
	}
	ref, err := name.ParseReference(s, name.WithDefaultRegistry(defaultRegistry), name.StrictValidation)
	if err != nil {
		// Non-strict parsing accepts a missing tag; strict parsing does not.
		ref, err = name.ParseReference(s, name.WithDefaultRegistry(defaultRegistry))
	}
	if err != nil {
		return Options{}, newError(InvalidReference, err, "reference %q is invalid: %v", s, err)
	}
	o := Options{Registry: ref.Context().RegistryStr(), Repository: ref.Context().RepositoryStr()}
	switch r := ref.(type) {
	case name.Tag:
		o.Tag = r.TagStr()
	case name.Digest:
		o.Digest = r.DigestStr()
	}
	// go-containerregistry added "library/" only for index.docker.io; Options handle
	// every Docker Hub name, so keep what was written.
	if isDockerHub(o.Registry) && strings.HasPrefix(o.Repository, "library/") && !strings.Contains(s, "library/") {
		o.Repository = strings.TrimPrefix(o.Repository, "library/")
	}
	return o, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Requested returns what o asks for, without any request: the canonical
// reference, such as "index.docker.io/library/nginx:1.27", and the platform
// normalised the way selection sees it, as os/architecture[/variant] ("linux/arm64"
// is "linux/arm64/v8"; empty means linux/amd64). The error is an *Error with
// reason InvalidReference when o does not name an image.
func Requested(o Options) (imageRef, platform string, err error) {
	ref, err := parseReference(o)
	if err != nil {
		return "", "", err
	}
	p := o.Platform
	if p.OS == "" && p.Architecture == "" {
		p.OS, p.Architecture = "linux", "amd64"
	}
	return ref.canonical, platforms.Normalize(p).String(), nil
}
