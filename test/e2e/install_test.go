//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

// docs splits a multi-document YAML file into objects.
func docs(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("decoding YAML: %v", err)
		}
		if len(m) != 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func toYAML(t *testing.T, objs ...*unstructured.Unstructured) string {
	t.Helper()
	var parts []string
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "---\n")
}

func pick(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// checkInstall dry-runs objs on the API server in namespace ns (which must
// already exist), then checks that a Pod made from the Deployment's template
// passes the namespace's restricted Pod Security admission, and that the
// ServiceAccount's RBAC grants what the manager needs.
func checkInstall(t *testing.T, k kubectl, what, ns string, objs []*unstructured.Unstructured) {
	t.Helper()
	out := k.must(toYAML(t, objs...), "apply", "--server-side", "--dry-run=server", "-f", "-")
	t.Logf("%s: kubectl apply --server-side --dry-run=server:\n%s", what, out)
	for _, o := range objs {
		if !strings.Contains(out, strings.ToLower(o.GetKind())) || !strings.Contains(out, "/"+o.GetName()+" ") {
			t.Errorf("%s: the dry-run did not report %s %s:\n%s", what, o.GetKind(), o.GetName(), out)
		}
	}

	// Apply for real (nothing runs: envtest has no controllers and no kubelet), so
	// that the ServiceAccount exists for the Pod and the RBAC can be asked.
	k.must(toYAML(t, objs...), "apply", "--server-side", "-f", "-")

	deps := pick(objs, "Deployment")
	if len(deps) != 1 {
		t.Fatalf("%s: %d Deployments, want 1", what, len(deps))
	}
	var dep appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deps[0].Object, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.Namespace != ns {
		t.Errorf("%s: the Deployment is in %q, want %q", what, dep.Namespace, ns)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if !strings.Contains(strings.Join(c.Args, " "), "--leader-elect") || c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: the manager lacks --leader-elect, probes or limits: args %v", what, c.Args)
	}
	pod := func(mutate func(*corev1.PodSpec)) string {
		p := corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "psa-check", Namespace: ns, Labels: dep.Spec.Template.Labels},
			Spec:       *dep.Spec.Template.Spec.DeepCopy(),
		}
		mutate(&p.Spec)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if out, err := k.run(pod(func(*corev1.PodSpec) {}), "create", "--dry-run=server", "-f", "-"); err != nil {
		t.Errorf("%s: the Deployment's pod is refused in namespace %s: %v\n%s", what, ns, err, out)
	}
	// The control: the same pod allowed to escalate privileges must be refused,
	// or the check above proves nothing.
	escalate := pod(func(s *corev1.PodSpec) {
		yes := true
		s.Containers[0].SecurityContext.AllowPrivilegeEscalation = &yes
	})
	if out, err := k.run(escalate, "create", "--dry-run=server", "-f", "-"); err == nil || !strings.Contains(out, `violates PodSecurity "restricted`) {
		t.Errorf("%s: namespace %s accepted a pod that escalates privileges (err %v):\n%s", what, ns, err, out)
	}

	sa := "system:serviceaccount:" + ns + ":" + dep.Spec.Template.Spec.ServiceAccountName
	for _, q := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "imageconfigs.images.imageconfig.dev", "--all-namespaces"}, "yes"},
		{[]string{"watch", "imageconfigs.images.imageconfig.dev", "--all-namespaces"}, "yes"},
		{[]string{"patch", "imageconfigs.images.imageconfig.dev", "--subresource=status", "-n", "default"}, "yes"},
		{[]string{"get", "secrets", "-n", "default"}, "yes"},
		{[]string{"list", "secrets", "-n", "default"}, "no"},
		{[]string{"create", "events.events.k8s.io", "-n", "default"}, "yes"},
		{[]string{"create", "leases.coordination.k8s.io", "-n", ns}, "yes"},
		{[]string{"create", "leases.coordination.k8s.io", "-n", "default"}, "no"},
		// The secure metrics (and --ui-secure) review their clients' tokens.
		{[]string{"create", "tokenreviews.authentication.k8s.io", "--all-namespaces"}, "yes"},
		{[]string{"create", "subjectaccessreviews.authorization.k8s.io", "--all-namespaces"}, "yes"},
	} {
		out, _ := k.run("", append([]string{"auth", "can-i", "--as", sa}, q.args...)...)
		if got := strings.TrimSpace(out); got != q.want {
			t.Errorf("%s: can %s %s? %q, want %q", what, sa, strings.Join(q.args, " "), got, q.want)
		}
	}
}

// TestInstallManifests applies dist/install.yaml (make build-installer) and the
// rendered Helm chart to the API server with server-side dry-run: schemas, RBAC
// and Pod Security must be accepted.
func TestInstallManifests(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl is not installed")
	}
	dir := t.TempDir()
	installer := filepath.Join(dir, "install.yaml")
	runMake(t, nil, "build-installer", "IMG=registry.example.com/imageconfig-operator:v0.1.0", "INSTALLER="+installer)
	runMake(t, nil, "helm")

	ctrllog.SetLogger(logr.Discard())
	// A control plane without the CRD: the manifests install it.
	env := &envtest.Environment{BinaryAssetsDirectory: testenv.Assets(t)}
	if _, err := env.Start(); err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	k := kubectl{t, filepath.Join(dir, "admin.kubeconfig")}
	testenv.WriteKubeconfig(t, env, testenv.Admin, k.kubeconfig)

	t.Run("install.yaml", func(t *testing.T) {
		b, err := os.ReadFile(installer)
		if err != nil {
			t.Fatal(err)
		}
		objs := docs(t, b)
		nss := pick(objs, "Namespace")
		if len(nss) != 1 || nss[0].GetName() != "imageconfig-system" || nss[0].GetLabels()["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Fatalf("install.yaml's namespaces: %v, want imageconfig-system enforcing restricted", nss)
		}
		for _, o := range pick(objs, "Deployment") {
			if img, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers"); len(img) == 0 || img[0].(map[string]any)["image"] != "registry.example.com/imageconfig-operator:v0.1.0" {
				t.Errorf("the Deployment's containers %v do not run IMG", img)
			}
		}
		var services []string
		for _, o := range pick(objs, "Service") {
			services = append(services, o.GetName())
		}
		if len(pick(objs, "CustomResourceDefinition")) != 1 || strings.Join(services, " ") != "imageconfig-controller-manager-metrics-service" {
			t.Errorf("install.yaml lacks the CRD, or its Services %v are not the metrics Service alone", services)
		}
		checkPrivateUI(t, "install.yaml", objs)
		// The namespace first, for real, so that its Pod Security labels apply.
		k.must(toYAML(t, nss...), "apply", "--server-side", "-f", "-")
		checkInstall(t, k, "install.yaml", "imageconfig-system", objs)
	})

	t.Run("make deploy", func(t *testing.T) {
		// Applies the same manifests as install.yaml above, with another image.
		const img = "registry.example.com/imageconfig-operator@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		runMake(t, nil, "deploy", "IMG="+img, "KUBECTL=kubectl --kubeconfig="+k.kubeconfig)
		got := k.must("", "get", "-n", "imageconfig-system", "deployment", "imageconfig-controller-manager", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
		if got != img {
			t.Errorf("after make deploy the manager runs %q, want %q", got, img)
		}
	})

	helm := func(t *testing.T, ns string, set ...string) []*unstructured.Unstructured {
		t.Helper()
		args := []string{"template", "imageconfig-operator", filepath.Join(testenv.RepoRoot(), "dist", "chart"), "--namespace", ns}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		return docs(t, []byte(mustOutput(t, filepath.Join(testenv.RepoRoot(), "bin", "helm"), args...)))
	}
	t.Run("chart", func(t *testing.T) {
		// Helm leaves the namespace to the user; docs/install.md creates it with these labels.
		k.must("", "create", "namespace", "imageconfig-chart")
		k.must("", "label", "namespace", "imageconfig-chart", "pod-security.kubernetes.io/enforce=restricted")
		objs := helm(t, "imageconfig-chart", "manager.image.repository=registry.example.com/imageconfig-operator", "manager.image.tag=v0.1.0")
		if len(pick(objs, "CustomResourceDefinition")) != 1 || len(pick(objs, "ServiceMonitor")) != 0 {
			t.Errorf("the default chart should install the CRD and no ServiceMonitor")
		}
		checkInstall(t, k, "chart", "imageconfig-chart", objs)
	})
	t.Run("chart with ServiceMonitor and UI", func(t *testing.T) {
		k.must("", "create", "namespace", "imageconfig-chart-all")
		k.must("", "label", "namespace", "imageconfig-chart-all", "pod-security.kubernetes.io/enforce=restricted")
		objs := helm(t, "imageconfig-chart-all", "prometheus.enable=true", "ui.enable=true", "crd.enable=false", "rbacHelpers.enable=true")
		if len(pick(objs, "ServiceMonitor")) != 1 || len(pick(objs, "CustomResourceDefinition")) != 0 {
			t.Fatalf("the toggles did not add a ServiceMonitor or remove the CRD")
		}
		var ports []string
		for _, s := range pick(objs, "Service") {
			ps, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
			for _, p := range ps {
				ports = append(ports, p.(map[string]any)["name"].(string))
			}
		}
		if strings.Join(ports, ",") != "https" {
			t.Errorf("Service ports %v, want the metrics' https alone", ports)
		}
		ep, _, _ := unstructured.NestedSlice(pick(objs, "ServiceMonitor")[0].Object, "spec", "endpoints")
		if len(ep) != 1 || ep[0].(map[string]any)["scheme"] != "https" || ep[0].(map[string]any)["bearerTokenFile"] != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
			t.Errorf("the ServiceMonitor's endpoints %v do not scrape https with the bearer token", ep)
		}
		checkPrivateUI(t, "chart with toggles", objs)
		// envtest has no Prometheus Operator CRDs: dry-run everything else.
		var rest []*unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() != "ServiceMonitor" {
				rest = append(rest, o)
			}
		}
		checkInstall(t, k, "chart with toggles", "imageconfig-chart-all", rest)
	})

	// Last: it deletes the CRD, which the chart without one relies on above.
	t.Run("make undeploy", func(t *testing.T) {
		// --wait=false: envtest runs no namespace controller, so the namespace
		// stays Terminating and kubectl would wait for it forever.
		runMake(t, nil, "undeploy", "ignore-not-found=true", "KUBECTL=kubectl --kubeconfig="+k.kubeconfig+" --wait=false")
		for _, what := range [][]string{
			{"-n", "imageconfig-system", "deployment", "imageconfig-controller-manager"},
			{"-n", "imageconfig-system", "service", "imageconfig-controller-manager-metrics-service"},
			{"clusterrole", "imageconfig-manager-role"},
			{"customresourcedefinition", "imageconfigs.images.imageconfig.dev"},
		} {
			// The CRD's deletion finishes after its finalizer ran: wait for it.
			out, err := k.run("", append([]string{"get"}, what...)...)
			for deadline := time.Now().Add(30 * time.Second); err == nil && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				out, err = k.run("", append([]string{"get"}, what...)...)
			}
			if err == nil || !strings.Contains(out, "NotFound") {
				t.Errorf("after make undeploy, kubectl get %s: %v\n%s", strings.Join(what, " "), err, out)
			}
		}
		// Again, with nothing left: ignore-not-found=true makes it succeed.
		runMake(t, nil, "undeploy", "ignore-not-found=true", "KUBECTL=kubectl --kubeconfig="+k.kubeconfig+" --wait=false")
	})
}

// managerContainer returns the manager container of a Deployment.
func managerContainer(t *testing.T, o *unstructured.Unstructured) corev1.Container {
	t.Helper()
	var dep appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &dep); err != nil {
		t.Fatal(err)
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c
		}
	}
	t.Fatalf("Deployment %s has no manager container", o.GetName())
	return corev1.Container{}
}

// flagValue returns the value of --name=value in args, and whether it is there.
func flagValue(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
		if a == "--"+name {
			return "true", true
		}
	}
	return "", false
}

// checkPrivateUI checks that in objs the UI listens on loopback in the pod, with
// no Service or container port for it, and that the metrics are served on
// :8443 with authn/authz, with the roles for it.
func checkPrivateUI(t *testing.T, what string, objs []*unstructured.Unstructured) {
	t.Helper()
	deps := pick(objs, "Deployment")
	if len(deps) == 0 {
		t.Fatalf("%s: no Deployment", what)
	}
	uiPort := ""
	for _, d := range deps {
		c := managerContainer(t, d)
		addr, ok := flagValue(c.Args, "ui-bind-address")
		if !ok || !ui.IsLoopback(addr) {
			t.Errorf("%s: %s serves the UI on %q, want a loopback address: args %v", what, d.GetName(), addr, c.Args)
		}
		uiPort = addr[strings.LastIndex(addr, ":")+1:]
		if v, ok := flagValue(c.Args, "ui-secure"); ok && v != "false" {
			t.Errorf("%s: %s passes --ui-secure by default", what, d.GetName())
		}
		if v, _ := flagValue(c.Args, "metrics-bind-address"); v != ":8443" {
			t.Errorf("%s: %s serves the metrics on %q, want :8443", what, d.GetName(), v)
		}
		if v, ok := flagValue(c.Args, "metrics-secure"); ok && v != "true" {
			t.Errorf("%s: %s passes --metrics-secure=%s", what, d.GetName(), v)
		}
		for _, p := range c.Ports {
			if strconv.Itoa(int(p.ContainerPort)) == uiPort || strings.Contains(p.Name, "ui") {
				t.Errorf("%s: %s declares a container port %s/%d for the UI", what, d.GetName(), p.Name, p.ContainerPort)
			}
		}
	}
	for _, svc := range pick(objs, "Service") {
		var s corev1.Service
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(svc.Object, &s); err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Spec.Ports {
			if strconv.Itoa(int(p.Port)) == uiPort || p.TargetPort.String() == uiPort || strings.Contains(p.Name, "ui") || strings.Contains(p.TargetPort.String(), "ui") {
				t.Errorf("%s: Service %s has a port for the UI: %+v", what, s.Name, p)
			}
		}
	}
	var reader, auth bool
	var roles []string
	for _, r := range pick(objs, "ClusterRole") {
		roles = append(roles, r.GetName())
		reader = reader || strings.HasSuffix(r.GetName(), "-metrics-reader")
		auth = auth || strings.HasSuffix(r.GetName(), "-metrics-auth-role")
	}
	if !reader || !auth {
		t.Errorf("%s: the ClusterRoles %v lack metrics-reader or metrics-auth-role", what, roles)
	}
}

// TestUIStaysInThePod renders the kustomize configurations and the chart, and
// checks that by default nothing outside the pod reaches the UI, while the
// chart's ui.secure opts into a Service for it with --ui-secure.
func TestUIStaysInThePod(t *testing.T) {
	runMake(t, nil, "kustomize", "helm")
	root := testenv.RepoRoot()
	kustomize := func(dir string) []*unstructured.Unstructured {
		return docs(t, []byte(mustOutput(t, filepath.Join(root, "bin", "kustomize"), "build", filepath.Join(root, "config", dir))))
	}
	helm := func(set ...string) []*unstructured.Unstructured {
		args := []string{"template", "imageconfig-operator", filepath.Join(root, "dist", "chart"), "--namespace", "imageconfig-system"}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		return docs(t, []byte(mustOutput(t, filepath.Join(root, "bin", "helm"), args...)))
	}
	checkPrivateUI(t, "config/default", kustomize("default"))
	sharded := kustomize("sharding")
	if n := len(pick(sharded, "Deployment")); n != 3 {
		t.Errorf("config/sharding has %d Deployments, want 3", n)
	}
	checkPrivateUI(t, "config/sharding", sharded)
	checkPrivateUI(t, "chart", helm())

	t.Run("chart with ui.secure", func(t *testing.T) {
		objs := helm("ui.secure=true")
		c := managerContainer(t, pick(objs, "Deployment")[0])
		if addr, _ := flagValue(c.Args, "ui-bind-address"); addr != ":8082" {
			t.Errorf("with ui.secure the UI binds %q, want :8082 on the pod IP", addr)
		}
		if v, _ := flagValue(c.Args, "ui-secure"); v != "true" {
			t.Errorf("with ui.secure the manager lacks --ui-secure: %v", c.Args)
		}
		var ports []string
		for _, s := range pick(objs, "Service") {
			ps, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
			for _, p := range ps {
				ports = append(ports, p.(map[string]any)["name"].(string))
			}
		}
		if strings.Join(ports, ",") != "https,https-ui" {
			t.Errorf("with ui.secure the Service ports are %v, want https and https-ui", ports)
		}
		// With the metrics off and ui.secure on, the manager still reviews tokens.
		objs = helm("ui.secure=true", "metrics.enable=false")
		var names []string
		for _, r := range pick(objs, "ClusterRole") {
			names = append(names, r.GetName())
		}
		if got := strings.Join(names, " "); !strings.Contains(got, "-metrics-auth-role") || strings.Contains(got, "-metrics-reader") {
			t.Errorf("with ui.secure and no metrics the ClusterRoles are %s, want metrics-auth-role and no metrics-reader", got)
		}
	})
}
