// Package faultproxy is a reverse proxy for tests that sits in front of a registry
// (internal/testregistry, its refregistry or the demo registry) and applies
// per-request faults: statuses, hanging and trickling bodies, resets mid-body,
// rewritten bodies and headers, redirects, oversized bodies, random failures. It
// logs every request with its User-Agent, the fault applied and the body bytes
// written, so that tests can bound requests per attempt and bytes read. The log
// is the kit's one testregistry.RequestLog, and TLS uses the kit's test CA.
//
// The proxy rewrites the backend's URL in WWW-Authenticate to its own, so token
// requests go through it too. Sink is a listener that only counts connections,
// for tests that prove nothing was sent somewhere.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/testpki"
)

// Options configure a Proxy.
type Options struct {
	// Addr is the address to listen on; empty means 127.0.0.1:0. Any 127.0.0.0/8
	// address works on Linux, which lets a test deny one loopback address and allow another.
	Addr string
	// TLS serves HTTPS with the kit's test CA (testpki.PKI): the
	// certificate is valid for localhost, 127.0.0.1 and ::1.
	TLS bool
}

// Proxy is a fault-injecting reverse proxy. Create it with New.
type Proxy struct {
	srv      *httptest.Server
	backend  *url.URL
	rp       *httputil.ReverseProxy
	accepted atomic.Int64
	log      *testregistry.RequestLog
	pki      *testpki.PKI

	mu    sync.Mutex
	rules []*Rule
}

// Request is one logged request (testregistry.Request): its Method, Path,
// UserAgent, Time, Fault (the name of the rule that applied), Status (0 when
// the connection was cut first) and BodyBytes written to the client.
type Request = testregistry.Request

// Fault handles a request instead of the backend. next forwards it to the backend.
type Fault func(w http.ResponseWriter, r *http.Request, next http.Handler)

// Rule applies Fault to matching requests.
type Rule struct {
	// Name names the rule in the log; empty means "fault".
	Name string
	// Method matches the HTTP method; empty matches any.
	Method string
	// Path matches the URL path with path.Match ("*" does not cross "/"); empty matches any.
	Path string
	// Times applies the fault to the first Times matching requests only; zero means all.
	Times int
	// Fault handles the request.
	Fault Fault

	applied int
}

// New starts a proxy in front of backend ("http://127.0.0.1:PORT") and closes it
// when the test ends.
func New(t testing.TB, backend string, opts Options) *Proxy {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatalf("faultproxy: backend %q: %v", backend, err)
	}
	p := &Proxy{backend: u, log: &testregistry.RequestLog{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		ModifyResponse: func(resp *http.Response) error {
			for i, v := range resp.Header.Values("WWW-Authenticate") {
				resp.Header["Www-Authenticate"][i] = strings.ReplaceAll(v, strings.TrimSuffix(backend, "/"), p.URL())
			}
			return nil
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("faultproxy: listen %s: %v", addr, err)
	}
	p.srv.Listener = &countingListener{Listener: l, n: &p.accepted}
	if opts.TLS {
		p.pki = testpki.New(t)
		p.srv.TLS = p.pki.ServerConfig(false)
		p.srv.StartTLS()
	} else {
		p.srv.Start()
	}
	t.Cleanup(p.srv.Close)
	return p
}

// URL returns the proxy's base URL, such as "http://127.0.0.2:PORT".
func (p *Proxy) URL() string { return p.srv.URL }

// Host returns the proxy's "IP:PORT", the registry host to give the finders.
func (p *Proxy) Host() string { return p.srv.Listener.Addr().String() }

// Transport returns a new base transport that, for a TLS proxy, trusts the test CA.
func (p *Proxy) Transport() *http.Transport {
	if p.pki != nil {
		return p.pki.Transport(false)
	}
	return http.DefaultTransport.(*http.Transport).Clone()
}

// Log returns the proxy's request log.
func (p *Proxy) Log() *testregistry.RequestLog { return p.log }

// Accepted returns the number of connections accepted.
func (p *Proxy) Accepted() int { return int(p.accepted.Load()) }

// SetRules replaces the rules. The first matching rule applies; requests that
// match none go to the backend.
func (p *Proxy) SetRules(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
	for i := range rules {
		r := rules[i]
		p.rules = append(p.rules, &r)
	}
}

// Requests returns a copy of the log.
func (p *Proxy) Requests() []Request { return p.log.Requests() }

// Reset clears the log.
func (p *Proxy) Reset() { p.log.Reset() }

// Count returns the number of logged requests for which match is true; nil matches all.
func (p *Proxy) Count(match func(Request) bool) int { return p.log.CountFunc(match) }

// String renders the log, one request a line, for failure messages.
func (p *Proxy) String() string {
	var b strings.Builder
	for _, r := range p.Requests() {
		fmt.Fprintf(&b, "%s %s -> %d %dB %s\n", r.Method, r.Path, r.Status, r.BodyBytes, r.Fault)
	}
	return b.String()
}

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	cw := &testregistry.StatusWriter{ResponseWriter: w}
	entry := Request{Method: req.Method, Host: req.Host, Path: req.URL.Path, Query: req.URL.RawQuery,
		HasAuth: req.Header.Get("Authorization") != "", UserAgent: req.UserAgent(), Time: time.Now()}
	var fault Fault
	p.mu.Lock()
	for _, r := range p.rules {
		if r.matches(req) {
			r.applied++
			fault, entry.Fault = r.Fault, r.Name
			if entry.Fault == "" {
				entry.Fault = "fault"
			}
			break
		}
	}
	p.mu.Unlock()
	if fault != nil {
		fault(cw, req, p.rp)
	} else {
		p.rp.ServeHTTP(cw, req)
	}
	entry.Status, entry.BodyBytes = cw.Status(), cw.Bytes()
	p.log.Add(entry)
}

func (r *Rule) matches(req *http.Request) bool {
	if r.Method != "" && r.Method != req.Method {
		return false
	}
	if r.Path != "" {
		if ok, _ := path.Match(r.Path, req.URL.Path); !ok {
			return false
		}
	}
	return r.Times <= 0 || r.applied < r.Times
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// Sink is a listener that counts the connections it accepts and closes them at once.
type Sink struct {
	l        net.Listener
	accepted atomic.Int64
}

// NewSink listens on addr (such as "127.0.0.1:0") until the test ends.
func NewSink(t testing.TB, addr string) *Sink {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("faultproxy: sink listen %s: %v", addr, err)
	}
	s := &Sink{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return s
}

// Addr returns the sink's "IP:PORT".
func (s *Sink) Addr() string { return s.l.Addr().String() }

// Port returns the sink's port.
func (s *Sink) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr())
	return port
}

// Accepted returns the number of connections accepted.
func (s *Sink) Accepted() int { return int(s.accepted.Load()) }

// Response is a recorded backend response that Modify can change.
type Response struct {
	// Status is the status code.
	Status int
	// Header holds the headers; Content-Length is set from Body when written, unless
	// the request is a HEAD.
	Header http.Header
	// Body is the body.
	Body []byte
}

// record runs next and returns its response.
func record(r *http.Request, next http.Handler) *Response {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	return &Response{Status: rec.Code, Header: rec.Header().Clone(), Body: rec.Body.Bytes()}
}

func (resp *Response) writeHeader(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	if r.Method != http.MethodHead {
		h.Set("Content-Length", fmt.Sprint(len(resp.Body)))
	}
	w.WriteHeader(resp.Status)
}

// Status answers with code, the extra headers and a registry-style error body
// whose code is errCode ("" picks one from the status, testregistry.ErrorCode).
func Status(code int, errCode string, header http.Header) Fault {
	if errCode == "" {
		errCode = testregistry.ErrorCode(code)
	}
	body := fmt.Sprintf(`{"errors":[{"code":%q,"message":%q}]}`, errCode, http.StatusText(code))
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(code)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(body))
		}
	}
}

// Modify forwards the request, lets change alter the response, and writes it.
func Modify(change func(*Response)) Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		resp := record(r, next)
		change(resp)
		resp.writeHeader(w, r)
		if r.Method != http.MethodHead {
			_, _ = w.Write(resp.Body)
		}
	}
}

// Hang sends the backend's headers and then no body, until the client goes away.
func Hang() Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		record(r, next).writeHeader(w, r)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}
}

// Trickle sends the backend's response one byte every interval.
func Trickle(interval time.Duration) Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		resp := record(r, next)
		resp.writeHeader(w, r)
		rc := http.NewResponseController(w)
		for _, b := range resp.Body {
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			_ = rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(interval):
			}
		}
	}
}

// ResetAfter sends the backend's headers and the first n body bytes, then resets
// the connection (a TCP RST). n < 0 resets before anything is written.
func ResetAfter(n int) Fault {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if n >= 0 {
			resp := record(r, next)
			resp.writeHeader(w, r)
			if n > len(resp.Body) {
				n = len(resp.Body)
			}
			_, _ = w.Write(resp.Body[:n])
			_ = http.NewResponseController(w).Flush()
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(fmt.Sprintf("faultproxy: hijack: %v", err))
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		conn.Close()
	}
}

// Redirect answers 307 with a Location built from the request.
func Redirect(location func(r *http.Request) string) Fault {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		http.Redirect(w, r, location(r), http.StatusTemporaryRedirect)
	}
}

// Large answers 200 with size bytes of a JSON-looking body of contentType,
// declaring Content-Length only when declared is true. It stops when the client
// goes away; the log's BodyBytes tells how much was written.
func Large(size int64, declared bool, contentType string) Fault {
	chunk := bytes.Repeat([]byte(`{"a":"aaaaaaaaaaaaaaaaaaaaaaaaaa"},`), 1024)
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		w.Header().Set("Content-Type", contentType)
		if declared {
			w.Header().Set("Content-Length", fmt.Sprint(size))
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		for left := size; left > 0; {
			b := chunk
			if int64(len(b)) > left {
				b = b[:left]
			}
			n, err := w.Write(b)
			if err != nil {
				return
			}
			left -= int64(n)
		}
	}
}

// Random applies one of faults, chosen at random, to a fraction p of requests, with
// a fixed seed so that a run can be repeated; the others go to the backend.
func Random(seed int64, p float64, faults ...Fault) Fault {
	var mu sync.Mutex
	rng := rand.New(rand.NewSource(seed))
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		mu.Lock()
		hit := rng.Float64() < p
		i := rng.Intn(len(faults))
		mu.Unlock()
		if !hit {
			next.ServeHTTP(w, r)
			return
		}
		faults[i](w, r, next)
	}
}
