package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestProviderFlag: --provider exchanges the machine's own identity before the
// registry is contacted; its errors name the flag and what was wrong.
func TestProviderFlag(t *testing.T) {
	var metadataCalls atomic.Int64
	mds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metadataCalls.Add(1)
		if r.Header.Get("Metadata-Flavor") != "Google" || r.URL.Path != "/computeMetadata/v1/instance/service-accounts/default/token" {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "metadata server overloaded", http.StatusServiceUnavailable)
	}))
	defer mds.Close()
	env := append(isolatedEnv(t), "GCE_METADATA_HOST="+strings.TrimPrefix(mds.URL, "http://"),
		"AWS_ROLE_ARN=", "AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_CONTAINER_CREDENTIALS_FULL_URI=")
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantErr   string
		wantCalls int64
	}{
		{name: "unknown provider", args: []string{"digest", "--provider", "AWS", "ghcr.io/org/app:v1"},
			wantCode: 2, wantErr: `--provider: unknown provider "AWS": want generic, aws, gcp or azure`},
		{name: "registry of another provider", args: []string{"digest", "--provider", "aws", "europe-docker.pkg.dev/p/r/app:v1"},
			wantCode: 2, wantErr: `--provider aws: registry "europe-docker.pkg.dev" belongs to provider gcp, not aws`},
		{name: "no identity on this machine", args: []string{"digest", "--provider", "aws", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1"},
			wantCode: 2, wantErr: "--provider aws: this process has no AWS workload identity"},
		{name: "metadata server at GCE_METADATA_HOST", args: []string{"digest", "--provider", "gcp", "europe-docker.pkg.dev/p/r/app:v1"},
			wantCode: 1, wantErr: "--provider gcp: gcp metadata answered 503: metadata server overloaded", wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metadataCalls.Load()
			res := runBinary(t, env, "", tt.args...)
			if res.code != tt.wantCode || !strings.Contains(res.stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", res.code, res.stderr, tt.wantCode, tt.wantErr)
			}
			if got := metadataCalls.Load() - before; got != tt.wantCalls {
				t.Errorf("metadata requests = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}
