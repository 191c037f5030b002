// Package testenv starts a hermetic envtest control plane (kube-apiserver and
// etcd built by hack/setup-envtest.sh) with the project's generated CRDs installed.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is a controller-runtime client with the project's scheme.
	Client client.Client
	// Scheme holds the built-in types and the project's API types.
	Scheme *k8sruntime.Scheme
	// Environment is the underlying envtest environment.
	Environment *envtest.Environment
}

// RepoRoot returns the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Assets returns the directory holding kube-apiserver and etcd: KUBEBUILDER_ASSETS
// when it is set, otherwise the output of hack/setup-envtest.sh, which builds the
// binaries once and then answers from its cache.
func Assets(t testing.TB) string {
	t.Helper()
	dir, err := assets()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command(filepath.Join(RepoRoot(), "hack", "setup-envtest.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/setup-envtest.sh failed: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Scheme returns a scheme with the built-in types and the project's API types.
func Scheme() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = imagesv1alpha1.AddToScheme(s)
	return s
}

// Start starts a control plane with the generated CRDs installed and stops it when
// the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	env, err := StartEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping envtest: %v", err)
		}
	})
	return env
}

// StartEnv starts a control plane with the generated CRDs installed; the caller
// stops it with Stop. It is Start for a package's TestMain, where a suite shares
// one control plane between its tests (see Shared).
func StartEnv() (*Env, error) {
	dir, err := assets()
	if err != nil {
		return nil, err
	}
	scheme := Scheme()
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: dir,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("creating client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: scheme, Environment: env}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error { return e.Environment.Stop() }

// Shared is one control plane for a package's tests, started by the first test
// that asks for it and stopped by the package's TestMain:
//
//	var shared testenv.Shared
//
//	func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }
//
//	func TestX(t *testing.T) { env := shared.Get(t); ... }
//
// Tests that share it keep to their own namespaces, and a manager they start
// watches only those (cache.Options.DefaultNamespaces). A package whose tests
// never call Get starts no control plane, as when -run picks only unit tests.
type Shared struct {
	once sync.Once
	env  *Env
	err  error
}

// Get returns the shared control plane, starting it on the first call. It fails
// t when the control plane could not be started.
func (s *Shared) Get(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() { s.env, s.err = StartEnv() })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.env
}

// Run runs the package's tests and then stops the control plane if one was
// started; it returns m.Run's exit code, or 1 when stopping failed.
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	s.once.Do(func() {}) // no Get from now on starts one
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping envtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// GVR is the ImageConfig resource.
var GVR = schema.GroupVersionResource{Group: imagesv1alpha1.GroupVersion.Group, Version: imagesv1alpha1.GroupVersion.Version, Resource: "imageconfigs"}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago, for a
// process the test starts that must be told its address in advance.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
