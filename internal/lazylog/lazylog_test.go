package lazylog

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// capture returns a funcr logger at verbosity 0 and the lines it wrote.
func capture() (logr.Logger, *[]string) {
	var lines []string
	l := funcr.New(func(prefix, args string) { lines = append(lines, strings.TrimSpace(prefix+" "+args)) }, funcr.Options{})
	return l, &lines
}

func TestValuesReachTheLineInOrder(t *testing.T) {
	base, lines := capture()
	l := New(base).WithValues("controller", "imageconfig").WithName("recheck").WithValues("name", "app-1")
	l.Info("Resolved", "digest", "sha256:aa")
	l.Error(errors.New("boom"), "Failed", "attempt", 2)
	want := []string{
		`recheck "level"=0 "msg"="Resolved" "controller"="imageconfig" "name"="app-1" "digest"="sha256:aa"`,
		`recheck "msg"="Failed" "error"="boom" "controller"="imageconfig" "name"="app-1" "attempt"=2`,
	}
	if strings.Join(*lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(*lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestSiblingsDoNotShareValues(t *testing.T) {
	base, lines := capture()
	parent := New(base).WithValues("a", 1)
	left, right := parent.WithValues("b", 2), parent.WithValues("c", 3)
	left.Info("left")
	right.Info("right")
	parent.Info("parent")
	want := []string{`"level"=0 "msg"="left" "a"=1 "b"=2`, `"level"=0 "msg"="right" "a"=1 "c"=3`, `"level"=0 "msg"="parent" "a"=1`}
	if strings.Join(*lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(*lines, "\n"), strings.Join(want, "\n"))
	}
}

// countingSink counts the WithValues calls that reach it.
type countingSink struct {
	logr.LogSink
	withValues *int
}

func (s countingSink) WithValues(kv ...any) logr.LogSink {
	*s.withValues++
	return countingSink{s.LogSink.WithValues(kv...), s.withValues}
}

func TestDisabledLinesApplyNoValues(t *testing.T) {
	base, lines := capture()
	n := 0
	l := New(logr.New(countingSink{base.GetSink(), &n}))
	req := l.WithValues("controller", "imageconfig").WithValues("reconcileID", "r-1")
	req.V(1).Info("Not due for a re-check")
	if n != 0 || len(*lines) != 0 {
		t.Fatalf("a disabled line: %d WithValues reached the sink, %d lines written; want 0 and 0", n, len(*lines))
	}
	req.Info("Resolved")
	if n != 1 || len(*lines) != 1 {
		t.Errorf("one enabled line: %d WithValues reached the sink, %d lines written; want 1 and 1", n, len(*lines))
	}
}

// BenchmarkReconcileLogger is what controller-runtime does to the manager's
// logger on each reconcile (the object's values, then the reconcile ID),
// followed by the V(1) line of an unchanged re-check, which the default level
// does not write.
func BenchmarkReconcileLogger(b *testing.B) {
	zl := zap.New(zap.WriteTo(io.Discard))
	for name, l := range map[string]logr.Logger{"zap": zl, "lazy-zap": New(zl)} {
		b.Run(name, func(b *testing.B) {
			ctrl := l.WithValues("controller", "imageconfig", "controllerGroup", "images.imageconfig.dev", "controllerKind", "ImageConfig")
			b.ReportAllocs()
			for b.Loop() {
				req := ctrl.WithValues("ImageConfig", "team-a/app-00001", "namespace", "team-a", "name", "app-00001").
					WithValues("reconcileID", "6f1c2b3a-0000-4000-8000-000000000000")
				req.V(1).Info("Not due for a re-check", "after", "42s")
			}
		})
	}
}

// TestCallerIsTheCallersLine: a sink that records the caller names the line
// that logged, not this package, before and after values are added.
func TestCallerIsTheCallersLine(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{LogCaller: funcr.All})
	l := New(base)
	l.Info("plain")
	l.WithValues("a", 1).WithName("n").Info("with values")
	l.WithValues("a", 1).Error(errors.New("boom"), "failed")
	for _, line := range lines {
		if !strings.Contains(line, `"file"="lazylog_test.go"`) {
			t.Errorf("caller is not this test's line: %s", line)
		}
	}
	// The logger New wrapped is unchanged.
	lines = nil
	base.Info("direct")
	if len(lines) != 1 || !strings.Contains(lines[0], `"file"="lazylog_test.go"`) {
		t.Errorf("the wrapped logger's caller moved: %v", lines)
	}
}
