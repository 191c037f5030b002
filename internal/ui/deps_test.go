package ui_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestUITalksToNeitherRegistryNorAPIServer keeps the pages behind Source: the ui
// package may depend on neither a registry client, nor the finders, nor a
// Kubernetes API client.
func TestUITalksToNeitherRegistryNorAPIServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/imageconfig/imageconfig-operator/internal/ui").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/google/go-containerregistry/",
			"github.com/imageconfig/imageconfig-operator/finders",
			"k8s.io/client-go/rest",
			"k8s.io/client-go/kubernetes",
			"sigs.k8s.io/controller-runtime/pkg/client",
			"sigs.k8s.io/controller-runtime/pkg/cache",
		} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("internal/ui depends on %s", dep)
			}
		}
	}
}
