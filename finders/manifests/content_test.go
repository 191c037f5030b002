package manifests

import (
	"strings"
	"testing"
)

func TestContentBoundedInBytes(t *testing.T) {
	c := NewContent(10)
	c.put("a", "m", []byte("1234"))
	c.put("b", "m", []byte("1234"))
	if _, _, ok := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.put("c", "m", []byte("1234")) // 12 bytes: b, the least recent, goes
	if _, _, ok := c.get("b"); ok {
		t.Error("b should have been evicted")
	}
	if c.Size() != 8 || c.Len() != 2 {
		t.Errorf("size %d, len %d, want 8 and 2", c.Size(), c.Len())
	}
	c.put("big", "m", []byte(strings.Repeat("x", 11)))
	if _, _, ok := c.get("big"); ok || c.Size() != 8 {
		t.Errorf("an entry over the bound was stored (size %d)", c.Size())
	}
	if mt, raw, ok := c.get("c"); !ok || mt != "m" || string(raw) != "1234" {
		t.Errorf("c = %q %q %v", mt, raw, ok)
	}
	var off *Content
	off.put("a", "m", nil)
	if _, _, ok := off.get("a"); ok {
		t.Error("a nil cache answered")
	}
}
