package supplychain

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// notFound answers every request with 404.
type notFound struct{}

func (notFound) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// FuzzWalkIndex feeds referrers indexes from the registry (untrusted bytes) to
// the streaming reader: it must not panic, and never keeps or fetches more than
// its bounds.
func FuzzWalkIndex(f *testing.F) {
	d := "sha256:" + strings.Repeat("a", 64)
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d + `","size":1}]}`))
	f.Add([]byte(`{"manifests":null}`))
	f.Add([]byte(`{"manifests":{}}`))
	f.Add([]byte(`{"manifests":[1,2,3]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":{"b":[{"c":"d"}]},"manifests":[{"digest":"sha256:zz"}]}`))
	f.Add(append([]byte(`{"manifests":[`), bytes.Repeat([]byte(`{"digest":"`+d+`"},`), 100)...))
	subject, _ := v1.NewHash("sha256:" + strings.Repeat("b", 64))
	f.Fuzz(func(t *testing.T, body []byte) {
		l := &lister{client: &http.Client{Transport: notFound{}}, base: "http://127.0.0.1:1/v2/r", repo: "r", max: 3,
			requests: &atomic.Int64{}, out: &Referrers{}, seen: map[string]bool{}}
		_ = l.walkIndex(context.Background(), bytes.NewReader(body), subject, SourceTagSchema, "fuzz")
		if len(l.out.Entries) > l.max || l.fetches > 2*l.max || len(l.out.Notes) > l.max {
			t.Fatalf("over the bounds: %d entries, %d fetches, %d notes", len(l.out.Entries), l.fetches, len(l.out.Notes))
		}
	})
}
