// Package netpolicy decides where registry requests may go: a list of allowed
// registry host globs, checked before every request (redirects and token realms
// included), and a list of denied networks, checked when a connection is dialled,
// after DNS, so that DNS names, DNS rebinding, redirects and token realms that
// point at a denied address are all refused before a packet leaves the process.
//
// It answers the SSRF threat of an operator that fetches from addresses its
// users type into a custom resource, from inside a cluster.
//
// Behind an HTTPS_PROXY, the dial-time check sees only the proxy's address; the
// host list and IP-literal hosts are still checked per request.
package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"weak"
)

// DefaultDeniedNetworks are denied unless --denied-networks says otherwise: the
// link-local ranges, which hold the cloud metadata endpoints 169.254.169.254 and
// fe80::a9fe:a9fe, and the metadata addresses outside them (AWS's IPv6 endpoint,
// Alibaba Cloud's). Loopback and the private ranges stay allowed, because
// in-cluster registries live there.
const DefaultDeniedNetworks = "169.254.0.0/16,fe80::/10,fd00:ec2::254/128,100.100.100.200/32"

// The flags named in refusals, so that a reader knows what to change.
const (
	AllowedRegistriesFlag = "--allowed-registries"
	DeniedNetworksFlag    = "--denied-networks"
)

// Policy is where registry requests may go. The zero value and nil allow everything.
// A Policy must not be changed after its first use.
type Policy struct {
	// AllowedRegistries are host globs in path.Match syntax, such as "*.docker.io",
	// "ghcr.io" or "registry.internal:5000". A glob without a port matches the host
	// on any port; one with a port matches that port only. Empty allows every host.
	AllowedRegistries []string
	// DeniedNetworks are refused at dial time, whatever name led there.
	DeniedNetworks []netip.Prefix
	// Resolver, when set, resolves names for the dialer; tests use it to simulate
	// DNS answers. Nil means net.DefaultResolver.
	Resolver *net.Resolver

	transports sync.Map // weak.Pointer[http.Transport] -> *http.Transport
}

// Parse builds a Policy from the flags' comma-separated values. Blank entries are
// ignored, so "" allows every host and denies no network.
func Parse(allowedRegistries, deniedNetworks string) (*Policy, error) {
	p := &Policy{}
	for _, g := range split(allowedRegistries) {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("%s: %q is not a valid glob: %w", AllowedRegistriesFlag, g, err)
		}
		if strings.Contains(g, "/") {
			return nil, fmt.Errorf("%s: %q must be a host glob with an optional :port, without a scheme or path", AllowedRegistriesFlag, g)
		}
		p.AllowedRegistries = append(p.AllowedRegistries, strings.ToLower(g))
	}
	for _, s := range split(deniedNetworks) {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is not a CIDR such as 10.0.0.0/8 or an address: %w", DeniedNetworksFlag, s, err)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		p.DeniedNetworks = append(p.DeniedNetworks, pfx.Masked())
	}
	return p, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// String renders the policy as the flags would set it.
func (p *Policy) String() string {
	if p == nil {
		return "any host, any network"
	}
	nets := make([]string, len(p.DeniedNetworks))
	for i, n := range p.DeniedNetworks {
		nets[i] = n.String()
	}
	return fmt.Sprintf("%s=%s %s=%s", AllowedRegistriesFlag, strings.Join(p.AllowedRegistries, ","), DeniedNetworksFlag, strings.Join(nets, ","))
}

// NotAllowedError is a refusal: of a host by AllowedRegistries, or of an address
// by DeniedNetworks. Nothing was sent to it.
type NotAllowedError struct {
	// Host is the refused host (with its port), or the host whose address was refused.
	Host string
	// Addr is the refused address, for a denied network.
	Addr netip.Addr
	// Network is the denied network that holds Addr.
	Network netip.Prefix
	// Flag is the flag that refused it.
	Flag string
}

// Error implements error.
func (e *NotAllowedError) Error() string {
	if e.Flag == AllowedRegistriesFlag {
		return fmt.Sprintf("host %s is not in %s", e.Host, AllowedRegistriesFlag)
	}
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("address %s of %s is in %s, which %s denies", e.Addr, e.Host, e.Network, DeniedNetworksFlag)
	}
	return fmt.Sprintf("address %s is in %s, which %s denies", e.Addr, e.Network, DeniedNetworksFlag)
}

// CheckHost checks a request's host (host or host:port) against both lists: the
// host globs, and, when the host is an IP literal, the denied networks. It is the
// check that holds behind a proxy, where the dialler sees only the proxy.
func (p *Policy) CheckHost(hostport string) error {
	if p == nil {
		return nil
	}
	host, port := splitHostPort(hostport)
	if len(p.AllowedRegistries) > 0 && !p.hostAllowed(host, port) {
		return &NotAllowedError{Host: hostport, Flag: AllowedRegistriesFlag}
	}
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return p.checkAddr(hostport, addr)
	}
	return nil
}

func (p *Policy) hostAllowed(host, port string) bool {
	host = strings.ToLower(host)
	for _, g := range p.AllowedRegistries {
		gh, gp := splitHostPort(g)
		if gp != "" && gp != port {
			continue
		}
		if ok, _ := path.Match(gh, host); ok {
			return true
		}
	}
	return false
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "v6" without failing.
func splitHostPort(s string) (host, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	return strings.Trim(s, "[]"), ""
}

func (p *Policy) checkAddr(host string, addr netip.Addr) error {
	// netip.Prefix.Contains is false for any address with a zone, and Linux ignores
	// the zone of an address that is not link-local: "[::1%1]" reaches ::1. Drop it.
	addr = addr.WithZone("").Unmap()
	for _, n := range p.DeniedNetworks {
		if n.Contains(addr) {
			return &NotAllowedError{Host: host, Addr: addr, Network: n, Flag: DeniedNetworksFlag}
		}
	}
	return nil
}

// Control is a net.Dialer Control function that refuses denied networks. It runs
// after DNS and before the connection is made, once per address tried.
func (p *Policy) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netpolicy: cannot parse dialled address %q: %w", address, err)
	}
	return p.checkAddr("", ap.Addr())
}

// dialer returns a dialer with the settings of http.DefaultTransport's and Control.
func (p *Policy) dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control, Resolver: p.Resolver}
}

// Transport returns base with the denied networks enforced at dial time: a clone
// of base whose dialler refuses them. The clone is made once per base and reused,
// so connection pools and sessions keyed by transport survive; it is forgotten
// when base is garbage collected. Without denied networks, base itself is returned.
//
// The clone's DialContext is a net.Dialer with http.DefaultTransport's timeouts
// and Control; a DialContext of base is replaced. A base that is not an
// *http.Transport, or that dials TLS itself, is refused with an error.
func (p *Policy) Transport(base http.RoundTripper) (http.RoundTripper, error) {
	if p == nil || len(p.DeniedNetworks) == 0 && p.Resolver == nil {
		return base, nil
	}
	t, ok := base.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("netpolicy: cannot enforce %s on a %T; give an *http.Transport", DeniedNetworksFlag, base)
	}
	if t.DialTLSContext != nil || t.DialTLS != nil { //nolint:staticcheck // SA1019: a caller may still set the deprecated DialTLS; it must be refused too
		return nil, errors.New("netpolicy: cannot enforce " + DeniedNetworksFlag + " on a transport with its own TLS dialler")
	}
	key := weak.Make(t)
	if v, ok := p.transports.Load(key); ok {
		return v.(*http.Transport), nil
	}
	clone := t.Clone()
	clone.DialContext = p.dialContext
	if v, loaded := p.transports.LoadOrStore(key, clone); loaded {
		return v.(*http.Transport), nil
	}
	runtime.AddCleanup(t, func(k weak.Pointer[http.Transport]) {
		if v, ok := p.transports.LoadAndDelete(k); ok {
			v.(*http.Transport).CloseIdleConnections()
		}
	}, key)
	return clone, nil
}

// dialContext dials with Control, and names the host in a refusal.
func (p *Policy) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := p.dialer().DialContext(ctx, network, address)
	var nerr *NotAllowedError
	if err != nil && errors.As(err, &nerr) && nerr.Host == "" {
		nerr.Host = address
	}
	return c, err
}

// Guard returns a RoundTripper that checks every request's host with CheckHost
// before handing it to inner. Redirects and token requests are new requests, so
// they are checked too.
func (p *Policy) Guard(inner http.RoundTripper) http.RoundTripper {
	if p == nil || len(p.AllowedRegistries) == 0 && len(p.DeniedNetworks) == 0 {
		return inner
	}
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if err := p.CheckHost(req.URL.Host); err != nil {
			return nil, err
		}
		return inner.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
