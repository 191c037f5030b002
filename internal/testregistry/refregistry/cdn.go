package refregistry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// StartCDN runs a plain-HTTP blob server on "http://localhost:PORT" (a DNS
// name, so go-containerregistry's redirect guard accepts it) that answers
// GET /blobs/<digest> by reading the blob through r as admin. Pass the URL
// to r.SetRedirectBlobs to send blob downloads there. The returned log
// records every request to the CDN, including whether it carried
// Authorization. The server is stopped by t.Cleanup.
func StartCDN(t testing.TB, r *Registry) (url string, log *RequestLog) {
	t.Helper()
	log = &RequestLog{}
	srv := httptest.NewUnstartedServer(record(log, "", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.serveCDN(w, req)
	})))
	srv.Config.ErrorLog = discardLogger
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := strings.Cut(srv.Listener.Addr().String(), ":")
	return "http://localhost:" + port, log
}

// serveCDN serves GET/HEAD /blobs/<digest> from the repository the registry
// last redirected that digest from.
func (r *Registry) serveCDN(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	digest, ok := strings.CutPrefix(req.URL.Path, "/blobs/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	r.mu.Lock()
	repo := r.blobRep[digest]
	r.mu.Unlock()
	if repo == "" {
		http.NotFound(w, req)
		return
	}

	in, err := http.NewRequestWithContext(req.Context(), req.Method, "/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	in.Host = r.host
	in.RemoteAddr = req.RemoteAddr
	if rg := req.Header.Get("Range"); rg != "" {
		in.Header.Set("Range", rg)
	}
	switch r.mode {
	case HtpasswdTLS:
		in.SetBasicAuth(AdminUser, AdminPassword)
	case TokenAuth:
		tok, err := r.issuer.Mint(AdminUser, []testregistry.Access{{
			Type: "repository", Name: repo, Actions: []string{"pull"},
		}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		in.Header.Set("Authorization", "Bearer "+tok)
	}
	// Straight to the distribution App: no redirect, no logging.
	r.app.ServeHTTP(w, in)
}
