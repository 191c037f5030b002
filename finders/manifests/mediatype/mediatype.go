// Package mediatype decides what a registry's manifest body is, and parses it:
// an image index (OCI index or Docker manifest list), an image manifest (OCI or
// Docker schema 2), or something this project does not read (Docker schema 1,
// an artifact whose config is not an image config, an unknown media type). It
// refuses a Content-Type that names another kind of document than the body.
//
// It makes no request and knows nothing of references or registries: package
// manifests fetches, bounds and verifies the bytes, and turns a refusal into
// its typed *manifests.Error.
package mediatype

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Accepted are the manifest media types this package reads, in the order of
// the Accept header of manifest requests.
var Accepted = []types.MediaType{
	types.OCIImageIndex,
	types.DockerManifestList,
	types.OCIManifestSchema1,
	types.DockerManifestSchema2,
}

// Accept is the value of the Accept header of manifest requests: Accepted,
// comma-separated. Without it a registry may convert the manifest, or answer
// a HEAD with the digest of a converted one.
func Accept() string {
	s := make([]string, len(Accepted))
	for i, mt := range Accepted {
		s[i] = string(mt)
	}
	return strings.Join(s, ",")
}

// Document is a manifest body that Classify accepted: exactly one of Index and
// Manifest is set.
type Document struct {
	// MediaType is the body's mediaType, else the Content-Type, else the type its
	// fields show (an OCI index or an OCI image manifest).
	MediaType types.MediaType
	// Index is the parsed image index or manifest list.
	Index *v1.IndexManifest
	// Manifest is the parsed image manifest; its config is an image config.
	Manifest *v1.Manifest
}

// Error is why Classify refused a body. Its message is without the name of
// what was fetched; the caller adds it.
type Error struct {
	// Unsupported is true for a well-formed document this project does not read
	// (schema 1, an artifact, an unknown media type); false for a malformed one.
	Unsupported bool
	// Message describes the refusal. An unsupported document's starts with "unsupported: ".
	Message string
	// Err is the parser's error, if any.
	Err error
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the parser's error.
func (e *Error) Unwrap() error { return e.Err }

func invalid(err error, format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...), Err: err}
}

func unsupported(format string, args ...any) *Error {
	return &Error{Unsupported: true, Message: "unsupported: " + fmt.Sprintf(format, args...)}
}

// probe reads the fields that tell what kind of document a manifest body is.
type probe struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     json.RawMessage `json:"manifests"`
	Config        json.RawMessage `json:"config"`
}

// Classify decides what body is and parses it. contentType is the response's
// Content-Type header (or the media type it was stored under); the body's
// mediaType wins over it, and a body with neither is recognised by its fields
// (manifests: an index; config: an image manifest).
//
// The error is always an *Error.
func Classify(body []byte, contentType string) (*Document, error) {
	var p probe
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, invalid(err, "not valid JSON: %v", err)
	}
	mt := types.MediaType(p.MediaType)
	ct, _, _ := mime.ParseMediaType(contentType)
	if err := contentTypeAgrees(types.MediaType(ct), mt, p.SchemaVersion); err != nil {
		return nil, err
	}
	if mt == "" {
		mt = types.MediaType(ct)
	}
	switch {
	case p.SchemaVersion == 1, mt == types.DockerManifestSchema1, mt == types.DockerManifestSchema1Signed:
		return nil, unsupported("schema1 manifest; Docker schema 1 was retired, push the image again with a current client")
	case p.SchemaVersion != 2:
		return nil, invalid(nil, "schemaVersion is %d, want 2", p.SchemaVersion)
	}
	if !mt.IsIndex() && !mt.IsImage() {
		switch {
		case len(p.Manifests) > 0 && len(p.Config) == 0:
			mt = types.OCIImageIndex
		case len(p.Config) > 0 && len(p.Manifests) == 0:
			mt = types.OCIManifestSchema1
		default:
			return nil, unsupported("media type %q is neither an image manifest nor an index", mt)
		}
	}
	d := &Document{MediaType: mt}
	if mt.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(body))
		if err != nil {
			return nil, invalid(err, "invalid index: %v", err)
		}
		d.Index = idx
		return d, nil
	}
	m, err := v1.ParseManifest(bytes.NewReader(body))
	if err != nil {
		return nil, invalid(err, "invalid manifest: %v", err)
	}
	if m.Config.Digest.Hex == "" {
		return nil, invalid(nil, "invalid manifest: it has no config descriptor")
	}
	switch m.Config.MediaType {
	case types.OCIConfigJSON, types.DockerConfigJSON, "":
	default:
		return nil, unsupported("config media type %q is not an image config; this is an artifact, not an image", m.Config.MediaType)
	}
	d.Manifest = m
	return d, nil
}

// contentTypeAgrees refuses a Content-Type that names another manifest type than
// the body is: a registry that serves one document under another's type is broken
// or hostile, and either way the body cannot be trusted to be what it claims.
// Generic types (application/json, text/plain, none) leave the body to decide.
func contentTypeAgrees(ct, bodyType types.MediaType, schemaVersion int) *Error {
	schema1 := ct == types.DockerManifestSchema1 || ct == types.DockerManifestSchema1Signed
	if !ct.IsIndex() && !ct.IsImage() && !schema1 {
		return nil
	}
	if schema1 && schemaVersion == 2 || bodyType != "" && ct != bodyType {
		return invalid(nil, "the Content-Type %q disagrees with the body (mediaType %q, schemaVersion %d)", ct, bodyType, schemaVersion)
	}
	return nil
}
