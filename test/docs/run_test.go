//go:build docs

// Package docs checks that the documentation is true of the code: TestRunnableBlocks
// runs the pages' runnable blocks against the demo environment of `make dev`, and
// TestFacts checks links, make targets and flags. `make test-docs` runs both; see
// docs/development.md#runnable-docs.
package docs

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/internal/testenv"
)

// The addresses the pages use for make dev's demo registry and web UI. The test runs
// the environment on free ports and rewrites these in the blocks, their expected
// output and a copy of config/.
const (
	docRegistry = "127.0.0.1:5001"
	docUI       = "127.0.0.1:8082"
)

// pageOrder is the order in which pages run, for pages whose blocks use objects that
// an earlier page created; pages not listed run afterwards, by name.
var pageOrder = []string{"README.md", "docs/usage.md", "docs/cli.md", "docs/ui.md", "docs/operations.md", "docs/security.md", "docs/registries.md"}

// pages returns README.md and docs/*.md, relative to root, in pageOrder.
func pages(t *testing.T, root string) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"README.md"}
	for _, f := range found {
		all = append(all, filepath.Join("docs", filepath.Base(f)))
	}
	rank := func(p string) int {
		if i := slices.Index(pageOrder, p); i >= 0 {
			return i
		}
		return len(pageOrder)
	}
	slices.SortStableFunc(all, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return all
}

// allRunBlocks reads every page's runnable blocks.
func allRunBlocks(t *testing.T, root string) []runBlock {
	t.Helper()
	var all []runBlock
	for _, p := range pages(t, root) {
		text, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := runBlocks(p, string(text))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, blocks...)
	}
	return all
}

func TestRunnableBlocks(t *testing.T) {
	root := testenv.RepoRoot()
	blocks := allRunBlocks(t, root)
	if len(blocks) == 0 {
		t.Fatal("no runnable blocks in README.md and docs/: mark them with ```sh {run}")
	}
	requireBinaries(t, root)
	registry, ui := testenv.FreeAddr(t), testenv.FreeAddr(t)
	rewrite := strings.NewReplacer(docRegistry, registry, docUI, ui)
	work := workTree(t, root, rewrite)
	kubeconfig := startDev(t, root, filepath.Join(work, "bin", "dev", "kubeconfig"), registry, ui)
	t.Logf("running %d blocks with the demo registry on %s and the UI on %s", len(blocks), registry, ui)

	env := append(os.Environ(), "KUBECONFIG="+kubeconfig)
	for _, b := range blocks {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", rewrite.Replace(b.script))
		cmd.Dir, cmd.Env = work, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Errorf("%s: the block failed: %v\n--- block\n%s--- stdout\n%s--- stderr\n%s", b, err, b.script, stdout.String(), stderr.String())
			continue
		}
		if b.want != nil {
			if err := matchOutput(rewrite.Replace(*b.want), stdout.String()); err != nil {
				t.Errorf("%s: the output differs from the page's {output} block: %v", b, err)
				continue
			}
		}
		t.Logf("%s: ok in %s", b, time.Since(start).Round(10*time.Millisecond))
	}
}

// workTree returns a directory that stands for the repository in the blocks: links to
// every top-level entry but two. config/ is copied with the addresses rewritten, so that
// `kubectl apply -f config/samples/` names the test's demo registry. bin/ is a directory
// of links to the built binaries, without bin/dev/, where the test's environment writes
// its kubeconfig as `make dev` does; a `make dev` of your own keeps its own.
func workTree(t *testing.T, root string, rewrite *strings.Replacer) string {
	t.Helper()
	work := t.TempDir()
	link := func(dir, skip string) {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() == skip || (dir == "" && e.Name() == "bin") {
				continue
			}
			if err := os.Symlink(filepath.Join(root, dir, e.Name()), filepath.Join(work, dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	link("", "config")
	if err := os.Mkdir(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	link("bin", "dev")
	err := filepath.WalkDir(filepath.Join(root, "config"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		dst := filepath.Join(work, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, []byte(rewrite.Replace(string(b))), 0o644)
	})
	if err != nil {
		t.Fatalf("copying config/: %v", err)
	}
	return work
}

// startDev starts bin/dev-env, what `make dev` runs, on the given addresses, waits
// until the manager serves its UI, and stops everything when the test ends. It writes
// the kubeconfig to kubeconfig and returns that path.
func startDev(t *testing.T, root, kubeconfig, registry, ui string) string {
	t.Helper()
	devEnv, manager := filepath.Join(root, "bin", "dev-env"), filepath.Join(root, "bin", "manager")
	// Registries other than the demo's are refused before any request, so that the
	// test sends nothing beyond loopback (the nginx sample then stalls).
	cmd := exec.Command(devEnv, "--manager", manager, "--write-kubeconfig", kubeconfig,
		"--crds", filepath.Join(root, "config", "crd", "bases"), "--registry", registry, "--ui", ui,
		"--manager-flag=--allowed-registries="+strings.Split(registry, ":")[0])
	cmd.Env = append(os.Environ(), "KUBEBUILDER_ASSETS="+testenv.Assets(t))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("make dev's output:\n%s", log.String())
		}
	})

	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("bin/dev-env exited: %v\n%s", err, log.String())
		default:
		}
		if resp, err := http.Get("http://" + ui + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return kubeconfig
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the manager's UI on %s did not answer within 2 minutes\n%s", ui, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// requireBinaries fails the test unless make test-docs built the binaries.
func requireBinaries(t *testing.T, root string) {
	t.Helper()
	for _, name := range []string{"dev-env", "manager", "imageconfig"} {
		if _, err := os.Stat(filepath.Join(root, "bin", name)); err != nil {
			t.Fatalf("%v: run make test-docs, which builds it", err)
		}
	}
}

// helpOf runs a binary with --help and returns what it printed on either stream.
func helpOf(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput() // Go's flag package exits 0 on -help, some commands 2.
	if len(out) == 0 {
		t.Fatalf("%s printed nothing", strings.Join(args, " "))
	}
	return string(out)
}
