package refregistry

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Request is one logged HTTP request.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Host is the Host header the client sent ("127.0.0.1:PORT",
	// "localhost:PORT").
	Host string
	// Path is the URL path, without the query.
	Path string
	// HasAuth reports whether the request carried an Authorization header.
	HasAuth bool
	// Status is the response status code.
	Status int
}

// String formats the request as "GET 127.0.0.1:1234/v2/ -> 401 auth=false".
func (q Request) String() string {
	return fmt.Sprintf("%s %s%s -> %d auth=%t", q.Method, q.Host, q.Path, q.Status, q.HasAuth)
}

// RequestLog records requests in the order their responses completed. It is
// safe for concurrent use.
type RequestLog struct {
	mu   sync.Mutex
	reqs []Request
}

// Requests returns a copy of the logged requests.
func (l *RequestLog) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.reqs...)
}

// Reset forgets every logged request.
func (l *RequestLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

// Count returns how many logged requests have the given method ("" matches
// any) and a path starting with pathPrefix.
func (l *RequestLog) Count(method, pathPrefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, q := range l.reqs {
		if (method == "" || q.Method == method) && strings.HasPrefix(q.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// String returns the log, one request a line.
func (l *RequestLog) String() string {
	var b strings.Builder
	for _, q := range l.Requests() {
		b.WriteString(q.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func (l *RequestLog) add(q Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, q)
}

// handler logs every request to h except those carrying internalHeader with
// the value marker (when marker is not empty).
func (l *RequestLog) handler(marker string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if marker != "" && req.Header.Get(internalHeader) == marker {
			h.ServeHTTP(w, req)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			l.add(Request{
				Method:  req.Method,
				Host:    req.Host,
				Path:    req.URL.Path,
				HasAuth: req.Header.Get("Authorization") != "",
				Status:  status,
			})
		}()
		h.ServeHTTP(sw, req)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush forwards to the underlying writer when it can flush.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
