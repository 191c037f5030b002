package testregistry

import (
	"net/http"
	"path"
	"strings"
	"sync"
)

// Request is one logged request to a /v2/ path or the token endpoint.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path, e.g. "/v2/library/app/manifests/v1" or "/token".
	Path string
	// Query is the raw query string (without "?"), e.g. the token scope.
	Query string
	// HasAuth reports whether the request carried an Authorization header.
	HasAuth bool
}

// RequestLog records the requests a Registry receives, in arrival order. It
// is safe for concurrent use. Fixture pushes are not recorded.
type RequestLog struct {
	mu   sync.Mutex
	reqs []Request
}

func (l *RequestLog) add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
}

// Requests returns a copy of the logged requests.
func (l *RequestLog) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.reqs...)
}

// Reset forgets all logged requests.
func (l *RequestLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

// Count returns how many logged requests have the given method ("" or "*"
// matches any) and a Path matching pathPattern with path.Match semantics
// ("*" does not cross "/"), e.g. Count("GET", "/v2/*/*/manifests/*").
func (l *RequestLog) Count(method, pathPattern string) int {
	return l.countFunc(func(r Request) bool {
		if method != "" && method != "*" && r.Method != method {
			return false
		}
		ok, err := path.Match(pathPattern, r.Path)
		return err == nil && ok
	})
}

func (l *RequestLog) countFunc(f func(Request) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if f(r) {
			n++
		}
	}
	return n
}

// Pings returns the number of GET requests to exactly "/v2/".
func (l *RequestLog) Pings() int {
	return l.countFunc(func(r Request) bool {
		return r.Method == http.MethodGet && r.Path == "/v2/"
	})
}

// Tokens returns the number of requests (any method) to the token endpoint.
func (l *RequestLog) Tokens() int {
	return l.countFunc(func(r Request) bool { return r.Path == TokenPath })
}

// ManifestGETs returns the number of GET /v2/<name>/manifests/<ref> requests
// (any repository, including names with slashes).
func (l *RequestLog) ManifestGETs() int {
	return l.countKind(http.MethodGet, "manifests")
}

// ManifestHEADs returns the number of HEAD /v2/<name>/manifests/<ref>
// requests.
func (l *RequestLog) ManifestHEADs() int {
	return l.countKind(http.MethodHead, "manifests")
}

// BlobGETs returns the number of GET /v2/<name>/blobs/<digest> requests
// (uploads excluded).
func (l *RequestLog) BlobGETs() int {
	return l.countKind(http.MethodGet, "blobs")
}

func (l *RequestLog) countKind(method, kind string) int {
	return l.countFunc(func(r Request) bool {
		if r.Method != method {
			return false
		}
		_, k, _, ok := parsePath(r.Path)
		return ok && k == kind
	})
}

// String returns one "METHOD PATH" line per logged request, for failure
// messages.
func (l *RequestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.reqs {
		b.WriteString(r.Method)
		b.WriteByte(' ')
		b.WriteString(r.Path)
		b.WriteByte('\n')
	}
	return b.String()
}
