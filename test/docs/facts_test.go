//go:build docs

package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/testenv"
)

// guidePages are the pages of issue 21; each opens with what its reader will be able to do.
var guidePages = []string{"install", "usage", "cli", "ui", "operations", "security", "registries", "benchmarks", "development"}

// foreignFlags are the flags of other tools that the pages name (kubectl, helm, curl,
// jq, go, sha256sum…), checked by hand. A flag of ours that is not in a --help fails.
var foreignFlags = map[string]bool{
	// kubectl
	"for": true, "timeout": true, "overwrite": true, "server-side": true, "dry-run": true, "field-selector": true,
	"type": true, "patch-file": true, "namespace": true, "ignore-not-found": true,
	// helm
	"set": true,
	// go test and go tool
	"fuzz": true,
	// az and gcloud, in the cloud pages' IAM setup
	"role": true, "assignee": true, "scope": true, "query": true, "identity-name": true, "issuer": true,
	"subject": true, "audiences": true, "project": true, "location": true, "member": true,
	// docs/cli.md's example of a usage error
	"no-such-flag": true,
}

// page is a Markdown page split into prose and code.
type page struct {
	path  string // relative to the repository
	prose string // the text outside fenced blocks
	code  string // inline code spans and the bodies of sh, bash and shell blocks
	heads []string
}

var (
	inlineCode = regexp.MustCompile("`[^`\n]+`")
	heading    = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

func readPages(t *testing.T, root string) []page {
	t.Helper()
	var out []page
	for _, p := range pages(t, root) {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		fs, between, err := fences(string(b))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var prose, code strings.Builder
		for i, f := range fs {
			prose.WriteString(between[i])
			if lang, _, _ := strings.Cut(f.info, " "); lang == "sh" || lang == "bash" || lang == "shell" {
				code.WriteString(f.body)
			}
		}
		prose.WriteString(between[len(fs)])
		for _, m := range inlineCode.FindAllString(prose.String(), -1) {
			code.WriteString(strings.Trim(m, "`") + "\n")
		}
		pg := page{path: p, prose: prose.String(), code: code.String()}
		for _, m := range heading.FindAllStringSubmatch(pg.prose, -1) {
			pg.heads = append(pg.heads, slug(m[1]))
		}
		out = append(out, pg)
	}
	return out
}

// slug is GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r > 127 && r != '…' && r != '→' && r != '–' && r != '—':
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestFacts(t *testing.T) {
	root := testenv.RepoRoot()
	all := readPages(t, root)
	byPath := map[string]page{}
	for _, p := range all {
		byPath[p.path] = p
	}

	t.Run("the guide's pages exist and open with what the reader can do", func(t *testing.T) {
		for _, name := range guidePages {
			p, ok := byPath["docs/"+name+".md"]
			if !ok {
				t.Errorf("docs/%s.md is missing", name)
				continue
			}
			lines := strings.SplitN(strings.TrimSpace(p.prose), "\n", 4)
			if len(lines) < 3 || !strings.HasPrefix(lines[0], "# ") || !strings.HasPrefix(lines[2], "After this page you can") {
				t.Errorf("%s: want a title, then a paragraph starting \"After this page you can\"", p.path)
			}
		}
	})

	t.Run("links resolve", func(t *testing.T) {
		link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
		for _, p := range all {
			for _, m := range link.FindAllStringSubmatch(p.prose, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				file, anchor, _ := strings.Cut(target, "#")
				dest := p.path
				if file != "" {
					dest = filepath.Clean(filepath.Join(filepath.Dir(p.path), file))
					if _, err := os.Stat(filepath.Join(root, dest)); err != nil {
						t.Errorf("%s: link %s: %s does not exist", p.path, target, dest)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				d, ok := byPath[dest]
				if !ok {
					t.Errorf("%s: link %s: an anchor into %s, which is not a checked page", p.path, target, dest)
				} else if !slices.Contains(d.heads, anchor) {
					t.Errorf("%s: link %s: %s has no heading #%s (it has %v)", p.path, target, dest, anchor, d.heads)
				}
			}
		}
	})

	t.Run("make help lists every target, by section", func(t *testing.T) {
		help := makeHelp(t, root)
		mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if err != nil {
			t.Fatal(err)
		}
		phony := regexp.MustCompile(`(?m)^\.PHONY: (.+)$`)
		for _, m := range phony.FindAllStringSubmatch(string(mk), -1) {
			for _, target := range strings.Fields(m[1]) {
				if !help[target] {
					t.Errorf("make help does not list %s: give it a ## description", target)
				}
			}
		}
		if n := strings.Count(string(mk), "\n##@ "); n < 3 {
			t.Errorf("the Makefile has %d ##@ sections, want the targets grouped by section", n)
		}
	})

	t.Run("every make target named in the docs exists", func(t *testing.T) {
		help := makeHelp(t, root)
		invocation := regexp.MustCompile(`(?:^|[\s(])make((?:[ \t]+[^\s#;|&)]+)+)`)
		target := regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
		for _, p := range all {
			for _, m := range invocation.FindAllStringSubmatch(p.code, -1) {
				for _, w := range strings.Fields(m[1]) {
					if strings.HasPrefix(w, "-") || strings.Contains(w, "=") {
						continue
					}
					if !target.MatchString(w) {
						break
					}
					if !help[w] {
						t.Errorf("%s: make %s: no such target in make help", p.path, w)
					}
				}
			}
		}
	})

	t.Run("every flag named in the docs exists", func(t *testing.T) {
		ours := ourFlags(t, root)
		flag := regexp.MustCompile(`(?:^|[\s\x60'"(\[])--([a-z][a-z0-9-]*[a-z0-9])`)
		for _, p := range all {
			for _, m := range flag.FindAllStringSubmatch(p.code, -1) {
				if !ours[m[1]] && !foreignFlags[m[1]] {
					t.Errorf("%s: --%s is in no --help of bin/manager, bin/imageconfig, bin/dev-env or hack/image, and is not a known flag of another tool", p.path, m[1])
				}
			}
		}
	})
}

// makeHelp returns the targets `make help` lists.
func makeHelp(t *testing.T, root string) map[string]bool {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "help")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make help: %v", err)
	}
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	targets := map[string]bool{}
	for _, l := range strings.Split(ansi.ReplaceAllString(string(out), ""), "\n") {
		if strings.HasPrefix(l, "  ") {
			if f := strings.Fields(l); len(f) > 0 {
				targets[f[0]] = true
			}
		}
	}
	return targets
}

// ourFlags returns the long flags of the project's binaries, read from their --help.
func ourFlags(t *testing.T, root string) map[string]bool {
	t.Helper()
	requireBinaries(t, root)
	bin := func(n string) string { return filepath.Join(root, "bin", n) }
	helps := []string{
		helpOf(t, root, bin("manager"), "--help"),
		helpOf(t, root, bin("dev-env"), "--help"),
		helpOf(t, root, "go", "run", "./hack/image", "--help"),
	}
	rootHelp := helpOf(t, root, bin("imageconfig"), "--help")
	helps = append(helps, rootHelp)
	_, cmds, _ := strings.Cut(rootHelp, "Available Commands:")
	cmds, _, _ = strings.Cut(cmds, "\n\n")
	for _, l := range strings.Split(strings.TrimSpace(cmds), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] != "help" {
			helps = append(helps, helpOf(t, root, bin("imageconfig"), f[0], "--help"))
		}
	}
	names := regexp.MustCompile(`(?m)^\s+(?:-[a-z], )?--?([a-z][a-z0-9-]*)`)
	flags := map[string]bool{}
	for _, h := range helps {
		for _, m := range names.FindAllStringSubmatch(h, -1) {
			flags[m[1]] = true
		}
	}
	if !flags["metrics-bind-address"] || !flags["insecure"] {
		t.Fatalf("the flags read from --help lack --metrics-bind-address or --insecure: %v", flags)
	}
	return flags
}
