package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Admin is a user in system:masters, for kubectl and for a manager that needs no RBAC test.
var Admin = envtest.User{Name: "admin", Groups: []string{"system:masters"}}

// WriteKubeconfig adds user to the control plane env and writes a kubeconfig
// for it to path.
func WriteKubeconfig(t testing.TB, env *envtest.Environment, user envtest.User, path string) {
	t.Helper()
	u, err := env.AddUser(user, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ManagerOptions say how StartManager runs a manager binary.
type ManagerOptions struct {
	// Bin is the manager binary (make test-e2e passes it as MANAGER_BIN).
	Bin string
	// Args are its flags.
	Args []string
	// User is the identity in its kubeconfig; empty means Admin.
	User envtest.User
	// Log is the file its stdout and stderr go to; empty means a file in a
	// temporary directory.
	Log string
	// MustStop fails the test when the manager does not exit within 15 s of
	// SIGINT at the end of the test.
	MustStop bool
}

// Manager is a manager process started by StartManager.
type Manager struct {
	// Cmd is the running process.
	Cmd *exec.Cmd
	// Exited receives the process's exit error (nil for a clean exit) once.
	Exited <-chan error
	// Log is the file holding its output.
	Log string

	done    chan struct{}
	exitErr error
	once    sync.Once
	killed  bool
}

// StartManager writes a kubeconfig for o.User, starts o.Bin with o.Args and
// KUBECONFIG set to it, and sends its output to o.Log. When the test ends it
// stops the manager (Stop), logs a failed exit, and prints the manager's log
// when the test failed.
func (e *Env) StartManager(t testing.TB, o ManagerOptions) *Manager {
	t.Helper()
	dir := t.TempDir()
	if o.User.Name == "" {
		o.User = Admin
	}
	kubeconfig := filepath.Join(dir, o.User.Name+".kubeconfig")
	WriteKubeconfig(t, e.Environment, o.User, kubeconfig)
	if o.Log == "" {
		o.Log = filepath.Join(dir, "manager.log")
	}
	logFile, err := os.Create(o.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(o.Bin, o.Args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	m := &Manager{Cmd: cmd, Exited: exited, Log: o.Log, done: make(chan struct{})}
	go func() {
		m.exitErr = cmd.Wait()
		exited <- m.exitErr
		close(m.done)
	}()
	t.Cleanup(func() {
		defer logFile.Close()
		if !m.Stop() && o.MustStop {
			t.Errorf("the manager did not stop within 15s of SIGINT")
		}
		if m.exitErr != nil {
			t.Logf("the manager %s exited: %v", o.Log, m.exitErr)
		}
		if t.Failed() {
			t.Logf("manager log %s:\n%s", o.Log, tail(o.Log, 1<<20))
		}
	})
	return m
}

// Stop sends SIGINT and waits up to 15 s for the manager to exit, then sends
// SIGKILL. It reports whether the manager exited by itself. Calling it again
// only answers again.
func (m *Manager) Stop() bool {
	m.once.Do(func() {
		_ = m.Cmd.Process.Signal(os.Interrupt)
		select {
		case <-m.done:
		case <-time.After(15 * time.Second):
			_ = m.Cmd.Process.Kill()
			<-m.done
			m.killed = true
		}
	})
	return !m.killed
}

// tail returns the last n bytes of the file at path.
func tail(path string, n int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}
