package v1alpha1

// Condition types. They follow kstatus, so that Flux, Argo CD and
// `kubectl wait --for=condition=Ready` understand them.
const (
	// ReadyCondition is True when the status holds the resolution of the current spec.
	ReadyCondition string = "Ready"

	// ReconcilingCondition is True while the controller is resolving the image.
	ReconcilingCondition string = "Reconciling"

	// StalledCondition is True when the controller cannot make progress without a change to the spec,
	// the registry or a credential.
	StalledCondition string = "Stalled"
)

// Condition reasons.
const (
	// ResolvedReason means the image was resolved to a config.
	ResolvedReason string = "Resolved"

	// ProgressingReason means a resolution is in progress.
	ProgressingReason string = "Progressing"

	// SuspendedReason means spec.suspend is true, so the registry is not contacted.
	SuspendedReason string = "Suspended"

	// InsecureNotAllowedReason means spec.insecure is true but the manager does not allow insecure registries.
	InsecureNotAllowedReason string = "InsecureNotAllowed"

	// InvalidReferenceReason means the registry, repository, tag or digest do not form a valid image reference.
	InvalidReferenceReason string = "InvalidReference"

	// NotFoundReason means the registry does not have the repository, tag, digest or blob.
	NotFoundReason string = "NotFound"

	// UnauthorizedReason means the registry refused the credentials, or asked for credentials that were not given.
	UnauthorizedReason string = "Unauthorized"

	// PlatformNotFoundReason means the image index has no entry for the requested platform.
	PlatformNotFoundReason string = "PlatformNotFound"

	// PlatformMismatchReason means a single-platform image was built for another platform than the one requested.
	PlatformMismatchReason string = "PlatformMismatch"

	// InvalidManifestReason means the registry returned a manifest, index or config that could not be parsed.
	InvalidManifestReason string = "InvalidManifest"

	// TooLargeReason means a manifest or config is larger than the controller accepts.
	TooLargeReason string = "TooLarge"

	// DigestMismatchReason means content fetched by digest did not hash to that digest.
	DigestMismatchReason string = "DigestMismatch"

	// UnsupportedReason means the registry returned a media type the controller does not support, such as schema 1.
	UnsupportedReason string = "Unsupported"

	// RateLimitedReason means the registry answered 429 Too Many Requests.
	RateLimitedReason string = "RateLimited"

	// SecretNotFoundReason means spec.secretRef or spec.certSecretRef names a Secret that does not exist.
	SecretNotFoundReason string = "SecretNotFound"

	// ServiceAccountNotFoundReason means spec.serviceAccountName names a ServiceAccount that does not exist.
	ServiceAccountNotFoundReason string = "ServiceAccountNotFound"

	// InvalidSecretReason means a referenced Secret has the wrong type, lacks a key, or holds malformed data.
	InvalidSecretReason string = "InvalidSecret"

	// RegistryNotAllowedReason means the manager's --allowed-registries or --denied-networks refused the registry,
	// a redirect target or a token realm; no request was sent there.
	RegistryNotAllowedReason string = "RegistryNotAllowed"

	// UnavailableReason means the registry could not be reached or answered with a server error.
	UnavailableReason string = "Unavailable"

	// ProviderRegistryMismatchReason means spec.registry does not belong to spec.provider; no request was made.
	ProviderRegistryMismatchReason string = "ProviderRegistryMismatch"

	// ProviderIdentityInvalidReason means the workload identity is incomplete: a missing or malformed
	// ServiceAccount annotation, or a controller pod without the provider's identity.
	ProviderIdentityInvalidReason string = "ProviderIdentityInvalid"

	// ProviderAuthFailedReason means the provider refused the exchange (role trust policy, binding or
	// federated credential), or answered something unusable.
	ProviderAuthFailedReason string = "ProviderAuthFailed"

	// ProviderUnavailableReason means a provider endpoint (STS, metadata server, Entra ID) could not be
	// reached or answered with a server error; retried with backoff.
	ProviderUnavailableReason string = "ProviderUnavailable"

	// ProviderClockSkewReason means the provider issued a credential already expired by the controller's clock.
	ProviderClockSkewReason string = "ProviderClockSkew"

	// ObjectLevelWorkloadIdentityDisabledReason means spec.provider with spec.serviceAccountName asks for
	// object-level identity, but the manager runs without --enable-object-level-workload-identity.
	ObjectLevelWorkloadIdentityDisabledReason string = "ObjectLevelWorkloadIdentityDisabled"
)

// Condition types and reasons of spec.export. The export never changes Ready:
// the resolution itself succeeded.
const (
	// ExportedCondition is True when the ConfigMap named by spec.export.configMapName holds the resolved bytes.
	ExportedCondition string = "Exported"

	// ExportedReason means the ConfigMap is up to date.
	ExportedReason string = "Exported"

	// ExportTooLargeReason means the export is over a ConfigMap's 1 MiB limit, so it was not written.
	ExportTooLargeReason string = "ExportTooLarge"

	// ExportConflictReason means a ConfigMap of that name exists and is not owned by this ImageConfig.
	ExportConflictReason string = "ExportConflict"
)

// Event reasons that are not condition reasons.
const (
	// DigestChangedEvent is emitted when the tag moved to another digest.
	DigestChangedEvent string = "DigestChanged"

	// RateLimitLowEvent is emitted once per window when under 10% of a registry's pull quota remains.
	RateLimitLowEvent string = "RateLimitLow"
)
