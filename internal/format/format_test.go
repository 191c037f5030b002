package format_test

import (
	"math"
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/format"
)

func TestSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{1 << 20, "1.0 MiB"},
		{2_202_010, "2.1 MiB"},
		{-2_202_010, "-2.1 MiB"},
		{-1, "-1 B"},
		{3 << 30, "3.0 GiB"},
		{5 << 40, "5.0 TiB"},
		{math.MaxInt64, "8.0 EiB"},
		{math.MinInt64, "-8.0 EiB"},
	}
	for _, tt := range tests {
		if got := format.Size(tt.n); got != tt.want {
			t.Errorf("Size(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestShortDigest(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "sha256:0123456789ab"},
		{"sha512:" + "ab" + "0123456789abcdef", "sha512:ab0123456789"},
		{"sha256:0123456789ab", "sha256:0123456789ab"},
		{"sha256:abc", "sha256:abc"},
		{"not-a-digest", "not-a-digest"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := format.ShortDigest(tt.in); got != tt.want {
			t.Errorf("ShortDigest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
