package session

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name             string
		limit, remaining string
		source           string
		want             RateLimitInfo
		ok               bool
	}{
		{"Docker Hub", "100;w=21600", "76;w=21600", "192.0.2.7", RateLimitInfo{Limit: 100, Remaining: 76, Window: 6 * time.Hour, Source: "192.0.2.7", ObservedAt: now}, true},
		{"exhausted", "100;w=21600", "0;w=21600", "", RateLimitInfo{Limit: 100, Remaining: 0, Window: 6 * time.Hour, ObservedAt: now}, true},
		{"no window", "5000", "4999", "", RateLimitInfo{Limit: 5000, Remaining: 4999, ObservedAt: now}, true},
		{"window only on remaining", "10", "3;w=60", "", RateLimitInfo{Limit: 10, Remaining: 3, Window: time.Minute, ObservedAt: now}, true},
		{"spaces and other parameters", " 200 ; burst=5; w=3600 ", "1;w=3600", "", RateLimitInfo{Limit: 200, Remaining: 1, Window: time.Hour, ObservedAt: now}, true},
		{"bad window ignored", "100;w=-1", "7;w=x", "", RateLimitInfo{Limit: 100, Remaining: 7, ObservedAt: now}, true},
		{"no headers", "", "", "", RateLimitInfo{}, false},
		{"limit only", "100;w=21600", "", "", RateLimitInfo{}, false},
		{"not a number", "lots", "76", "", RateLimitInfo{}, false},
		{"negative", "100", "-1", "", RateLimitInfo{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.limit != "" {
				h.Set("RateLimit-Limit", tt.limit)
			}
			if tt.remaining != "" {
				h.Set("ratelimit-remaining", tt.remaining)
			}
			if tt.source != "" {
				h.Set("Docker-RateLimit-Source", tt.source)
			}
			got, ok := parseRateLimit(h, now)
			if ok != tt.ok {
				t.Errorf("parseRateLimit ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseRateLimit (-want +got):\n%s", diff)
			}
		})
	}
}
