//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// runMake runs make in the repository and returns the last line of its stdout.
func runMake(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-s", "--no-print-directory"}, args...)...)
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	t.Logf("make %s:\n%s", strings.Join(args, " "), stderr.String())
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// checkDogfoodImage builds the manager's own image with `make image` into an
// in-process registry, then resolves it with ImageConfigs through the running
// manager and with the CLI: both platforms, the user, the entrypoint and the
// OCI labels must come back. Building again into an OCI layout must give the
// same digest.
func checkDogfoodImage(t *testing.T, admin kubectl, ns string) {
	start := time.Now()
	defer func() { t.Logf("The dogfood image check took %s", time.Since(start).Round(time.Second)) }()
	reg := testregistry.New(t, testregistry.Options{})
	ref := reg.Host() + "/imageconfig-operator:e2e"
	pushed := runMake(t, nil, "image", "IMG="+ref)
	repo, digest, ok := strings.Cut(pushed, "@")
	if !ok || repo != reg.Host()+"/imageconfig-operator" || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("make image printed %q, want %s/imageconfig-operator@sha256:…", pushed, reg.Host())
	}
	revision := strings.TrimSpace(mustOutput(t, "git", "-C", testenv.RepoRoot(), "rev-parse", "HEAD"))

	// Reproducible: the same tree gives the same digest, here as an OCI layout.
	layoutDir := filepath.Join(t.TempDir(), "layout")
	again := runMake(t, nil, "image", "IMAGE_LAYOUT="+layoutDir)
	if want := layoutDir + "@" + digest; again != want {
		t.Errorf("a second build printed %q, want %q: the image is not reproducible", again, want)
	}
	if _, err := os.Stat(filepath.Join(layoutDir, "oci-layout")); err != nil {
		t.Errorf("the second build wrote no OCI layout: %v", err)
	}

	for _, arch := range []string{"amd64", "arm64"} {
		admin.must(fmt.Sprintf(`apiVersion: images.imageconfig.dev/v1alpha1
kind: ImageConfig
metadata:
  name: manager-%[3]s
  namespace: %[1]s
spec:
  registry: %[2]s
  repository: imageconfig-operator
  tag: e2e
  platform:
    os: linux
    architecture: %[3]s
  insecure: true
`, ns, reg.Host(), arch), "apply", "-f", "-")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		name := "imgcfg/manager-" + arch
		admin.must("", "wait", "-n", ns, "--for=condition=Ready", name, "--timeout=60s")
		out := admin.must("", "get", "-n", ns, name, "-o", "json")
		var obj struct {
			Status manifests.Summary `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &obj); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkManagerSummary(t, "ImageConfig "+arch, obj.Status, digest, arch, revision)

		// The CLI resolves the same image to the same summary.
		cli := mustOutput(t, filepath.Join(testenv.RepoRoot(), "bin", "imageconfig"), "summary", "-o", "json", "--insecure", "--platform", "linux/"+arch, ref)
		var s manifests.Summary
		if err := json.Unmarshal([]byte(cli), &s); err != nil {
			t.Fatalf("imageconfig summary: %v\n%s", err, cli)
		}
		checkManagerSummary(t, "CLI "+arch, s, digest, arch, revision)
		if s.ManifestDigest != obj.Status.ManifestDigest || s.ConfigDigest != obj.Status.ConfigDigest {
			t.Errorf("%s: the CLI found manifest %s config %s, the ImageConfig %s %s", arch, s.ManifestDigest, s.ConfigDigest, obj.Status.ManifestDigest, obj.Status.ConfigDigest)
		}
	}
}

func checkManagerSummary(t *testing.T, what string, s manifests.Summary, digest, arch, revision string) {
	t.Helper()
	if s.Digest != digest {
		t.Errorf("%s: digest %s, want the pushed %s", what, s.Digest, digest)
	}
	var platforms []string
	for _, p := range s.Platforms {
		platforms = append(platforms, p.OS+"/"+p.Architecture)
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("%s: index platforms %v, want linux/amd64 and linux/arm64", what, platforms)
	}
	c := s.Config
	if c == nil {
		t.Fatalf("%s: no config in the summary", what)
	}
	if c.OS != "linux" || c.Architecture != arch {
		t.Errorf("%s: config platform %s/%s, want linux/%s", what, c.OS, c.Architecture, arch)
	}
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/manager"}) {
		t.Errorf("%s: user %q entrypoint %q, want 65532:65532 and [/manager]", what, c.User, c.Entrypoint)
	}
	if c.Labels["org.opencontainers.image.revision"] != revision || c.Labels["org.opencontainers.image.source"] == "" || c.Labels["org.opencontainers.image.version"] == "" {
		t.Errorf("%s: labels %v, want source, version and revision %s", what, c.Labels, revision)
	}
	if s.LayerCount != 2 {
		t.Errorf("%s: %d layers, want 2 (base files, manager)", what, s.LayerCount)
	}
}

func mustOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}
