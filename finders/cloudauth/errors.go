package cloudauth

import (
	"errors"
	"fmt"
	"time"
)

// RegistryMismatchError means the registry does not belong to the provider the
// object names, so no request was made: credentials of one cloud are never sent
// to another's registry.
type RegistryMismatchError struct {
	// Provider is the provider the caller asked for.
	Provider Provider
	// Registry is the registry host as given.
	Registry string
	// BelongsTo is the provider the host is recognised as, Generic when none.
	BelongsTo Provider
}

func (e *RegistryMismatchError) Error() string {
	want := map[Provider]string{
		AWS:   "<account>.dkr.ecr.<region>.amazonaws.com (or .amazonaws.com.cn, the -fips and on.aws forms) or public.ecr.aws",
		GCP:   "<location>-docker.pkg.dev or [us.|eu.|asia.]gcr.io",
		Azure: "<name>.azurecr.io, .azurecr.cn or .azurecr.us",
	}[e.Provider]
	if e.BelongsTo == Generic {
		return fmt.Sprintf("registry %q is not a %s registry: provider %s expects %s", e.Registry, e.Provider, e.Provider, want)
	}
	return fmt.Sprintf("registry %q belongs to provider %s, not %s: provider %s expects %s", e.Registry, e.BelongsTo, e.Provider, e.Provider, want)
}

// IdentityError means the identity to exchange is incomplete or malformed: a
// missing or malformed service-account annotation, or a controller whose pod has
// no workload identity configured. No request was made.
type IdentityError struct {
	// Provider is the provider whose identity is wrong.
	Provider Provider
	// Msg says what is missing or malformed, and where.
	Msg string
}

func (e *IdentityError) Error() string { return e.Msg }

// ExchangeError is a failed request to a provider endpoint.
type ExchangeError struct {
	// Provider is the provider whose endpoint failed.
	Provider Provider
	// Step names the endpoint: "sts", "ecr", "ecr-public", "metadata", "gcp-sts",
	// "iamcredentials", "entra", "acr-exchange" or "token-request" (the service
	// account token itself).
	Step string
	// StatusCode is the HTTP status, 0 when no answer came.
	StatusCode int
	// Code is the provider's error code when it sent one, such as "AccessDenied".
	Code string
	// Transient is true for a network error or a 5xx answer: retrying later may help.
	// A 4xx answer is a refusal that needs a change to the IAM setup or the annotations.
	Transient bool
	// Err is the underlying error. Its text never holds a token.
	Err error
}

func (e *ExchangeError) Error() string {
	s := fmt.Sprintf("%s %s", e.Provider, e.Step)
	switch {
	case e.StatusCode != 0 && e.Code != "":
		s += fmt.Sprintf(" answered %d %s", e.StatusCode, e.Code)
	case e.StatusCode != 0:
		s += fmt.Sprintf(" answered %d", e.StatusCode)
	}
	return s + ": " + e.Err.Error()
}

func (e *ExchangeError) Unwrap() error { return e.Err }

// ClockSkewError means a provider issued a credential that had already expired by
// this machine's clock: the clocks differ by more than the credential's lifetime.
// The credential is not cached; fix the clock (NTP) of the controller's node.
type ClockSkewError struct {
	// Provider and Step name the endpoint that issued the credential.
	Provider Provider
	Step     string
	// ExpiresAt is the expiry the provider set; Now is the local clock.
	ExpiresAt, Now time.Time
}

func (e *ClockSkewError) Error() string {
	return fmt.Sprintf("%s %s issued a credential that expires at %s, which is already past by this machine's clock (%s): the clocks differ by more than the credential's lifetime",
		e.Provider, e.Step, e.ExpiresAt.UTC().Format(time.RFC3339), e.Now.UTC().Format(time.RFC3339))
}

// Reason returns the condition reason for an error of this package:
// ProviderRegistryMismatch, ProviderIdentityInvalid, ProviderClockSkew,
// ProviderAuthFailed (a refusal) or ProviderUnavailable (network or 5xx). It
// returns "" for any other error.
func Reason(err error) string {
	var (
		mm *RegistryMismatchError
		id *IdentityError
		cs *ClockSkewError
		ex *ExchangeError
	)
	switch {
	case errors.As(err, &mm):
		return "ProviderRegistryMismatch"
	case errors.As(err, &id):
		return "ProviderIdentityInvalid"
	case errors.As(err, &cs):
		return "ProviderClockSkew"
	case errors.As(err, &ex) && ex.Transient:
		return "ProviderUnavailable"
	case errors.As(err, &ex):
		return "ProviderAuthFailed"
	}
	return ""
}
