package supplychain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// Bounds of a listing.
const (
	// MaxReferrersIndexSize bounds the bytes read of one referrers index (API
	// page or fallback tag); reading also stops once the entries are full.
	MaxReferrersIndexSize = manifests.MaxManifestSize
	// MaxReferrerManifestSize bounds one referrer's manifest.
	MaxReferrerManifestSize = 256 << 10
	// maxPages bounds the referrers API pages followed through Link headers.
	maxPages = 5
	// maxAnnotations, maxAnnotationKey and maxAnnotationValue bound the
	// annotations kept per entry.
	maxAnnotations     = 32
	maxAnnotationKey   = 256
	maxAnnotationValue = 4096
)

// cosignSuffixes are cosign's tag conventions, after sha256-<hex>.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// ListReferrers lists what is attached to o.Subjects, in this order: cosign's
// tags sha256-<hex>.sig, .att and .sbom of each subject (a HEAD each; a missing
// tag is not an error); the BuildKit attestation manifests of o.Index whose
// vnd.docker.reference.digest is a subject (attestations of the index's other
// platforms are not listed); then, for each subject, the OCI 1.1 referrers API,
// or its tag-schema fallback (tag sha256-<hex>) when the API answers 404 (or
// 400/406, as registries without it do). After a 404 the API is not asked for
// the other subjects. The bounded sources come first, so that a long referrers
// list cannot crowd them out.
//
// Each entry of a referrers index is fetched by digest (at most
// MaxReferrerManifestSize, verified against the digest) to classify it and to
// check its subject: one naming another digest is ignored and counted in
// IgnoredSubjects. At most o.Max entries are kept; past that, or after 2×Max
// manifest fetches, Truncated is set and reading stops, so a referrers index of
// any length costs bounded memory and bytes. A fallback tag that is not an
// index is skipped, and Notes says so: one bad tag does not hide the rest.
//
// With o.Registry.Cache.Sessions set, the listing reuses the session of the
// resolution of the same repository with the same credentials
// (manifests.Connect), and costs no handshake while it is cached.
// Requests counts every registry request answered, the handshake included.
// Errors are *manifests.Error; the entries found before an error are returned
// with it. One Options.Network.Timeout (default manifests.DefaultTimeout) bounds the
// whole listing, authentication included.
//
// go-containerregistry's remote.Referrers is not used: it does not tell which
// source answered (API or fallback tag), follows no Link pages, and reads a
// whole index into memory, up to its 100 MiB manifest limit.
func ListReferrers(ctx context.Context, o ReferrersOptions) (*Referrers, error) {
	if len(o.Subjects) == 0 {
		return nil, errors.New("referrers: no subject digest to list referrers for")
	}
	subjects := make([]v1.Hash, 0, len(o.Subjects))
	for _, s := range o.Subjects {
		h, err := v1.NewHash(s)
		if err != nil {
			return nil, fmt.Errorf("referrers: subject %q is not a digest: %w", oneLine(s), err)
		}
		subjects = append(subjects, h)
	}
	timeout := o.Registry.Network.Timeout
	if timeout <= 0 {
		timeout = manifests.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l, err := connect(ctx, o)
	if err != nil {
		return nil, typedError(err)
	}
	out, err := l.list(ctx, subjects, o.Index)
	out.Requests = int(l.requests.Load())
	return out, typedError(err)
}

// lister holds one listing's connection and bounded results.
type lister struct {
	client   *http.Client
	base     string // scheme://host/v2/repository
	repo     string
	max      int
	requests *atomic.Int64

	out     *Referrers
	seen    map[string]bool
	fetches int
	full    bool // no more entries are taken
	// noAPI is set once the referrers API answered 404: by the OCI distribution
	// spec (1.1) a registry that supports it never does, so the other subjects
	// go straight to the fallback tag.
	noAPI bool
}

// list reads the bounded sources first (cosign's tags, the index's attestation
// manifests), then the referrers API or its fallback, whose length the registry
// decides: a long referrers list cannot crowd out a cosign signature.
func (l *lister) list(ctx context.Context, subjects []v1.Hash, index []byte) (*Referrers, error) {
	for _, s := range subjects {
		if err := l.cosignTags(ctx, s); err != nil {
			return l.out, err
		}
	}
	if err := l.indexAttestations(ctx, subjects, index); err != nil {
		return l.out, err
	}
	for _, s := range subjects {
		if err := l.referrers(ctx, s); err != nil {
			return l.out, err
		}
	}
	return l.out, nil
}

// add keeps r unless the entries are full, which it marks as truncated.
func (l *lister) add(r Referrer) {
	key := r.Digest + "|" + r.Subject + "|" + r.Kind + "|" + r.Format + "|" + r.Annotations[PredicateTypeAnnotation]
	if l.seen[key] {
		return
	}
	if len(l.out.Entries) >= l.max {
		l.out.Truncated, l.full = true, true
		return
	}
	l.seen[key] = true
	l.out.Entries = append(l.out.Entries, r)
}

func (l *lister) note(format string, args ...any) {
	if len(l.out.Notes) < l.max {
		l.out.Notes = append(l.out.Notes, oneLine(fmt.Sprintf(format, args...)))
	}
}

// referrers lists the referrers API for s, or the tag-schema fallback. After
// the API answered 404 for one subject it is not asked again: a registry that
// supports the API "MUST NOT return a 404 Not Found to a referrers API request"
// (OCI distribution spec 1.1, listing referrers).
func (l *lister) referrers(ctx context.Context, s v1.Hash) error {
	if l.noAPI {
		return l.fallback(ctx, s)
	}
	u := l.base + "/referrers/" + s.String()
	for page := 0; page < maxPages && u != "" && !l.full; page++ {
		resp, err := l.get(ctx, u, string(types.OCIImageIndex))
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusOK && mediaType(resp) == types.OCIImageIndex:
			next := nextLink(resp)
			err = l.walkIndex(ctx, resp.Body, s, SourceReferrersAPI, u)
			resp.Body.Close()
			if err != nil {
				return err
			}
			u = next
		case page == 0 && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound ||
			resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotAcceptable):
			resp.Body.Close()
			l.noAPI = resp.StatusCode == http.StatusNotFound
			return l.fallback(ctx, s)
		default:
			err := transport.CheckError(resp, http.StatusOK)
			resp.Body.Close()
			if err == nil {
				err = fmt.Errorf("answered %s with Content-Type %q, not an index", resp.Status, resp.Header.Get("Content-Type"))
			}
			return fmt.Errorf("referrers of %s@%s: %w", l.repo, s, err)
		}
	}
	return nil
}

// fallback reads the tag-schema fallback sha256-<hex>.
func (l *lister) fallback(ctx context.Context, s v1.Hash) error {
	tag := s.Algorithm + "-" + s.Hex
	resp, err := l.get(ctx, l.base+"/manifests/"+tag, manifestAccept)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return fmt.Errorf("referrers fallback tag %s:%s: %w", l.repo, tag, err)
	}
	if mt := mediaType(resp); !mt.IsIndex() {
		l.note("fallback tag %s:%s is a %q, not an index: skipped", l.repo, tag, mt)
		return nil
	}
	return l.walkIndex(ctx, resp.Body, s, SourceTagSchema, l.repo+":"+tag)
}

// walkIndex reads the manifests of a referrers index one at a time, and stops
// once the entries are full: the bytes read are bounded by the entries kept.
func (l *lister) walkIndex(ctx context.Context, body io.Reader, s v1.Hash, source, what string) error {
	dec := json.NewDecoder(io.LimitReader(body, MaxReferrersIndexSize))
	bad := func(err error) error {
		return &manifests.Error{Reason: manifests.InvalidManifest, Message: oneLine(fmt.Sprintf("referrers index %s: %v", what, err)), Err: err}
	}
	if t, err := dec.Token(); err != nil {
		return bad(err)
	} else if t != json.Delim('{') {
		return bad(fmt.Errorf("not a JSON object"))
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		if t != "manifests" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad(err)
			}
			continue
		}
		if t, err := dec.Token(); err != nil {
			return bad(err)
		} else if t == nil {
			continue
		} else if t != json.Delim('[') {
			return bad(fmt.Errorf("manifests is not a list"))
		}
		for dec.More() {
			if l.full {
				return nil
			}
			var d v1.Descriptor
			if err := dec.Decode(&d); err != nil {
				return bad(err)
			}
			if err := l.entry(ctx, d, s, source); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return bad(err)
		}
	}
	return nil
}

// artifact is the part of a referrer's manifest that classifies it.
type artifact struct {
	MediaType    types.MediaType   `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       v1.Descriptor     `json:"config"`
	Layers       []v1.Descriptor   `json:"layers"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

// entry fetches one listed referrer, checks its subject and keeps it.
func (l *lister) entry(ctx context.Context, d v1.Descriptor, s v1.Hash, source string) error {
	if len(l.out.Entries) >= l.max || l.fetches >= 2*l.max {
		l.out.Truncated, l.full = true, true
		return nil
	}
	l.fetches++
	raw, err := l.manifest(ctx, d.Digest)
	if skipped(err) {
		l.note("referrer %s of %s: %v: skipped", d.Digest, s, err)
		return nil
	} else if err != nil {
		return err
	}
	if raw == nil {
		l.note("referrer %s of %s is listed but not found: skipped", d.Digest, s)
		return nil
	}
	var a artifact
	if err := json.Unmarshal(raw, &a); err != nil {
		l.note("referrer %s of %s does not parse: skipped", d.Digest, s)
		return nil
	}
	if a.Subject == nil || a.Subject.Digest != s {
		l.out.IgnoredSubjects++
		return nil
	}
	at := a.ArtifactType
	if at == "" && a.Config.MediaType != types.OCIConfigJSON && a.Config.MediaType != types.DockerConfigJSON {
		at = string(a.Config.MediaType)
	}
	c := classification{artifactType: at, predicate: predicate(a.Annotations)}
	for _, layer := range a.Layers {
		c.layerTypes = append(c.layerTypes, string(layer.MediaType))
		if c.predicate == "" {
			c.predicate = predicate(layer.Annotations)
		}
	}
	kind, format := classify(c)
	l.add(Referrer{Digest: d.Digest.String(), ArtifactType: at, Kind: kind, Format: format, Source: source,
		Subject: s.String(), Annotations: boundAnnotations(a.Annotations)})
	return nil
}

// predicate is the in-toto predicate type named by annotations, if any.
func predicate(a map[string]string) string {
	for _, k := range []string{PredicateTypeAnnotation, cosignPredicateAnnotation, sigstoreBundlePredicateAnnotation} {
		if v := a[k]; v != "" {
			return v
		}
	}
	return ""
}

// cosignTags checks cosign's tags for s with a HEAD each.
func (l *lister) cosignTags(ctx context.Context, s v1.Hash) error {
	for _, suffix := range cosignSuffixes {
		if l.full {
			return nil
		}
		tag := s.Algorithm + "-" + s.Hex + suffix
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, l.base+"/manifests/"+tag, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", manifestAccept)
		resp, err := l.client.Do(req)
		if err != nil {
			return fmt.Errorf("cosign tag %s:%s: %w", l.repo, tag, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			continue
		}
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			return fmt.Errorf("cosign tag %s:%s: %w", l.repo, tag, err)
		}
		digest := resp.Header.Get("Docker-Content-Digest")
		if _, err := v1.NewHash(digest); err != nil {
			l.note("cosign tag %s:%s answered HEAD without a digest: skipped", l.repo, tag)
			continue
		}
		kind, format := classify(classification{cosignTag: suffix})
		l.add(Referrer{Digest: digest, ArtifactType: string(mediaType(resp)), Kind: kind, Format: format,
			Source: SourceCosignTag, Subject: s.String()})
	}
	return nil
}

// indexAttestations lists the BuildKit attestation manifests of index whose
// reference digest is a subject, one entry per attestation layer.
func (l *lister) indexAttestations(ctx context.Context, subjects []v1.Hash, index []byte) error {
	if len(index) == 0 || l.full {
		return nil
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(index, &im); err != nil {
		return &manifests.Error{Reason: manifests.InvalidManifest, Message: fmt.Sprintf("image index: %v", err), Err: err}
	}
	for _, d := range im.Manifests {
		if d.Annotations[ReferenceTypeAnnotation] != AttestationManifestType {
			continue
		}
		ref := d.Annotations[ReferenceDigestAnnotation]
		if !isSubject(ref, subjects) {
			continue
		}
		if l.full || l.fetches >= 2*l.max {
			l.out.Truncated, l.full = true, true
			return nil
		}
		l.fetches++
		raw, err := l.manifest(ctx, d.Digest)
		if skipped(err) {
			l.note("attestation manifest %s of %s: %v: skipped", d.Digest, ref, err)
			continue
		} else if err != nil {
			return err
		}
		var a artifact
		if raw == nil || json.Unmarshal(raw, &a) != nil {
			l.note("attestation manifest %s of %s is missing or does not parse: skipped", d.Digest, ref)
			continue
		}
		for _, layer := range a.Layers {
			p := layer.Annotations[PredicateTypeAnnotation]
			kind, format := classify(classification{artifactType: string(layer.MediaType), predicate: p})
			l.add(Referrer{Digest: d.Digest.String(), ArtifactType: string(layer.MediaType), Kind: kind, Format: format,
				Source: SourceIndex, Subject: ref, Annotations: boundAnnotations(layer.Annotations)})
		}
	}
	return nil
}

func isSubject(ref string, subjects []v1.Hash) bool {
	for _, s := range subjects {
		if s.String() == ref {
			return true
		}
	}
	return false
}

// skipped reports whether err is about one manifest's content (over its bound,
// or not what its digest says): that manifest is skipped, and the listing goes on.
func skipped(err error) bool {
	r := manifests.ReasonOf(err)
	return err != nil && (r == manifests.TooLarge || r == manifests.DigestMismatch)
}

// manifestAccept is what a manifest request accepts.
var manifestAccept = strings.Join([]string{string(types.OCIImageIndex), string(types.OCIManifestSchema1),
	string(types.DockerManifestList), string(types.DockerManifestSchema2)}, ",")

// manifest GETs a manifest by digest, bounded and verified; nil when not found.
func (l *lister) manifest(ctx context.Context, d v1.Hash) ([]byte, error) {
	resp, err := l.get(ctx, l.base+"/manifests/"+d.String(), manifestAccept)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, fmt.Errorf("manifest %s@%s: %w", l.repo, d, err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxReferrerManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("manifest %s@%s: %w", l.repo, d, err)
	}
	if len(raw) > MaxReferrerManifestSize {
		return nil, &manifests.Error{Reason: manifests.TooLarge, Message: fmt.Sprintf("manifest is over %d bytes", MaxReferrerManifestSize)}
	}
	got, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil || got != d {
		return nil, &manifests.Error{Reason: manifests.DigestMismatch, Message: fmt.Sprintf("manifest hashed to %s", got)}
	}
	return raw, nil
}

// get sends a GET; the caller closes the body.
func (l *lister) get(ctx context.Context, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return resp, nil
}

// mediaType is a response's Content-Type without parameters.
func mediaType(resp *http.Response) types.MediaType {
	ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return types.MediaType(strings.TrimSpace(ct))
}

// nextLink is the absolute URL of a Link: <…>; rel="next" header, or "".
func nextLink(resp *http.Response) string {
	for _, v := range resp.Header.Values("Link") {
		target, params, ok := strings.Cut(v, ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		target = strings.Trim(strings.TrimSpace(target), "<>")
		u, err := resp.Request.URL.Parse(target)
		if err != nil || u.Host != resp.Request.URL.Host {
			return ""
		}
		return u.String()
	}
	return ""
}

// boundAnnotations keeps at most maxAnnotations annotations, each cut to its
// bounds. Values are kept as they are (markup included): they are data.
func boundAnnotations(a map[string]string) map[string]string {
	if len(a) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(a))
	out := make(map[string]string, min(len(a), maxAnnotations))
	for _, k := range keys {
		if len(out) >= maxAnnotations {
			break
		}
		if len(k) > maxAnnotationKey {
			continue
		}
		v := a[k]
		if len(v) > maxAnnotationValue {
			v = strings.ToValidUTF8(v[:maxAnnotationValue], "")
		}
		out[k] = v
	}
	return out
}
