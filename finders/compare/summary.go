package compare

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/format"
)

// MaxLineLength bounds Line, so that it fits an event's message.
const MaxLineLength = 1024

// Reverse returns the change from after back to before: Compare(b, a) equals
// Compare(a, b).Reverse().
func (c Change) Reverse() Change {
	return Change{
		Digest:         c.Digest.reverse(),
		ManifestDigest: c.ManifestDigest.reverse(),
		ConfigDigest:   c.ConfigDigest.reverse(),
		Env:            c.Env.reverse(),
		Entrypoint:     c.Entrypoint.reverse(),
		Cmd:            c.Cmd.reverse(),
		User:           c.User.reverse(),
		WorkingDir:     c.WorkingDir.reverse(),
		ExposedPorts:   c.ExposedPorts.reverse(),
		Volumes:        c.Volumes.reverse(),
		Labels:         c.Labels.reverse(),
		StopSignal:     c.StopSignal.reverse(),
		OS:             c.OS.reverse(),
		Architecture:   c.Architecture.reverse(),
		Variant:        c.Variant.reverse(),
		Layers:         c.Layers.reverse(),
		BaseImage:      c.BaseImage.reverse(),
	}
}

func (s *StringChange) reverse() *StringChange {
	if s == nil {
		return nil
	}
	return &StringChange{Before: s.After, After: s.Before}
}

func (l *ListChange) reverse() *ListChange {
	if l == nil {
		return nil
	}
	return &ListChange{Before: l.After, After: l.Before}
}

func (s *SetChange) reverse() *SetChange {
	if s == nil {
		return nil
	}
	return &SetChange{Added: s.Removed, Removed: s.Added}
}

func (m *MapChange) reverse() *MapChange {
	if m == nil {
		return nil
	}
	r := &MapChange{Added: m.Removed, Removed: m.Added}
	for _, c := range m.Changed {
		r.Changed = append(r.Changed, KeyChange{Key: c.Key, Before: c.After, After: c.Before})
	}
	return r
}

func (l *LayerChange) reverse() *LayerChange {
	if l == nil {
		return nil
	}
	r := *l
	r.Added, r.Removed, r.SizeChange = l.Removed, l.Added, -l.SizeChange
	switch l.Kind {
	case LayersAppended:
		r.Kind = LayersTrimmed
	case LayersTrimmed:
		r.Kind = LayersAppended
	}
	return &r
}

func (b *BaseImageChange) reverse() *BaseImageChange {
	if b == nil {
		return nil
	}
	return &BaseImageChange{Before: b.After, After: b.Before}
}

// ShortDigest is format.ShortDigest, kept for callers of this package.
func ShortDigest(d string) string { return format.ShortDigest(d) }

// Line is the one-line human summary of a moved tag, for events and terminals:
//
//	tag 1.27 moved sha256:ab12cd34… → sha256:cd34ef56…: base unchanged, 1 layer replaced (+2.1 MB), env NGINX_VERSION 1.27.2 → 1.27.3
//
// subject names what moved, such as "tag 1.27". The line is at most MaxLineLength bytes.
func Line(subject string, c Change) string {
	from, to := "", ""
	if c.Digest != nil {
		from, to = c.Digest.Before, c.Digest.After
	}
	s := fmt.Sprintf("%s moved %s → %s: %s", subject, format.ShortDigest(from), format.ShortDigest(to), c.Summary())
	return bound(strings.Join(strings.Fields(s), " "), MaxLineLength)
}

// Summary lists what changed in a few words each, comma-separated: the base,
// the layers, then the config fields. It is "no change" for an empty Change.
// "base unchanged" means that no declared base image changed and that the
// bottom layers were kept; "base rebuilt" that not even the first layer was.
func (c Change) Summary() string {
	var parts []string
	switch b := c.BaseImage; {
	case b != nil:
		parts = append(parts, "base "+baseString(b.Before)+" → "+baseString(b.After))
	case c.Layers != nil && c.Layers.KeptCount > 0:
		// No declared base changed and the bottom layers were kept.
		parts = append(parts, "base unchanged")
	}
	if l := c.Layers; l != nil {
		parts = append(parts, l.summary())
	}
	if c.Env != nil {
		parts = append(parts, c.Env.summary("env"))
	}
	if c.Labels != nil {
		parts = append(parts, c.Labels.summary("label"))
	}
	for _, f := range []struct {
		name string
		c    *ListChange
	}{{"entrypoint", c.Entrypoint}, {"cmd", c.Cmd}} {
		if f.c != nil {
			parts = append(parts, fmt.Sprintf("%s %q → %q", f.name, strings.Join(f.c.Before, " "), strings.Join(f.c.After, " ")))
		}
	}
	for _, f := range []struct {
		name string
		c    *StringChange
	}{{"user", c.User}, {"workdir", c.WorkingDir}, {"stop signal", c.StopSignal}, {"os", c.OS}, {"architecture", c.Architecture}, {"variant", c.Variant}} {
		if f.c != nil {
			parts = append(parts, fmt.Sprintf("%s %s → %s", f.name, orNone(f.c.Before), orNone(f.c.After)))
		}
	}
	for _, f := range []struct {
		name string
		c    *SetChange
	}{{"ports", c.ExposedPorts}, {"volumes", c.Volumes}} {
		if f.c != nil {
			parts = append(parts, f.name+" "+setSummary(f.c))
		}
	}
	if len(parts) == 0 {
		if !c.Empty() {
			return "same config fields and layers"
		}
		return "no change"
	}
	return strings.Join(parts, ", ")
}

func (l *LayerChange) summary() string {
	r, a := len(l.Removed), len(l.Added)
	var s string
	switch {
	case l.Kind == LayersRebuilt:
		s = fmt.Sprintf("base rebuilt: all %s replaced by %d", nLayers(r), a)
	case r == 0:
		s = nLayers(a) + " added"
	case a == 0:
		s = nLayers(r) + " removed"
	case r == a:
		s = nLayers(r) + " replaced"
	default:
		s = fmt.Sprintf("%s replaced by %d", nLayers(r), a)
	}
	return fmt.Sprintf("%s (%s)", s, signedSize(l.SizeChange))
}

func nLayers(n int) string {
	if n == 1 {
		return "1 layer"
	}
	return fmt.Sprintf("%d layers", n)
}

func signedSize(n int64) string {
	if n >= 0 {
		return "+" + format.Size(n)
	}
	return format.Size(n)
}

// summary renders up to three names; the rest are counted.
func (m *MapChange) summary(what string) string {
	var items []string
	for _, c := range m.Changed {
		items = append(items, fmt.Sprintf("%s %s → %s", c.Key, c.Before, c.After))
	}
	for _, kv := range m.Added {
		items = append(items, fmt.Sprintf("+%s=%s", kv.Key, kv.Value))
	}
	for _, kv := range m.Removed {
		items = append(items, "-"+kv.Key)
	}
	const show = 3
	s := what + " " + strings.Join(items[:min(show, len(items))], ", "+what+" ")
	if len(items) > show {
		s += fmt.Sprintf(" and %d more", len(items)-show)
	}
	return s
}

func setSummary(c *SetChange) string {
	var items []string
	for _, v := range c.Added {
		items = append(items, "+"+v)
	}
	for _, v := range c.Removed {
		items = append(items, "-"+v)
	}
	return strings.Join(items, " ")
}

func baseString(b *manifests.BaseImage) string {
	if b == nil {
		return "(none)"
	}
	if b.Digest == "" {
		return b.Name
	}
	if b.Name == "" {
		return format.ShortDigest(b.Digest)
	}
	return b.Name + "@" + format.ShortDigest(b.Digest)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// bound cuts s to at most max bytes on a rune boundary, marking the cut with "…".
func bound(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
