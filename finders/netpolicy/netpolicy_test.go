package netpolicy_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
)

func TestParse(t *testing.T) {
	tests := []struct {
		allowed, denied string
		wantErr         string
		wantString      string
	}{
		{"", "", "", "--allowed-registries= --denied-networks="},
		{"*.docker.io, ghcr.io,,registry.internal:5000", netpolicy.DefaultDeniedNetworks, "",
			"--allowed-registries=*.docker.io,ghcr.io,registry.internal:5000 --denied-networks=169.254.0.0/16,fe80::/10,fd00:ec2::254/128,100.100.100.200/32"},
		{"", "10.0.0.1,10.1.2.3/16", "", "--allowed-registries= --denied-networks=10.0.0.1/32,10.1.0.0/16"},
		{"", "10.0.0.0/33", `--denied-networks: "10.0.0.0/33" is not a CIDR`, ""},
		{"https://ghcr.io", "", `--allowed-registries: "https://ghcr.io" must be a host glob`, ""},
		{"[ghcr.io", "", `--allowed-registries: "[ghcr.io" is not a valid glob`, ""},
	}
	for _, tt := range tests {
		p, err := netpolicy.Parse(tt.allowed, tt.denied)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q, %q) = %v, want an error containing %q", tt.allowed, tt.denied, err, tt.wantErr)
			}
			continue
		}
		if err != nil || p.String() != tt.wantString {
			t.Errorf("Parse(%q, %q) = %v, %v, want %q", tt.allowed, tt.denied, p, err, tt.wantString)
		}
	}
}

// TestZonedAddresses: an IPv6 zone does not take an address out of a denied
// network, neither in a request's host nor at dial time.
func TestZonedAddresses(t *testing.T) {
	p, err := netpolicy.Parse("", netpolicy.DefaultDeniedNetworks+",::1/128")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"[fe80::1%25eth0]", "[fe80::a9fe:a9fe%lo]:80", "[fd00:ec2::254%251]:443", "[::1%1]:5000", "[::ffff:169.254.169.254%eth0]:80"} {
		var nerr *netpolicy.NotAllowedError
		if err := p.CheckHost(host); !errors.As(err, &nerr) || nerr.Flag != netpolicy.DeniedNetworksFlag {
			t.Errorf("CheckHost(%q) = %v, want refused by %s", host, err, netpolicy.DeniedNetworksFlag)
		}
	}
	for _, addr := range []string{"[fe80::1%eth0]:443", "[::1%1]:5000", "[fd00:ec2::254%2]:80"} {
		if err := p.Control("tcp6", addr, nil); err == nil {
			t.Errorf("Control(%q) allowed a denied address", addr)
		}
	}
	if err := p.Control("tcp6", "[2001:db8::1%eth0]:443", nil); err != nil {
		t.Errorf("Control allowed-network address with a zone: %v", err)
	}
}

func TestCheckHost(t *testing.T) {
	p, err := netpolicy.Parse("*.docker.io,ghcr.io,registry.internal:5000,10.*", netpolicy.DefaultDeniedNetworks+",10.9.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, refusedBy string
	}{
		{"registry-1.docker.io", ""},
		{"AUTH.Docker.IO:443", ""},
		{"docker.io", netpolicy.AllowedRegistriesFlag},
		{"evil-docker.io", netpolicy.AllowedRegistriesFlag},
		{"ghcr.io", ""},
		{"ghcr.io:8443", ""},
		{"ghcr.io.evil.com", netpolicy.AllowedRegistriesFlag},
		{"registry.internal:5000", ""},
		{"registry.internal", netpolicy.AllowedRegistriesFlag},
		{"registry.internal:5001", netpolicy.AllowedRegistriesFlag},
		{"10.0.0.5:5000", ""},
		{"10.9.1.1:5000", netpolicy.DeniedNetworksFlag},
		{"169.254.169.254", netpolicy.AllowedRegistriesFlag},
	}
	for _, tt := range tests {
		err := p.CheckHost(tt.host)
		var nerr *netpolicy.NotAllowedError
		switch {
		case tt.refusedBy == "" && err != nil:
			t.Errorf("CheckHost(%q) = %v, want allowed", tt.host, err)
		case tt.refusedBy != "" && (!errors.As(err, &nerr) || nerr.Flag != tt.refusedBy || !strings.Contains(err.Error(), tt.refusedBy)):
			t.Errorf("CheckHost(%q) = %v, want refused by %s", tt.host, err, tt.refusedBy)
		}
	}

	// Without a host list, IP literals are still checked against the denied networks.
	open, _ := netpolicy.Parse("", netpolicy.DefaultDeniedNetworks)
	for host, denied := range map[string]bool{"169.254.169.254": true, "[fe80::1]:80": true, "[fd00:ec2::254]": true, "100.100.100.200:80": true, "[::ffff:169.254.169.254]:80": true, "127.0.0.1:5000": false, "10.0.0.1": false, "192.168.1.1": false} {
		if err := open.CheckHost(host); (err != nil) != denied {
			t.Errorf("default policy: CheckHost(%q) = %v, want denied=%t", host, err, denied)
		}
	}
	var nilPolicy *netpolicy.Policy
	if err := nilPolicy.CheckHost("169.254.169.254"); err != nil {
		t.Errorf("a nil policy refused: %v", err)
	}
}

func TestTransport(t *testing.T) {
	p, _ := netpolicy.Parse("", "127.0.0.0/8")
	base := http.DefaultTransport.(*http.Transport).Clone()
	a, err := p.Transport(base)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Transport(base)
	if a != b || a == http.RoundTripper(base) {
		t.Errorf("Transport did not return one reused clone per base: %p %p (base %p)", a, b, base)
	}
	if _, err := p.Transport(roundTripper{}); err == nil {
		t.Error("a non-*http.Transport base was accepted; its dials could not be checked")
	}
	empty, _ := netpolicy.Parse("ghcr.io", "")
	if got, _ := empty.Transport(base); got != http.RoundTripper(base) {
		t.Error("without denied networks the base should be returned as is")
	}
}

type roundTripper struct{}

func (roundTripper) RoundTrip(*http.Request) (*http.Response, error) { return nil, errors.New("no") }
