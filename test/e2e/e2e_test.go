//go:build e2e

// Package e2e tests the user's path: the manager binary as its own process,
// bound to exactly the generated RBAC role, driven with kubectl against a
// hermetic control plane and the demo registry.
package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/imageconfig/imageconfig-operator/internal/demo"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
)

type kubectl struct {
	t          *testing.T
	kubeconfig string
}

func (k kubectl) run(stdin string, args ...string) (string, error) {
	k.t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k kubectl) must(stdin string, args ...string) string {
	k.t.Helper()
	out, err := k.run(stdin, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

const e2ePassword = "e2e-pw-Vt51mQ"

func TestUserPath(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl is not installed; the end-to-end test drives the operator with kubectl")
	}
	managerBin := os.Getenv("MANAGER_BIN")
	if managerBin == "" {
		t.Skip("MANAGER_BIN is not set; run `make test-e2e`")
	}
	env := testenv.Start(t)
	dir := t.TempDir()
	admin := kubectl{t, filepath.Join(dir, "admin.kubeconfig")}
	testenv.WriteKubeconfig(t, env.Environment, testenv.Admin, admin.kubeconfig)

	// The manager gets exactly the generated role, nothing more.
	admin.must("", "apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	admin.must(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: imageconfig-manager
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: manager-role
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: imageconfig-manager
`, "apply", "-f", "-")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg, err := demo.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	private, err := demo.StartBasicAuth(ctx, "127.0.0.1:0", "e2e", e2ePassword)
	if err != nil {
		t.Fatal(err)
	}
	defer private.Close()

	probe := testenv.FreeAddr(t)
	// The manager runs as its own user, bound to exactly the generated role.
	mgr := env.StartManager(t, testenv.ManagerOptions{
		Bin:      managerBin,
		Args:     []string{"--allow-insecure-registries", "--health-probe-bind-address=" + probe, "--metrics-bind-address=0", "--zap-log-level=debug"},
		User:     envtest.User{Name: "imageconfig-manager"},
		Log:      filepath.Join(dir, "manager.log"),
		MustStop: true,
	})

	// healthz and readyz answer.
	deadline := time.Now().Add(30 * time.Second)
	for _, path := range []string{"/healthz", "/readyz"} {
		for {
			resp, err := http.Get("http://" + probe + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not answer 200: %v", path, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	ns := "e2e"
	admin.must("", "create", "namespace", ns)
	admin.must(fmt.Sprintf(`apiVersion: images.imageconfig.dev/v1alpha1
kind: ImageConfig
metadata:
  name: hello
  namespace: %[1]s
spec:
  registry: %[2]s
  repository: demo/hello
  tag: "1.0"
  platform:
    os: linux
    architecture: arm
  insecure: true
---
apiVersion: v1
kind: Secret
metadata:
  name: pull
  namespace: %[1]s
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths": {"%[4]s": {"username": "e2e", "password": "%[3]s"}}}'
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: puller
  namespace: %[1]s
imagePullSecrets:
- name: pull
---
apiVersion: images.imageconfig.dev/v1alpha1
kind: ImageConfig
metadata:
  name: with-credentials
  namespace: %[1]s
spec:
  registry: %[4]s
  repository: demo/hello
  tag: "1.0"
  insecure: true
  secretRef:
    name: pull
---
apiVersion: images.imageconfig.dev/v1alpha1
kind: ImageConfig
metadata:
  name: through-service-account
  namespace: %[1]s
spec:
  registry: %[4]s
  repository: demo/hello
  tag: "1.0"
  insecure: true
  serviceAccountName: puller
---
apiVersion: images.imageconfig.dev/v1alpha1
kind: ImageConfig
metadata:
  name: without-credentials
  namespace: %[1]s
spec:
  registry: %[4]s
  repository: demo/hello
  tag: "1.0"
  insecure: true
---
apiVersion: images.imageconfig.dev/v1alpha1
kind: ImageConfig
metadata:
  name: exporter
  namespace: %[1]s
spec:
  registry: %[4]s
  repository: demo/hello
  tag: "1.1"
  insecure: true
  secretRef:
    name: pull
  export:
    configMapName: hello-export
---
apiVersion: images.imageconfig.dev/v1alpha1
kind: ImageConfig
metadata:
  name: missing
  namespace: %[1]s
spec:
  registry: %[2]s
  repository: demo/hello
  tag: "9.9"
  insecure: true
`, ns, reg.Addr, e2ePassword, private.Addr), "apply", "-f", "-")

	admin.must("", "wait", "-n", ns, "--for=condition=Ready", "imgcfg/hello", "--timeout=60s")
	admin.must("", "wait", "-n", ns, "--for=condition=Stalled", "imgcfg/missing", "--timeout=60s")
	// Reading the Secret and the ServiceAccount works with the role's get alone.
	admin.must("", "wait", "-n", ns, "--for=condition=Ready", "imgcfg/with-credentials", "imgcfg/through-service-account", "--timeout=60s")
	if src := admin.must("", "get", "-n", ns, "imgcfg", "with-credentials", "through-service-account", "-o", "jsonpath={.items[*].status.authSource}"); src != "secret/pull serviceAccount/puller" {
		t.Errorf("authSources = %q, want secret/pull serviceAccount/puller", src)
	}
	// The export works with the role's get, create and update on ConfigMaps.
	admin.must("", "wait", "-n", ns, "--for=condition=Exported", "imgcfg/exporter", "--timeout=60s")
	if got := admin.must("", "get", "-n", ns, "configmap", "hello-export", "-o", `jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.data.config\.json}`); !strings.HasPrefix(got, "ImageConfig/exporter {") || !strings.Contains(got, "HELLO_VERSION=1.1.0") {
		t.Errorf("exported ConfigMap: %.200s", got)
	}
	admin.must("", "wait", "-n", ns, "--for=condition=Stalled", "imgcfg/without-credentials", "--timeout=60s")
	if reason := admin.must("", "get", "-n", ns, "imgcfg", "without-credentials", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}"); reason != "Unauthorized" {
		t.Errorf("without credentials: reason %q, want Unauthorized", reason)
	}

	// What the status says is what the registry holds.
	idx, err := demo.Index()
	if err != nil {
		t.Fatal(err)
	}
	indexDigest, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	var armManifest, armConfig string
	for _, d := range im.Manifests {
		if d.Platform.Architecture == "arm" && d.Platform.Variant == "v7" {
			armManifest = d.Digest.String()
			img, _ := idx.Image(d.Digest)
			c, _ := img.ConfigName()
			armConfig = c.String()
		}
	}
	got := admin.must("", "get", "-n", ns, "imgcfg", "hello", "-o", "jsonpath={.status.digest} {.status.manifestDigest} {.status.configDigest} {.status.platform} {.status.layerCount} {.status.layers[0].createdBy}")
	want := fmt.Sprintf("%s %s %s linux/arm/v7 4 ADD alpine-minirootfs-3.20.3-armv7.tar.gz / # buildkit", indexDigest, armManifest, armConfig)
	if got != want {
		t.Errorf("status:\n got %s\nwant %s", got, want)
	}

	wide := admin.must("", "get", "-n", ns, "imgcfg", "-o", "wide")
	header := strings.Fields(strings.SplitN(wide, "\n", 2)[0])
	if strings.Join(header, " ") != "NAME IMAGE PLATFORM READY STATUS DIGEST RESOLVED BASE-OUTDATED SIGNED CHANGED AGE" {
		t.Errorf("kubectl get -o wide columns = %v", header)
	}
	if !strings.Contains(wide, indexDigest.String()) || !strings.Contains(wide, "True") {
		t.Errorf("kubectl get -o wide:\n%s", wide)
	}
	if out := admin.must("", "get", "-n", ns, "imgcfg", "missing", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}"); out != "NotFound" {
		t.Errorf("missing tag: Ready reason = %q, want NotFound", out)
	}
	// A failing object still shows the image and platform it asks for.
	if out := admin.must("", "get", "-n", ns, "imgcfg", "missing", "--no-headers", "-o", "custom-columns=IMAGE:.status.requestedImageRef,PLATFORM:.status.requestedPlatform,RESOLVED:.status.platform"); !strings.Contains(out, "/demo/hello:") || !strings.Contains(out, "linux/") || !strings.HasSuffix(strings.TrimSpace(out), "<none>") {
		t.Errorf("missing tag: columns = %q, want the requested image and platform, and no resolved platform", out)
	}

	explain := admin.must("", "explain", "imageconfig.spec.platform")
	if !strings.Contains(explain, "platform selects the entry of a multi-platform image index") || !strings.Contains(explain, "variant is the CPU variant") {
		t.Errorf("kubectl explain does not print the doc comments:\n%s", explain)
	}

	// Events mark transitions only: a failure, but no event for a first resolution
	// (at fleet scale they cost the API server as much as the status writes).
	events := admin.must("", "get", "events", "-n", ns)
	if !strings.Contains(events, "NotFound") || strings.Contains(events, "Resolved") {
		t.Errorf("events: want NotFound and no Resolved event for first resolutions:\n%s", events)
	}

	// The forced re-check annotation is handled.
	admin.must("", "annotate", "-n", ns, "imgcfg", "hello", "images.imageconfig.dev/requested-at=e2e", "--overwrite")
	deadline = time.Now().Add(30 * time.Second)
	for admin.must("", "get", "-n", ns, "imgcfg", "hello", "-o", "jsonpath={.status.lastHandledReconcileAt}") != "e2e" {
		if time.Now().After(deadline) {
			t.Fatal("the requested-at annotation was not handled")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The manager resolves its own image, built by `make image`.
	checkDogfoodImage(t, admin, ns)

	// The manager never needed more than its role: no permission errors in its log.
	b, _ := os.ReadFile(mgr.Log)
	if strings.Contains(string(b), "forbidden") {
		t.Errorf("the manager hit a permission error with the generated role:\n%s", b)
	}
	// It logged at debug level, and never the password.
	if !strings.Contains(string(b), `"level":"debug"`) {
		t.Errorf("the manager logged nothing at debug level; the secrecy check proves nothing")
	}
	if strings.Contains(string(b), e2ePassword) {
		t.Errorf("the manager logged a password")
	}
}
