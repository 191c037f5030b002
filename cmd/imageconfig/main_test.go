package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// binary is the imageconfig command built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imageconfig-cli")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "imageconfig")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func imageconfig(t *testing.T, args ...string) result {
	t.Helper()
	return runBinary(t, nil, "", args...)
}

// runBinary runs the built command with env (nil: this process's) and stdin.
func runBinary(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running imageconfig: %v", err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// jsonDiff decodes want and got and returns cmp.Diff of the two values.
func jsonDiff(t *testing.T, want, got []byte) string {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(want, &x); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, want)
	}
	if err := json.Unmarshal(got, &y); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	return cmp.Diff(x, y)
}

func TestCLI(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, images := testregistry.MultiArch(t)
	indexDigest := reg.PushIndex(t, "some/repo", "tag", idx)
	ref := reg.Host() + "/some/repo:tag"

	t.Run("config prints the platform's config blob", func(t *testing.T) {
		r := imageconfig(t, "config", "--insecure", ref, "--platform", "linux/arm/v7")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		raw, _ := images["linux/arm/v7"].RawConfigFile()
		if diff := jsonDiff(t, raw, []byte(r.stdout)); diff != "" {
			t.Errorf("output is not linux/arm/v7's config (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(r.stdout, "{\n  \"") {
			t.Errorf("output is not indented by 2 spaces:\n%.80s", r.stdout)
		}
	})

	t.Run("summary uses the status field names", func(t *testing.T) {
		r := imageconfig(t, "summary", ref, "--insecure", "--platform=linux/arm64", "-o", "json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var s map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"imageRef", "digest", "mediaType", "manifestDigest", "configDigest", "platform", "platforms", "config", "layers", "layerCount", "totalSize"} {
			if _, ok := s[k]; !ok {
				t.Errorf("summary lacks %q", k)
			}
		}
		if s["digest"] != indexDigest.String() || s["platform"] != "linux/arm64/v8" {
			t.Errorf("digest = %v, platform = %v", s["digest"], s["platform"])
		}
	})

	t.Run("platforms lists every entry", func(t *testing.T) {
		r := imageconfig(t, "platforms", "--insecure", ref)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 8 {
			t.Fatalf("%d lines, want 8:\n%s", len(lines), r.stdout)
		}
		armDigest, _ := images["linux/arm/v7"].Digest()
		if f := strings.Fields(lines[2]); len(f) != 3 || f[0] != "linux/arm/v7" || f[1] != armDigest.String() {
			t.Errorf("line 3 = %q, want linux/arm/v7 %s SIZE", lines[2], armDigest)
		}
	})

	t.Run("digest", func(t *testing.T) {
		r := imageconfig(t, "digest", "--insecure", ref)
		if r.code != 0 || strings.TrimSpace(r.stdout) != indexDigest.String() {
			t.Errorf("digest = %q (exit %d), want %s", r.stdout, r.code, indexDigest)
		}
		s390x, _ := images["linux/s390x"].Digest()
		r = imageconfig(t, "digest", "--insecure", ref, "--platform", "linux/s390x")
		if r.code != 0 || strings.TrimSpace(r.stdout) != s390x.String() {
			t.Errorf("digest --platform = %q (exit %d), want %s", r.stdout, r.code, s390x)
		}
	})

	errorTests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"platform not found lists the available ones", []string{"config", "--insecure", ref, "--platform", "linux/ppc64le"}, 1, "available: linux/amd64, linux/arm64/v8, linux/arm/v7, linux/arm/v6, linux/s390x, windows/amd64"},
		{"unknown tag", []string{"config", "--insecure", reg.Host() + "/some/repo:nope"}, 1, "NotFound"},
		{"plain HTTP without --insecure", []string{"config", ref}, 1, "pass --insecure"},
		{"no command", nil, 2, "want a command"},
		{"no REF", []string{"config"}, 2, "want one REF"},
		{"two REFs where one is expected", []string{"summary", ref, ref}, 2, "want one REF, got 2 arguments"},
		{"unknown command", []string{"show", ref}, 2, `unknown command "show"`},
		{"bad platform", []string{"config", ref, "--platform", "linux"}, 2, "--platform"},
		{"bad flag", []string{"config", ref, "--nope"}, 2, "unknown flag: --nope"},
		{"bad flag value", []string{"config", ref, "--timeout", "soon"}, 2, "--timeout"},
		{"bad reference", []string{"config", "UPPER/case"}, 2, "invalid"},
		{"version takes no REF", []string{"version", ref}, 2, "takes no arguments"},
	}
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			r := imageconfig(t, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout is not empty: %q", r.stdout)
			}
			last := strings.TrimSpace(r.stderr)
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, "imageconfig: ") || !strings.Contains(r.stderr, tt.wantErr) && !strings.Contains(last, tt.wantErr) {
				t.Errorf("stderr = %q, want a line with %q", r.stderr, tt.wantErr)
			}
		})
	}
}

// TestHelp checks the conventions of the command line: --flag spelling and an
// example in every command's help, shell completion and a version.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"config", "summary", "platforms", "digest", "layers", "diff"} {
		t.Run(cmd, func(t *testing.T) {
			r := imageconfig(t, cmd, "--help")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, want := range []string{"Usage:\n  imageconfig " + cmd + " REF", "Examples:\n  imageconfig " + cmd + " ", "--insecure", "--ca-file string", "--platform string"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("help lacks %q:\n%s", want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, " -ca-file") || strings.Contains(r.stdout, " -insecure") {
				t.Errorf("help spells a flag with one dash:\n%s", r.stdout)
			}
		})
	}
	t.Run("completion bash", func(t *testing.T) {
		r := imageconfig(t, "completion", "bash")
		if r.code != 0 || !strings.Contains(r.stdout, "__start_imageconfig") {
			t.Errorf("exit %d, stdout %.200q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if r := imageconfig(t, "completion", "--help"); !strings.Contains(r.stdout, "Examples:\n  source <(imageconfig completion bash)") {
			t.Errorf("completion --help has no example:\n%s", r.stdout)
		}
	})
	t.Run("version", func(t *testing.T) {
		r := imageconfig(t, "version")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "imageconfig ") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}
