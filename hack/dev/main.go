// Command dev runs the operator locally, offline, the way `make dev` documents:
// a hermetic control plane (envtest's kube-apiserver and etcd) with the CRDs
// installed, a kubeconfig for kubectl, the demo registry on 127.0.0.1:5001, and
// the manager in the foreground. Ctrl-C stops all of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/imageconfig/imageconfig-operator/internal/demo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var managerBin, kubeconfig, crds, registryAddr, uiAddr string
	flag.StringVar(&managerBin, "manager", "bin/manager", "the manager binary")
	flag.StringVar(&kubeconfig, "write-kubeconfig", "bin/dev/kubeconfig", "where to write the kubeconfig")
	flag.StringVar(&crds, "crds", "config/crd/bases", "the CRD directory")
	flag.StringVar(&registryAddr, "registry", "127.0.0.1:5001", "the demo registry's address")
	flag.StringVar(&uiAddr, "ui", "127.0.0.1:8082", "the manager's web UI address; \"0\" disables it")
	var managerFlags []string
	flag.Func("manager-flag", "one more flag for the manager, such as --allowed-registries=127.0.0.1; repeatable", func(v string) error {
		managerFlags = append(managerFlags, v)
		return nil
	})
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{crds},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: os.Getenv("KUBEBUILDER_ASSETS"),
	}
	fmt.Println("Starting the control plane (kube-apiserver and etcd on loopback)...")
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		fmt.Println("Stopping the control plane...")
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "dev: stopping the control plane: %v\n", err)
		}
	}()

	user, err := env.AddUser(envtest.User{Name: "dev", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return fmt.Errorf("adding the dev user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(kubeconfig), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	abs, _ := filepath.Abs(kubeconfig)
	defer os.Remove(abs)

	reg, err := demo.Start(ctx, registryAddr)
	if err != nil {
		return fmt.Errorf("starting the demo registry: %w", err)
	}
	defer reg.Close()

	fmt.Printf(`
The control plane is up, the CRDs are installed, and the demo registry on %s
serves %s:%s and :%s. In a second terminal:

  export KUBECONFIG=%s
  kubectl apply -f config/samples/
  kubectl get imgcfg -o wide

What changed from %[3]s to %[4]s, and which layers weigh:

  bin/imageconfig diff %[1]s/%[2]s:%[3]s %[1]s/%[2]s:%[4]s --insecure
  bin/imageconfig layers %[1]s/%[2]s:%[4]s --insecure --sort size
%[6]s
Press Ctrl-C to stop everything.

`, reg.Addr, demo.Repository, demo.Tag, demo.NextTag, abs, uiLine(uiAddr))

	args := append([]string{"--allow-insecure-registries", "--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0", "--ui-bind-address=" + uiAddr}, managerFlags...)
	cmd := exec.Command(managerBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+abs)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Its own process group, so that the manager is stopped by us, after a Ctrl-C
	// reached us, and not raced by the terminal's signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", managerBin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("the manager exited: %w", err)
		}
		return errors.New("the manager exited")
	case <-ctx.Done():
	}
	fmt.Println("\nStopping the manager...")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case _ = <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		_ = <-done
	}
	return nil
}

// uiLine is the instruction that names the web UI's URL.
func uiLine(addr string) string {
	if addr == "0" {
		return ""
	}
	return "\nThe web UI, read-only, is on http://" + addr + "/\n"
}
