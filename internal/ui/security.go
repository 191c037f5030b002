package ui

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// ContentSecurityPolicy is sent with every response: no script at all, styles
// only from the embedded stylesheet, forms only to this server.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'"

// secure sets the security headers on every response and refuses every method
// but GET and HEAD: the UI changes nothing.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		setSecurityHeaders(h)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed: the UI is read-only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// setSecurityHeaders sets the headers every response carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// IsLoopback reports whether a bind address such as "127.0.0.1:8082",
// "localhost:8082" or "[::1]:0" listens on loopback only.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackHosts answers 421 Misdirected Request to requests whose Host header
// is not a loopback name or address. A UI bound on loopback uses it against DNS
// rebinding: a web page cannot make the browser send its own host name here.
func LoopbackHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		ip := net.ParseIP(host)
		if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
			setSecurityHeaders(w.Header())
			http.Error(w, "421 misdirected request: this UI listens on loopback and answers only to localhost, 127.0.0.1 or [::1]", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Server serves a handler on Addr until its context ends. It is a
// controller-runtime Runnable that every replica runs, leader or not.
type Server struct {
	// Addr is the bind address, such as ":8082" or "127.0.0.1:8082".
	Addr string
	// Handler is the UI, from New.
	Handler http.Handler
	// Listening, when set, is called with the bound address once the listener is open.
	Listening func(addr string)
	// TLSConfig, when set, makes the server answer HTTPS only.
	TLSConfig *tls.Config
}

// NeedLeaderElection returns false: the UI only reads, so every replica serves it.
func (s *Server) NeedLeaderElection() bool { return false }

// Start listens on Addr and serves until ctx ends. On loopback it answers only
// to loopback Host names (LoopbackHosts). With TLSConfig it serves HTTPS, with
// the protocols TLSConfig.NextProtos offers (http/1.1 only, unless it names h2).
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listening for the UI on %s: %w", s.Addr, err)
	}
	h := s.Handler
	if IsLoopback(ln.Addr().String()) {
		h = LoopbackHosts(h)
	}
	if s.TLSConfig != nil {
		ln = tls.NewListener(ln, s.TLSConfig)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	if s.Listening != nil {
		s.Listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving the UI: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopping the UI: %w", err)
	}
	return nil
}
