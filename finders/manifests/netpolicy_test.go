package manifests_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/faultproxy"
)

// TestNetworkPolicy shows that a refused host or address receives no connection at
// all, whichever way it is reached: by the registry's name, by an IP literal, by a
// redirect, by a token realm, or by DNS rebinding. The registry is reached through
// a proxy on 127.0.0.2, which the policy allows; 127.0.0.1 and ::1, where the
// sinks listen, are denied.
func TestNetworkPolicy(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "demo/hello", "1.0", idx)
	front := faultproxy.New(t, reg.URL(), faultproxy.Options{Addr: "127.0.0.2:0"})
	sink := faultproxy.NewSink(t, "127.0.0.1:0")
	sinkURL := "http://localhost:" + sink.Port()

	denyLoopback, err := netpolicy.Parse("", netpolicy.DefaultDeniedNetworks+",127.0.0.1/32,::1/128")
	if err != nil {
		t.Fatal(err)
	}
	allowFront, err := netpolicy.Parse("127.0.0.2", "")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		registry string
		policy   *netpolicy.Policy
		rule     *faultproxy.Rule
		// wantMsg are parts of the message: the host or address, and the flag.
		wantMsg []string
		// frontRequests is how many requests reach the allowed front.
		frontRequests int
	}{
		{
			name: "registry named by a DNS name that resolves to a denied address", registry: "localhost:" + sink.Port(), policy: denyLoopback,
			wantMsg: []string{"of localhost:" + sink.Port(), "--denied-networks"},
		},
		{
			name: "registry named by a denied IP literal", registry: sink.Addr(), policy: denyLoopback,
			wantMsg: []string{"address 127.0.0.1", "127.0.0.1/32", "--denied-networks"},
		},
		{
			name: "registry not in the host list", registry: sink.Addr(), policy: allowFront,
			wantMsg: []string{"host " + sink.Addr() + " is not in --allowed-registries"},
		},
		{
			name: "redirect to a name of a denied address", registry: front.Host(), policy: denyLoopback,
			rule: &faultproxy.Rule{Method: http.MethodGet, Path: "/v2/demo/hello/manifests/*", Fault: faultproxy.Redirect(func(r *http.Request) string { return sinkURL + r.URL.Path })},
			// ping, token, the redirected GET.
			wantMsg: []string{"of localhost:" + sink.Port(), "--denied-networks"}, frontRequests: 3,
		},
		{
			name: "redirect to a host outside the host list", registry: front.Host(), policy: allowFront,
			rule:    &faultproxy.Rule{Method: http.MethodGet, Path: "/v2/demo/hello/manifests/*", Fault: faultproxy.Redirect(func(r *http.Request) string { return sinkURL + r.URL.Path })},
			wantMsg: []string{"host localhost:" + sink.Port() + " is not in --allowed-registries"}, frontRequests: 3,
		},
		{
			name: "token realm on a name of a denied address", registry: front.Host(), policy: denyLoopback,
			rule:    &faultproxy.Rule{Path: "/v2/", Fault: realm(sinkURL + "/token")},
			wantMsg: []string{"of localhost:" + sink.Port(), "--denied-networks"}, frontRequests: 1,
		},
		{
			name: "token realm outside the host list", registry: front.Host(), policy: allowFront,
			rule:    &faultproxy.Rule{Path: "/v2/", Fault: realm(sinkURL + "/token")},
			wantMsg: []string{"host localhost:" + sink.Port() + " is not in --allowed-registries"}, frontRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front.Reset()
			front.SetRules()
			if tt.rule != nil {
				front.SetRules(*tt.rule)
			}
			before := sink.Accepted()
			o := manifests.Options{
				Registry: tt.registry, Repository: "demo/hello", Tag: "1.0",
				Network: manifests.Network{
					Insecure:     true,
					Policy:       tt.policy,
					Transport:    http.DefaultTransport.(*http.Transport).Clone(),
					Timeout:      5 * time.Second,
					RetryBackoff: fastRetry,
				},
			}
			_, err := manifests.Resolve(context.Background(), o)
			if !errors.Is(err, manifests.ErrRegistryNotAllowed) {
				t.Fatalf("Resolve = %v, want RegistryNotAllowed", err)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q does not contain %q", err, s)
				}
			}
			if n := sink.Accepted() - before; n != 0 {
				t.Errorf("the refused address accepted %d connections", n)
			}
			if n := len(front.Requests()); n != tt.frontRequests {
				t.Errorf("%d requests reached the allowed registry, want %d:\n%s", n, tt.frontRequests, front)
			}
		})
	}

	t.Run("the default policy lets loopback and the token dance through", func(t *testing.T) {
		def, _ := netpolicy.Parse("", netpolicy.DefaultDeniedNetworks)
		o := manifests.Options{Registry: reg.Host(), Repository: "demo/hello", Tag: "1.0", Network: manifests.Network{Insecure: true, Policy: def, Transport: reg.Transport(), Timeout: 5 * time.Second}}
		if _, err := manifests.Resolve(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("DNS rebinding: a name that resolved to an allowed address, then to a denied one", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(front.Host())
		// The rebound address: the same port on 127.0.0.1.
		rebound := faultproxy.NewSink(t, "127.0.0.1:"+port)
		var answer atomic.Value
		answer.Store(net.IPv4(127, 0, 0, 2))
		p, _ := netpolicy.Parse("", "127.0.0.1/32,::1/128")
		p.Resolver = fakeDNS(t, "rebind.test.", &answer)
		o := manifests.Options{
			Registry: "rebind.test:" + port, Repository: "demo/hello", Tag: "1.0",
			Network: manifests.Network{
				Insecure:     true,
				Policy:       p,
				Transport:    http.DefaultTransport.(*http.Transport).Clone(),
				Timeout:      5 * time.Second,
				RetryBackoff: fastRetry,
			},
		}
		// The realm on the registry's own name, as a registry behind that name would announce it.
		front.SetRules(faultproxy.Rule{Path: "/v2/", Fault: realm("http://rebind.test:" + port + "/token")})
		if _, err := manifests.Resolve(context.Background(), o); err != nil {
			t.Fatalf("first resolution, rebind.test -> 127.0.0.2: %v", err)
		}
		answer.Store(net.IPv4(127, 0, 0, 1))
		o.Network.Transport = http.DefaultTransport.(*http.Transport).Clone() // a new connection must be dialled
		_, err := manifests.Resolve(context.Background(), o)
		if !errors.Is(err, manifests.ErrRegistryNotAllowed) || !strings.Contains(err.Error(), "address 127.0.0.1 of rebind.test:"+port) {
			t.Fatalf("after rebinding: %v, want RegistryNotAllowed naming 127.0.0.1", err)
		}
		if rebound.Accepted() != 0 {
			t.Errorf("the rebound address accepted %d connections", rebound.Accepted())
		}
	})
}

// realm rewrites the challenge of the /v2/ ping to name another token realm.
func realm(url string) faultproxy.Fault {
	return faultproxy.Modify(func(r *faultproxy.Response) {
		r.Header.Set("WWW-Authenticate", `Bearer realm="`+url+`",service="testregistry"`)
	})
}

// fakeDNS answers A queries for name with the address in answer, and every other
// query with no records, from a UDP server on loopback.
func fakeDNS(t *testing.T, name string, answer *atomic.Value) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], name, answer.Load().(net.IP)); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// dnsAnswer builds the response to a one-question query (RFC 1035 section 4.1).
func dnsAnswer(q []byte, name string, ip net.IP) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels, then type and class.
	i, labels := 12, []string{}
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	question := q[12 : i+5]
	match := strings.EqualFold(strings.Join(labels, ".")+".", name) && qtype == 1
	resp := append([]byte{}, q[:2]...)          // ID
	resp = append(resp, 0x81, 0x80)             // response, recursion desired and available, NOERROR
	resp = append(resp, 0, 1, 0, 0, 0, 0, 0, 0) // one question; answers filled in below
	resp = append(resp, question...)
	if match {
		resp[7] = 1
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4) // name pointer, A, IN, TTL 0, 4 bytes
		resp = append(resp, ip.To4()...)
	}
	return resp
}
