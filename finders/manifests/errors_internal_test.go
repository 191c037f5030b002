package manifests

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 120 ":                         2 * time.Minute,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"99999999999999":                0, // overflows time.Duration
		"9223372036854775807":           0,
		"Fri, 02 Jan 2026 03:05:05 GMT": time.Minute,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0, // in the past
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\nb\r\n\tc  d"); got != "a b c d" {
		t.Errorf("oneLine = %q", got)
	}
	// A long message is cut on a rune boundary.
	for pad := range 4 {
		s := strings.Repeat("x", pad) + strings.Repeat("é€😀", 400)
		got := oneLine(s)
		if !utf8.ValidString(got) || len(got) > 1024+len("…") || !strings.HasSuffix(got, "…") {
			t.Errorf("pad %d: oneLine cut badly: valid=%v len=%d", pad, utf8.ValidString(got), len(got))
		}
	}
}

func TestRedactURLs(t *testing.T) {
	tests := map[string]string{
		`Get "https://cdn.example/blob?sig=secret": EOF`: `Get "https://cdn.example/blob?REDACTED": EOF`,
		`Get "https://cdn.example/blob?sig=secret"`:      `Get "https://cdn.example/blob?REDACTED"`,
		`Get https://cdn.example/blob?sig=secret: EOF`:   `Get https://cdn.example/blob?REDACTED: EOF`,
		`Get "https://registry.example/v2/": EOF`:        `Get "https://registry.example/v2/": EOF`,
	}
	for in, want := range tests {
		if got := redactURLs(in); got != want {
			t.Errorf("redactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
