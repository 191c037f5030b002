package cache

import (
	"strings"
	"testing"
)

func TestContentBoundedInBytes(t *testing.T) {
	c := NewContent(10)
	c.Put("a", "m", []byte("1234"))
	c.Put("b", "m", []byte("1234"))
	if _, _, ok := c.Lookup("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.Put("c", "m", []byte("1234")) // 12 bytes: b, the least recent, goes
	if _, _, ok := c.Lookup("b"); ok {
		t.Error("b should have been evicted")
	}
	if c.Size() != 8 || c.Len() != 2 {
		t.Errorf("size %d, len %d, want 8 and 2", c.Size(), c.Len())
	}
	c.Put("big", "m", []byte(strings.Repeat("x", 11)))
	if _, _, ok := c.Lookup("big"); ok || c.Size() != 8 {
		t.Errorf("an entry over the bound was stored (size %d)", c.Size())
	}
	if mt, raw, ok := c.Lookup("c"); !ok || mt != "m" || string(raw) != "1234" {
		t.Errorf("c = %q %q %v", mt, raw, ok)
	}
	var off *Content
	off.Put("a", "m", nil)
	if _, _, ok := off.Lookup("a"); ok {
		t.Error("a nil cache answered")
	}
}
