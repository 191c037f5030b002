package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestBuildEnv(t *testing.T) {
	host := []string{"PATH=/usr/bin", "HOME=/home/u", "GOFLAGS=-tags=x -race", "GOAMD64=v3", "GOARM64=v9.0", "GOEXPERIMENT=boringcrypto",
		"GOARM=5", "GOENV=/home/u/go.env", "CGO_ENABLED=1", "CGO_CFLAGS=-O3", "GOOS=plan9", "GOARCH=mips", "GOPROXY=ignored-from-env"}
	goEnv := map[string]string{"GOPROXY": "https://proxy.example.com", "GOMODCACHE": "/cache/mod", "GOTOOLCHAIN": "auto", "GOAUTH": ""}
	tests := []struct {
		p    v1.Platform
		want map[string]string
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, map[string]string{"GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1", "GOARM": "7"}},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, map[string]string{"GOOS": "linux", "GOARCH": "arm64", "GOARM64": "v8.0"}},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, map[string]string{"GOARCH": "arm", "GOARM": "6"}},
		{v1.Platform{OS: "linux", Architecture: "arm"}, map[string]string{"GOARCH": "arm", "GOARM": "7"}},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			env := buildEnv(host, goEnv, tt.p)
			got := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				if _, dup := got[k]; dup {
					t.Errorf("%s is set twice: %v", k, env)
				}
				got[k] = v
			}
			want := map[string]string{"PATH": "/usr/bin", "HOME": "/home/u", "GOENV": "off", "GOFLAGS": "", "GOEXPERIMENT": "", "CGO_ENABLED": "0",
				"GOAMD64": "v1", "GOARM64": "v8.0", "GOPROXY": "https://proxy.example.com", "GOMODCACHE": "/cache/mod", "GOTOOLCHAIN": "auto"}
			for k, v := range tt.want {
				want[k] = v
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q (set: %v), want %q", k, g, ok, v)
				}
			}
			for _, k := range []string{"CGO_CFLAGS", "GOAUTH"} {
				if _, ok := got[k]; ok {
					t.Errorf("%s is passed to go build: %v", k, env)
				}
			}
		})
	}
}

// TestBuildIgnoresTheUsersGoEnvironment builds testdata/hello twice, the second
// time with GOAMD64 and GOEXPERIMENT in the environment and GOFLAGS in a go env
// file (as go env -w writes it), each of which would change the binary: the two
// must be byte-identical.
func TestBuildIgnoresTheUsersGoEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program twice")
	}
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	o := options{pkg: "./testdata/hello"}
	o.buildDir = t.TempDir()
	clean, err := build(context.Background(), o, p)
	if err != nil {
		t.Fatal(err)
	}
	goenv := o.buildDir + "/go.env"
	if err := os.WriteFile(goenv, []byte("GOFLAGS=-tags=imagetest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOENV", goenv)
	t.Setenv("GOAMD64", "v3")
	t.Setenv("GOEXPERIMENT", "heapminimum512kib")
	o.buildDir = t.TempDir()
	dirty, err := build(context.Background(), o, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(clean, dirty) {
		t.Errorf("the user's GOAMD64, GOEXPERIMENT and go env file's GOFLAGS changed the binary (%d and %d bytes)", len(clean), len(dirty))
	}
}
