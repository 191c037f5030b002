package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

func TestErrorLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain HTTP names the flag, reason once", &manifests.Error{Reason: manifests.Unsupported, Message: "unsupported: registry r:5000 answers plain HTTP, not HTTPS; set insecure to allow plain HTTP"},
			"Unsupported: registry r:5000 answers plain HTTP, not HTTPS; pass --insecure to allow plain HTTP"},
		{"refused request names the flag", &manifests.Error{Reason: manifests.Unsupported, Message: "unsupported: refusing plain HTTP to r:5000: the registry is not marked insecure while fetching manifest; set insecure to allow plain HTTP"},
			"Unsupported: refusing plain HTTP to r:5000: --insecure is not set while fetching manifest; pass --insecure to allow plain HTTP"},
		{"reason not repeated in the message is kept", &manifests.Error{Reason: manifests.NotFound, Message: `manifest "nope" of some/repo not found`},
			`NotFound: manifest "nope" of some/repo not found`},
		{"wrapped", fmt.Errorf("resolving: %w", &manifests.Error{Reason: manifests.Unauthorized, Message: "unauthorized: credentials refused"}),
			"Unauthorized: credentials refused"},
		{"bare reason", &manifests.Error{Reason: manifests.Unavailable}, "Unavailable"},
		{"not a finders error", errors.New("config blob\nis not valid JSON"), "config blob is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorLine(tt.err); got != tt.want {
				t.Errorf("errorLine = %q\nwant        %q", got, tt.want)
			}
		})
	}
}
