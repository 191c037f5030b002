package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// passedGoEnv are the go settings kept from the user's environment and go env
// file: where modules come from and where caches live. None changes the binary.
var passedGoEnv = []string{"GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB", "GOINSECURE",
	"GOAUTH", "GOPATH", "GOMODCACHE", "GOCACHE", "GOTMPDIR", "GOTOOLCHAIN"}

// userGoEnv reads passedGoEnv as go sees them, from the environment or the go
// env file (go env -w).
func userGoEnv(ctx context.Context) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "go", append([]string{"env", "-json"}, passedGoEnv...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("parsing go env -json: %w", err)
	}
	return m, nil
}

// buildEnv is the environment of go build for p: the host's, without any GO*
// or CGO_* variable (GOFLAGS, GOAMD64, GOEXPERIMENT, … change the binary, so
// the digest), the go env file turned off (GOENV=off) for the same reason, the
// settings of goEnv put back, and the target pinned: CGO_ENABLED=0, GOOS, GOARCH,
// and the baseline instruction sets GOAMD64=v1, GOARM64=v8.0, GOARM from the
// variant (7 without one).
func buildEnv(host []string, goEnv map[string]string, p v1.Platform) []string {
	var env []string
	for _, kv := range host {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_") {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range passedGoEnv {
		if v := goEnv[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	goarm := "7"
	if p.Architecture == "arm" && p.Variant != "" {
		goarm = strings.TrimPrefix(p.Variant, "v")
	}
	return append(env, "GOENV=off", "GOFLAGS=", "GOEXPERIMENT=", "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		"GOAMD64=v1", "GOARM64=v8.0", "GOARM="+goarm)
}
