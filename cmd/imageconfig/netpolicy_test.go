package main

import (
	"strings"
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// TestDeniedNetworks: --denied-networks refuses a registry whose name resolves
// into a denied network, before a request is sent; without it the CLI is not restricted.
func TestDeniedNetworks(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "public/app", "1", idx)
	ref := "localhost:" + strings.Split(reg.Host(), ":")[1] + "/public/app:1"

	if r := imageconfig(t, "digest", "--insecure", ref); r.code != 0 {
		t.Fatalf("without --denied-networks: exit %d, stderr %q", r.code, r.stderr)
	}
	reg.Log().Reset()
	r := imageconfig(t, "digest", "--insecure", "--denied-networks=127.0.0.0/8,::1/128", ref)
	if r.code != 1 || !strings.Contains(r.stderr, "RegistryNotAllowed") || !strings.Contains(r.stderr, "--denied-networks") {
		t.Errorf("exit %d, stderr %q; want 1 and RegistryNotAllowed naming the flag", r.code, r.stderr)
	}
	if n := len(reg.Log().Requests()); n != 0 {
		t.Errorf("%d requests reached the denied registry", n)
	}
	if r := imageconfig(t, "digest", "--denied-networks=10.0.0.0/33", ref); r.code != 2 {
		t.Errorf("a malformed --denied-networks: exit %d, want 2", r.code)
	}
}
