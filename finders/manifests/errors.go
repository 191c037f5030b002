package manifests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imageconfig/imageconfig-operator/finders/manifests/session"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
)

// Reason classifies a resolution error. Its values are the condition reasons
// the controller reports, so they read as CamelCase words.
type Reason string

// The reasons a resolution can fail.
const (
	// InvalidReference: the registry, repository, tag or digest is malformed.
	InvalidReference Reason = "InvalidReference"
	// NotFound: the registry has no such repository, tag, digest or blob.
	NotFound Reason = "NotFound"
	// Unauthorized: credentials were refused, or required and not given.
	Unauthorized Reason = "Unauthorized"
	// PlatformNotFound: the index has no entry for the requested platform.
	PlatformNotFound Reason = "PlatformNotFound"
	// PlatformMismatch: a single-platform image was built for another platform.
	PlatformMismatch Reason = "PlatformMismatch"
	// InvalidManifest: a manifest, index or config could not be parsed.
	InvalidManifest Reason = "InvalidManifest"
	// TooLarge: a manifest or config is over its size bound.
	TooLarge Reason = "TooLarge"
	// DigestMismatch: content fetched by digest hashed to another digest.
	DigestMismatch Reason = "DigestMismatch"
	// Unsupported: a media type such as Docker schema 1 is not supported.
	Unsupported Reason = "Unsupported"
	// RateLimited: the registry answered 429 Too Many Requests.
	RateLimited Reason = "RateLimited"
	// Unavailable: the registry could not be reached, timed out, or answered 5xx.
	Unavailable Reason = "Unavailable"
	// RegistryNotAllowed: Options.Network.Policy refused the registry, a redirect
	// target or a token realm, by host or by address; nothing was sent there.
	RegistryNotAllowed Reason = "RegistryNotAllowed"
)

// Error is the typed error every resolution failure is returned as.
// Use errors.As to read its Reason, or errors.Is against the Err* values:
//
//	if errors.Is(err, manifests.ErrNotFound) { ... }
//
// Its message is one line and never contains credentials.
type Error struct {
	// Reason classifies the failure.
	Reason Reason
	// Message is the human-readable description, without the reason.
	Message string
	// RetryAfter is the registry's Retry-After for RateLimited, or zero when it sent none.
	RetryAfter time.Duration
	// RateLimit is the last pull quota a registry reported during the failed
	// resolution (for a 429, what the refusal said), or nil when none did.
	RateLimit *RateLimitInfo
	// Available lists the selectable platforms of the index, for PlatformNotFound.
	Available []string
	// Err is the underlying error, if any.
	Err error
}

// Sentinel errors for errors.Is; they match any *Error of the same Reason.
var (
	ErrInvalidReference = &Error{Reason: InvalidReference}
	ErrNotFound         = &Error{Reason: NotFound}
	ErrUnauthorized     = &Error{Reason: Unauthorized}
	ErrPlatformNotFound = &Error{Reason: PlatformNotFound}
	ErrPlatformMismatch = &Error{Reason: PlatformMismatch}
	ErrInvalidManifest  = &Error{Reason: InvalidManifest}
	ErrTooLarge         = &Error{Reason: TooLarge}
	ErrDigestMismatch   = &Error{Reason: DigestMismatch}
	ErrUnsupported      = &Error{Reason: Unsupported}
	ErrRateLimited      = &Error{Reason: RateLimited}
	ErrUnavailable      = &Error{Reason: Unavailable}
	// ErrRegistryNotAllowed matches a refusal by Options.Network.Policy.
	ErrRegistryNotAllowed = &Error{Reason: RegistryNotAllowed}
)

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Reason)
	}
	return e.Message
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches a sentinel *Error of the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Reason == e.Reason
}

// Terminal reports whether retrying without a change (to the spec, the registry's
// content or a credential) cannot succeed. RateLimited and Unavailable are not terminal.
func (e *Error) Terminal() bool {
	return e.Reason != RateLimited && e.Reason != Unavailable
}

// ReasonOf returns the Reason of err, or Unavailable when err is not an *Error.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return Unavailable
}

func newError(r Reason, err error, format string, args ...any) *Error {
	return &Error{Reason: r, Message: oneLine(fmt.Sprintf(format, args...)), Err: err}
}

// MaxMessageLength bounds an error message in bytes, the ellipsis of a cut included.
const MaxMessageLength = 1024

// oneLine keeps messages on one line, without control characters, and at most
// MaxMessageLength bytes: conditions and CLI output read badly otherwise, and a
// registry's strings are attacker-controlled.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > MaxMessageLength {
		// Cut on a rune boundary, so the message stays valid UTF-8.
		cut := MaxMessageLength - len("…")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// notAllowed is the error of a refusal by Options.Network.Policy while fetching what
// from registry host; what is empty when the registry itself was refused.
func notAllowed(e *netpolicy.NotAllowedError, host, what string) *Error {
	if what == "" {
		return newError(RegistryNotAllowed, e, "registry %s is not allowed: %s; nothing was sent there", host, e)
	}
	return newError(RegistryNotAllowed, e, "not allowed while fetching %s from registry %s: %s; nothing was sent there", what, host, e)
}

// classify turns an error from an HTTP exchange with the registry into an *Error.
// what names the object being fetched, e.g. `manifest "1.27" of library/nginx`.
func (r *resolver) classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	host := r.ref.host

	var naerr *netpolicy.NotAllowedError
	if errors.As(err, &naerr) {
		return notAllowed(naerr, host, what)
	}

	var terr *transport.Error
	if errors.As(err, &terr) {
		return r.classifyStatus(terr, what)
	}

	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return newError(Unavailable, err, "timed out after %s talking to registry %s while fetching %s", r.opts.Network.Timeout, host, what)
	case errors.Is(err, context.Canceled):
		return newError(Unavailable, err, "canceled while fetching %s from registry %s", what, host)
	}

	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &cerr), errors.As(err, &verr):
		return newError(Unavailable, err, "TLS error talking to registry %s: %s", host, certProblem(err))
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// Retrying cannot help: the spec must say insecure.
		return newError(Unsupported, err, "unsupported: registry %s answers plain HTTP, not HTTPS; set insecure to allow plain HTTP", host)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return newError(Unavailable, err, "timed out talking to registry %s while fetching %s", host, what)
	}
	// When the HTTPS ping of a local registry cannot connect, go-containerregistry
	// also tries plain HTTP, which guard refuses; the connection failure is then the
	// cause to report, since setting insecure would not help.
	var perr *session.PlainHTTPError
	var operr *net.OpError
	var dnserr *net.DNSError
	if errors.As(err, &perr) && !errors.As(err, &operr) && !errors.As(err, &dnserr) {
		// Retrying cannot help: the spec must say insecure.
		return newError(Unsupported, err, "unsupported: %s while fetching %s; set insecure to allow plain HTTP", perr.Error(), what)
	}
	return newError(Unavailable, err, "cannot reach registry %s while fetching %s: %s", host, what, redactURLs(err.Error()))
}

func certProblem(err error) string {
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	switch {
	case errors.As(err, &uerr):
		return "certificate signed by unknown authority; give the registry's CA"
	case errors.As(err, &herr):
		return "certificate is not valid for this host: " + herr.Error()
	}
	return err.Error()
}

func (r *resolver) classifyStatus(terr *transport.Error, what string) error {
	host := r.ref.host
	detail := diagnostics(terr)
	switch code := terr.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return newError(Unauthorized, terr, "registry %s refused access to %s (HTTP %d%s); check the credentials", host, what, code, detail)
	case code == http.StatusNotFound:
		return newError(NotFound, terr, "registry %s has no %s (HTTP 404%s)", host, what, detail)
	case code == http.StatusTooManyRequests || hasCode(terr, transport.TooManyRequestsErrorCode):
		e := newError(RateLimited, terr, "registry %s rate-limited the request for %s (HTTP %d%s)", host, what, code, detail)
		e.RetryAfter = r.retryAfter()
		if e.RetryAfter > 0 {
			e.Message += fmt.Sprintf("; retry after %s", e.RetryAfter)
		}
		return e
	case code >= 500 || code == http.StatusRequestTimeout:
		return newError(Unavailable, terr, "registry %s answered HTTP %d for %s%s", host, code, what, detail)
	case code == http.StatusBadRequest && (hasCode(terr, transport.NameInvalidErrorCode) || hasCode(terr, transport.TagInvalidErrorCode)):
		return newError(InvalidReference, terr, "registry %s rejected the reference for %s (HTTP 400%s)", host, what, detail)
	case code >= 400:
		// Any other client error will be answered the same way next time.
		return newError(Unsupported, terr, "unsupported: registry %s answered HTTP %d for %s%s", host, code, what, detail)
	default:
		return newError(Unavailable, terr, "registry %s answered HTTP %d for %s%s", host, code, what, detail)
	}
}

func hasCode(terr *transport.Error, code transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// diagnostics renders the registry's error codes, such as ": MANIFEST_UNKNOWN".
// Messages are left out: they can be long, and some registries echo request data.
func diagnostics(terr *transport.Error) string {
	var codes []string
	for _, d := range terr.Errors {
		if d.Code != "" {
			codes = append(codes, string(d.Code))
		}
	}
	if len(codes) == 0 {
		return ""
	}
	return ": " + strings.Join(codes, ", ")
}

// redactURLs strips query strings from URLs inside error text: token endpoints and
// signed CDN URLs carry credentials there.
func redactURLs(s string) string {
	fields := strings.Fields(s)
	for i, f := range fields {
		if (strings.Contains(f, "://")) && strings.Contains(f, "?") {
			fields[i] = f[:strings.Index(f, "?")] + "?REDACTED"
			// Keep the closing quote and colon of `Get "https://…?…":`.
			switch {
			case strings.HasSuffix(f, "\":"):
				fields[i] += "\":"
			case strings.HasSuffix(f, "\""):
				fields[i] += "\""
			case strings.HasSuffix(f, ":"):
				fields[i] += ":"
			}
		}
	}
	return strings.Join(fields, " ")
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		// Negative values, and values whose Duration would overflow, are not usable.
		if s < 0 || int64(s) > int64(math.MaxInt64/time.Second) {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
