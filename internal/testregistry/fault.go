package testregistry

import (
	"net/http"
	"path"
	"sync"
)

// Fault is a fault injector. It is called for every /v2/ and /token request
// (after the request is logged, before auth and normal handling). If it
// returns true it has written the response and normal handling is skipped.
type Fault func(w http.ResponseWriter, req *http.Request) (handled bool)

// FailRequests returns a Fault that answers requests with the given method
// ("" or "*" for any) whose path matches pathPattern (path.Match syntax; ""
// for any) with status, the extra headers in header (e.g. Retry-After) and a
// registry-style JSON error body. Only the first n matching requests fail;
// n <= 0 fails all of them. Other requests pass through. The error code is
// TOOMANYREQUESTS for 429, UNAVAILABLE for 503, UNAUTHORIZED for 401, DENIED
// for 403, and UNKNOWN otherwise.
func FailRequests(method, pathPattern string, status, n int, header http.Header) Fault {
	var mu sync.Mutex
	failed := 0
	return func(w http.ResponseWriter, req *http.Request) bool {
		if method != "" && method != "*" && req.Method != method {
			return false
		}
		if pathPattern != "" {
			if ok, err := path.Match(pathPattern, req.URL.Path); err != nil || !ok {
				return false
			}
		}
		mu.Lock()
		if n > 0 && failed >= n {
			mu.Unlock()
			return false
		}
		failed++
		mu.Unlock()
		for k, vs := range header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		WriteError(w, status, ErrorCode(status), http.StatusText(status))
		return true
	}
}

// Chain returns a Fault that tries each fault in order and stops at the
// first that handles the request. Nil faults are skipped.
func Chain(faults ...Fault) Fault {
	return func(w http.ResponseWriter, req *http.Request) bool {
		for _, f := range faults {
			if f != nil && f(w, req) {
				return true
			}
		}
		return false
	}
}

// ErrorCode is the registry error code a registry sends with status, as
// distribution and Docker Hub do: TOOMANYREQUESTS, UNAVAILABLE, UNAUTHORIZED,
// DENIED, else UNKNOWN.
func ErrorCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TOOMANYREQUESTS"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "DENIED"
	}
	return "UNKNOWN"
}
