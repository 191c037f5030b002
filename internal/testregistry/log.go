package testregistry

import (
	"cmp"
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Request is one logged request: to a /v2/ path or the token endpoint of a
// registry, or through the fault proxy.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Host is the Host header the client sent; set by Record.
	Host string
	// Path is the URL path, e.g. "/v2/library/app/manifests/v1" or "/token".
	Path string
	// Query is the raw query string (without "?"), e.g. the token scope.
	Query string
	// HasAuth reports whether the request carried an Authorization header.
	HasAuth bool
	// Status is the response's status code; set by Record and the fault
	// proxy, which logs 0 when the connection was cut before a status.
	Status int
	// UserAgent is the request's User-Agent header; set by the fault proxy.
	UserAgent string
	// Time is when the request arrived; set by the fault proxy.
	Time time.Time
	// Fault is the name of the fault proxy's rule that applied, or "".
	Fault string
	// BodyBytes counts the response body bytes the fault proxy wrote to the client.
	BodyBytes int64
}

// String formats the request as "GET /v2/", or, when Record logged it, as
// "GET 127.0.0.1:1234/v2/ -> 401 auth=false".
func (r Request) String() string {
	if r.Status == 0 {
		return r.Method + " " + r.Path
	}
	return fmt.Sprintf("%s %s%s -> %d auth=%t", r.Method, r.Host, r.Path, r.Status, r.HasAuth)
}

// RequestLog records requests: a Registry's in arrival order, and those of any
// handler wrapped by Record in the order their responses completed (the
// reference registry, its token issuer and CDN use it). It is safe for
// concurrent use. Fixture pushes are not recorded.
type RequestLog struct {
	mu   sync.Mutex
	reqs []Request
}

// Add logs r.
func (l *RequestLog) Add(r Request) {
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
	return l.CountFunc(func(r Request) bool {
		if method != "" && method != "*" && r.Method != method {
			return false
		}
		ok, err := path.Match(pathPattern, r.Path)
		return err == nil && ok
	})
}

// CountFunc returns how many logged requests match; a nil match matches all.
func (l *RequestLog) CountFunc(match func(Request) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if match == nil || match(r) {
			n++
		}
	}
	return n
}

// CountPrefix returns how many logged requests have the given method (""
// matches any) and a Path that starts with prefix.
func (l *RequestLog) CountPrefix(method, prefix string) int {
	return l.CountFunc(func(r Request) bool {
		return (method == "" || r.Method == method) && strings.HasPrefix(r.Path, prefix)
	})
}

// Pings returns the number of GET requests to exactly "/v2/".
func (l *RequestLog) Pings() int {
	return l.CountFunc(func(r Request) bool {
		return r.Method == http.MethodGet && r.Path == "/v2/"
	})
}

// Tokens returns the number of requests (any method) to the token endpoint.
func (l *RequestLog) Tokens() int {
	return l.CountFunc(func(r Request) bool { return r.Path == TokenPath })
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
	return l.CountFunc(func(r Request) bool {
		if r.Method != method {
			return false
		}
		_, k, _, ok := parsePath(r.Path)
		return ok && k == kind
	})
}

// String returns one line per logged request (Request.String), for failure
// messages.
func (l *RequestLog) String() string {
	var b strings.Builder
	for _, r := range l.Requests() {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Record logs every request to h when its response is complete, with its host
// and status, except those for which skip (when not nil) is true.
func (l *RequestLog) Record(h http.Handler, skip func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if skip != nil && skip(req) {
			h.ServeHTTP(w, req)
			return
		}
		sw := &StatusWriter{ResponseWriter: w}
		defer func() {
			l.Add(Request{
				Method: req.Method, Host: req.Host, Path: req.URL.Path, Query: req.URL.RawQuery,
				HasAuth: req.Header.Get("Authorization") != "", Status: cmp.Or(sw.Status(), http.StatusOK),
			})
		}()
		h.ServeHTTP(sw, req)
	})
}

// StatusWriter remembers the status code written through it and counts the
// body bytes; it passes Flush and (through Unwrap) Hijack on.
type StatusWriter struct {
	http.ResponseWriter
	status int
	n      atomic.Int64
}

// WriteHeader implements http.ResponseWriter.
func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// Status is the status code written, or 0 when none was.
func (w *StatusWriter) Status() int { return w.status }

// Bytes is the number of body bytes written.
func (w *StatusWriter) Bytes() int64 { return w.n.Load() }

// Flush forwards to the underlying writer when it can flush.
func (w *StatusWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Counts are the request counts that request-economy tests assert, as one
// value for cmp.Diff.
type Counts struct {
	// Pings are GET /v2/ requests.
	Pings int
	// Tokens are requests to the token endpoint.
	Tokens int
	// ManifestGETs, ManifestHEADs and BlobGETs are requests for manifests and blobs.
	ManifestGETs, ManifestHEADs, BlobGETs int
}

// Counts returns the log's counts.
func (l *RequestLog) Counts() Counts {
	return Counts{Pings: l.Pings(), Tokens: l.Tokens(), ManifestGETs: l.ManifestGETs(), ManifestHEADs: l.ManifestHEADs(), BlobGETs: l.BlobGETs()}
}
