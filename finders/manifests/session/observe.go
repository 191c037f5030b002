package session

import "time"

// Observer is told what a resolution does, for metrics. Its methods must be safe
// for concurrent use and fast; they must not block. Labels are bounded by the
// callers: host only, never repository, tag or credentials.
//
// The manager implements it with Prometheus collectors (controllers/metrics.go);
// the CLI leaves manifests.Options.Observer nil.
type Observer interface {
	// RegistryRequest is called once per HTTP request sent to a registry or to its
	// token endpoint: host is the request's host (with port), method the HTTP
	// method, code the status code as a decimal string or "error" when no
	// response came back, and d the time until the response headers arrived.
	RegistryRequest(host, method, code string, d time.Duration)
	// RateLimit is called when a response carries Docker Hub's ratelimit-limit and
	// ratelimit-remaining headers.
	RateLimit(host string, info RateLimitInfo)
	// CacheLookup is called once per lookup in one of the manager's caches, named
	// by cache (for example "sessions", "tags", "content"); hit says whether it
	// answered.
	CacheLookup(cache string, hit bool)
}

// RateLimitInfo is what a registry said about its pull quota, from Docker Hub's
// headers "ratelimit-limit: 100;w=21600" and "ratelimit-remaining: 76;w=21600".
type RateLimitInfo struct {
	// Host is the host (with port) whose response carried the headers.
	Host string `json:"host,omitempty"`
	// Limit is the number of pulls allowed per window.
	Limit int64 `json:"limit"`
	// Remaining is the number of pulls left in the current window.
	Remaining int64 `json:"remaining"`
	// Window is the length of the window; zero when the registry did not say.
	Window time.Duration `json:"window,omitempty"`
	// Source is the docker-ratelimit-source header: the IP or account the quota counts against.
	Source string `json:"source,omitempty"`
	// ObservedAt is when the headers were read.
	ObservedAt time.Time `json:"observedAt"`
}

// nop is the Observer of a resolution that has none.
type nop struct{}

func (nop) RegistryRequest(string, string, string, time.Duration) {}
func (nop) RateLimit(string, RateLimitInfo)                       {}
func (nop) CacheLookup(string, bool)                              {}

// OrNop returns o, or an Observer that does nothing when o is nil.
func OrNop(o Observer) Observer {
	if o == nil {
		return nop{}
	}
	return o
}
