package compare

import (
	"fmt"
	"strings"
)

// Bound returns a copy of c with every list cut to at most maxItems entries and
// every value (createdBy, env and label values, list items) to at most maxValue
// bytes, so that it fits an object of bounded size. note says what was cut, and
// is empty when nothing was.
func (c Change) Bound(maxItems, maxValue int) (bounded Change, note string) {
	b := &bounder{maxItems: maxItems, maxValue: maxValue}
	out := c
	out.Env = b.mapChange("env", c.Env)
	out.Labels = b.mapChange("labels", c.Labels)
	out.Entrypoint = b.list("entrypoint", c.Entrypoint)
	out.Cmd = b.list("cmd", c.Cmd)
	out.ExposedPorts = b.set("exposedPorts", c.ExposedPorts)
	out.Volumes = b.set("volumes", c.Volumes)
	out.User = b.str(c.User)
	out.WorkingDir = b.str(c.WorkingDir)
	if l := c.Layers; l != nil {
		v := *l
		v.Removed = b.layers("layers.removed", l.Removed)
		v.Added = b.layers("layers.added", l.Added)
		out.Layers = &v
	}
	if b.valuesCut {
		b.notes = append(b.notes, fmt.Sprintf("values cut to %d bytes", maxValue))
	}
	return out, strings.Join(b.notes, "; ")
}

type bounder struct {
	maxItems, maxValue int
	notes              []string
	valuesCut          bool
}

func (b *bounder) count(what string, n int) int {
	if n <= b.maxItems {
		return n
	}
	b.notes = append(b.notes, fmt.Sprintf("%s: %d of %d kept", what, b.maxItems, n))
	return b.maxItems
}

func (b *bounder) value(s string) string {
	if len(s) <= b.maxValue {
		return s
	}
	b.valuesCut = true
	return bound(s, b.maxValue)
}

func (b *bounder) strings(what string, s []string) []string {
	if s == nil {
		return nil
	}
	out := make([]string, b.count(what, len(s)))
	for i := range out {
		out[i] = b.value(s[i])
	}
	return out
}

func (b *bounder) str(s *StringChange) *StringChange {
	if s == nil {
		return nil
	}
	return &StringChange{Before: b.value(s.Before), After: b.value(s.After)}
}

func (b *bounder) list(what string, l *ListChange) *ListChange {
	if l == nil {
		return nil
	}
	return &ListChange{Before: b.strings(what+".before", l.Before), After: b.strings(what+".after", l.After)}
}

func (b *bounder) set(what string, s *SetChange) *SetChange {
	if s == nil {
		return nil
	}
	return &SetChange{Added: b.strings(what+".added", s.Added), Removed: b.strings(what+".removed", s.Removed)}
}

func (b *bounder) kvs(what string, kvs []KeyValue) []KeyValue {
	if kvs == nil {
		return nil
	}
	out := make([]KeyValue, b.count(what, len(kvs)))
	for i := range out {
		out[i] = KeyValue{Key: b.value(kvs[i].Key), Value: b.value(kvs[i].Value)}
	}
	return out
}

func (b *bounder) mapChange(what string, m *MapChange) *MapChange {
	if m == nil {
		return nil
	}
	out := &MapChange{Added: b.kvs(what+".added", m.Added), Removed: b.kvs(what+".removed", m.Removed)}
	if m.Changed != nil {
		out.Changed = make([]KeyChange, b.count(what+".changed", len(m.Changed)))
		for i := range out.Changed {
			c := m.Changed[i]
			out.Changed[i] = KeyChange{Key: b.value(c.Key), Before: b.value(c.Before), After: b.value(c.After)}
		}
	}
	return out
}

func (b *bounder) layers(what string, ls []LayerRef) []LayerRef {
	if ls == nil {
		return nil
	}
	out := make([]LayerRef, b.count(what, len(ls)))
	for i := range out {
		out[i] = ls[i]
		out[i].CreatedBy = b.value(ls[i].CreatedBy)
	}
	return out
}
