package manifests_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFindersHaveNoKubernetesDependency keeps the registry logic reusable: no
// package under finders/ may depend on controller-runtime or any k8s.io module.
func TestFindersHaveNoKubernetesDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/imageconfig/imageconfig-operator/finders/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/") {
			t.Errorf("finders depend on %s", dep)
		}
	}
}
