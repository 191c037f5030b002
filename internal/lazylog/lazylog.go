// Package lazylog defers a logr sink's WithValues until a line is written.
//
// controller-runtime gives every reconcile a logger with the controller's and
// the object's values, and the reconcile ID; with zap each WithValues clones
// the encoder and encodes the values at once (two clones: 3,280 bytes per
// reconcile in BenchmarkReconcileLogger, 672 through this package), although
// an unchanged re-check writes no line at the default level. A lazy sink keeps
// the values and applies them only to a line that is enabled, so a reconcile
// that logs nothing costs nothing here.
package lazylog

import "github.com/go-logr/logr"

// New returns l whose WithValues is applied only when a line is written.
func New(l logr.Logger) logr.Logger {
	base := l.GetSink()
	if base == nil {
		return l
	}
	// l's sink was initialised by l's own logr.New; it only has to skip the
	// one frame this sink's Info and Error add. WithCallDepth returns a new
	// sink, where Init would change the one l shares. (A sink without call
	// depths reports this package's line as the caller.)
	if d, ok := base.(logr.CallDepthLogSink); ok {
		base = d.WithCallDepth(1)
	}
	return logr.New(&sink{base: base}).V(l.GetV())
}

// sink is base with values not applied yet. It is never changed once made:
// every With returns a new sink, as logr requires.
type sink struct {
	base   logr.LogSink
	values []any
}

var (
	_ logr.LogSink          = (*sink)(nil)
	_ logr.CallDepthLogSink = (*sink)(nil)
)

// Init does nothing: base was initialised when its logger was made (see New).
func (s *sink) Init(logr.RuntimeInfo) {}

func (s *sink) Enabled(level int) bool { return s.base.Enabled(level) }

// applied is base with the pending values.
func (s *sink) applied() logr.LogSink {
	if len(s.values) == 0 {
		return s.base
	}
	return s.base.WithValues(s.values...)
}

func (s *sink) Info(level int, msg string, keysAndValues ...any) {
	s.applied().Info(level, msg, keysAndValues...)
}

func (s *sink) Error(err error, msg string, keysAndValues ...any) {
	s.applied().Error(err, msg, keysAndValues...)
}

// WithValues keeps the values for the lines to come; the slice is copied so
// that no two loggers share the backing array they append to.
func (s *sink) WithValues(keysAndValues ...any) logr.LogSink {
	if len(keysAndValues) == 0 {
		return s
	}
	values := make([]any, 0, len(s.values)+len(keysAndValues))
	values = append(append(values, s.values...), keysAndValues...)
	return &sink{base: s.base, values: values}
}

// WithName applies the pending values first, so that the sink sees the name
// and values in the order they were given.
func (s *sink) WithName(name string) logr.LogSink {
	return &sink{base: s.applied().WithName(name)}
}

func (s *sink) WithCallDepth(depth int) logr.LogSink {
	d, ok := s.base.(logr.CallDepthLogSink)
	if !ok {
		return s
	}
	return &sink{base: d.WithCallDepth(depth), values: s.values}
}
