package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReconcileRequestAnnotation forces an immediate re-check when its value changes,
// for example after a credential was fixed:
//
//	kubectl annotate imgcfg NAME --overwrite images.imageconfig.dev/requested-at="$(date +%s)"
const ReconcileRequestAnnotation = "images.imageconfig.dev/requested-at"

// DefaultRegistry is the registry used when spec.registry is empty: Docker Hub's API host.
const DefaultRegistry = "registry-1.docker.io"

// DefaultTag is the tag resolved when neither spec.tag nor spec.digest is set.
const DefaultTag = "latest"

// ImageConfigSpec names an image in a registry and the platform whose config to resolve.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.tag) && has(self.digest))",message="spec.tag and spec.digest are mutually exclusive: set one of them, or neither for tag \"latest\""
// +kubebuilder:validation:XValidation:rule="!has(self.provider) || self.provider == 'generic' || !has(self.secretRef)",message="spec.secretRef cannot be combined with spec.provider aws, gcp or azure: the credentials come from workload identity"
// +kubebuilder:validation:XValidation:rule="!has(self.provider) || self.provider == 'generic' || !self.insecure",message="spec.insecure cannot be combined with spec.provider aws, gcp or azure: cloud registries are HTTPS"
type ImageConfigSpec struct {
	// registry is the registry's host, with an optional port, and without a scheme:
	// "registry-1.docker.io", "ghcr.io", "127.0.0.1:5001".
	// "docker.io" and "index.docker.io" are accepted as names of Docker Hub.
	// The registry is contacted over HTTPS unless insecure is true.
	// +kubebuilder:default="registry-1.docker.io"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",message="spec.registry must be a host with an optional :port, without a scheme such as https://"
	// +kubebuilder:validation:Pattern=`^(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)(\.([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?))*|\[[0-9a-fA-F:.]+\])(:[0-9]{1,5})?$`
	// +optional
	Registry string `json:"registry,omitempty"`

	// repository is the image's path in the registry, such as "library/nginx" or "org/app".
	// It follows the distribution reference grammar: lowercase alphanumeric components
	// separated by "/", with ".", "_", "__" or "-" inside a component.
	// On Docker Hub a one-component repository such as "nginx" means "library/nginx";
	// the controller normalises it when resolving, and the spec keeps what was written.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`
	// +required
	Repository string `json:"repository"`

	// tag is the tag to resolve and re-check, such as "1.27".
	// It may not be set together with digest. When neither is set, the tag is "latest".
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`
	// +optional
	Tag string `json:"tag,omitempty"`

	// digest pins the image to content, such as "sha256:" followed by 64 hex characters.
	// Content fetched by digest is verified against it. It may not be set together with tag.
	// +kubebuilder:validation:Pattern=`^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$`
	// +optional
	Digest string `json:"digest,omitempty"`

	// platform selects the entry of a multi-platform image index whose config is resolved.
	// +kubebuilder:default={os: "linux", architecture: "amd64"}
	// +optional
	Platform PlatformSpec `json:"platform,omitempty"`

	// interval is how often the tag is re-checked, such as "10m" or "1h".
	// A re-check of an unchanged tag costs one HEAD request, which Docker Hub does not count
	// against its pull limit. The minimum is 10s.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="spec.interval must be at least 10s"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// timeout bounds one resolution, authentication included, such as "60s".
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('10m')",message="spec.timeout must be between 1s and 10m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// insecure allows plain HTTP to this registry. The manager honours it only when it runs
	// with --allow-insecure-registries; otherwise the object is not Ready, with reason
	// InsecureNotAllowed.
	// +kubebuilder:default=false
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// secretRef names a Secret in the ImageConfig's namespace with credentials for the
	// registry, of type kubernetes.io/dockerconfigjson, kubernetes.io/dockercfg or
	// kubernetes.io/basic-auth (username and password). It is tried before the
	// ServiceAccount's imagePullSecrets. A fixed Secret is picked up at the next
	// reconcile; annotate images.imageconfig.dev/requested-at to force one.
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty"`

	// serviceAccountName names a ServiceAccount in the ImageConfig's namespace whose
	// imagePullSecrets are tried after secretRef, and before anonymous access.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// provider selects where the registry's credentials come from: "generic" (the
	// default) uses secretRef and the ServiceAccount's imagePullSecrets; "aws", "gcp"
	// and "azure" exchange a workload identity for the credentials of Amazon ECR,
	// Google Artifact Registry or Azure Container Registry. Without
	// serviceAccountName the identity is the controller's own; with it, the
	// controller requests a token for that ServiceAccount (in this namespace), if
	// it runs with --enable-object-level-workload-identity. The registry must
	// belong to the provider, else the object is not Ready, with reason
	// ProviderRegistryMismatch.
	// +kubebuilder:validation:Enum=generic;aws;gcp;azure
	// +kubebuilder:default=generic
	// +optional
	Provider string `json:"provider,omitempty"`

	// certSecretRef names a Secret in the ImageConfig's namespace with TLS settings for
	// the registry: ca.crt is added to the system's certificate authorities, and
	// tls.crt with tls.key is a client certificate for mutual TLS.
	// +optional
	CertSecretRef *LocalObjectReference `json:"certSecretRef,omitempty"`

	// suspend stops all registry traffic for this object while true. The status keeps what
	// was resolved before.
	// +kubebuilder:default=false
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// export, when set, writes the resolved bytes to a ConfigMap in this namespace.
	// +optional
	Export *ExportSpec `json:"export,omitempty"`

	// files, when files.index is true, indexes the files of the resolved image's
	// layers (issue 18) and summarises them in status.files.
	// +optional
	Files *FilesSpec `json:"files,omitempty"`

	// baseImage names the image's base when its annotations do not, and the
	// credentials of the base's registry. See status.baseImage and the
	// BaseImageOutdated condition.
	// +optional
	BaseImage *BaseImageSpec `json:"baseImage,omitempty"`

	// referrers tunes how often the artifacts attached to the digest are listed
	// (status.referrers).
	// +optional
	Referrers *ReferrersSpec `json:"referrers,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name is the object's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`
}

// PlatformSpec is the platform to select from an image index.
// Names are normalised the way containerd does: "aarch64" is "arm64", "x86_64" is "amd64",
// "arm64" without a variant is "arm64/v8" and "arm" without a variant is "arm/v7".
type PlatformSpec struct {
	// os is the operating system, such as "linux" or "windows".
	// +kubebuilder:default="linux"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9_-]+$`
	// +optional
	OS string `json:"os,omitempty"`

	// architecture is the CPU architecture, such as "amd64", "arm64" or "arm".
	// +kubebuilder:default="amd64"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9_-]+$`
	// +optional
	Architecture string `json:"architecture,omitempty"`

	// variant is the CPU variant, such as "v7" for arm or "v8" for arm64.
	// When it is empty, the best variant available for the architecture is selected.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[a-z0-9_.-]*$`
	// +optional
	Variant string `json:"variant,omitempty"`

	// osVersion is the operating system version, such as "10.0.17763.6659" for Windows.
	// When it is set, only index entries of that version match.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_.+-]*$`
	// +optional
	OSVersion string `json:"osVersion,omitempty"`
}

// ImageConfigStatus is what the controller resolved for the spec.
//
// The status is one atomic value for server-side field management: the
// manager is its only writer, and it writes it whole. So managedFields records
// a single status field instead of one entry per field, list item and label,
// which the API server would otherwise recompute and store on every status
// write (see docs/fleet.md).
// +structType=atomic
type ImageConfigStatus struct {
	// observedGeneration is the generation of the spec the controller last acted on,
	// successfully or not, as in Flux: with Stalled=True it means the current spec
	// failed for good; with Reconciling=True, that it is being retried. The digests
	// and config below belong to the last successful resolution, which is this
	// generation's only while Ready is True (the Ready condition's own
	// observedGeneration says which generation its verdict is about).
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// requestedImageRef is the canonical reference that the spec asks for, such as
	// "index.docker.io/library/nginx:1.27". It is written before the registry is
	// contacted, so that an object that never resolved still shows what it asks for.
	// +optional
	RequestedImageRef string `json:"requestedImageRef,omitempty"`

	// requestedPlatform is the platform that the spec asks for, normalised, as
	// os/architecture[/variant], such as "linux/arm64/v8". It is written before the
	// registry is contacted; platform is what was resolved.
	// +optional
	RequestedPlatform string `json:"requestedPlatform,omitempty"`

	// conditions are Ready, Reconciling and Stalled, following kstatus.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// imageRef is the canonical reference that was resolved, such as
	// "index.docker.io/library/nginx:1.27".
	// +optional
	ImageRef string `json:"imageRef,omitempty"`

	// digest is what the tag points to: an image index or a single manifest.
	// +optional
	Digest string `json:"digest,omitempty"`

	// mediaType is the media type of what the tag points to.
	// +optional
	MediaType string `json:"mediaType,omitempty"`

	// manifestDigest is the digest of the selected platform's image manifest.
	// For a single-platform image it equals digest.
	// +optional
	ManifestDigest string `json:"manifestDigest,omitempty"`

	// configDigest is the digest of the selected image's config blob.
	// +optional
	ConfigDigest string `json:"configDigest,omitempty"`

	// platform is the platform of the selected manifest, as os/architecture[/variant].
	// +optional
	Platform string `json:"platform,omitempty"`

	// platforms lists every entry of the image index, attestations included.
	// It is empty for a single-platform image.
	// +kubebuilder:validation:MaxItems=128
	// +optional
	Platforms []IndexEntry `json:"platforms,omitempty"`

	// config is a summary of the selected image's build config.
	// +optional
	Config *ImageBuildConfig `json:"config,omitempty"`

	// layers are the image's layers in order, each joined to the history entry that created it.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Layers []Layer `json:"layers,omitempty"`

	// layerHistoryNote explains why layers carry no createdBy, when the config's history
	// does not pair with the manifest's layers. It is empty when they pair.
	// +optional
	LayerHistoryNote string `json:"layerHistoryNote,omitempty"`

	// layerCount is the number of layers.
	// +optional
	LayerCount int32 `json:"layerCount,omitempty"`

	// totalSize is the sum of the compressed layer sizes, in bytes.
	// +optional
	TotalSize int64 `json:"totalSize,omitempty"`

	// baseImage is the image this one was built on, as declared by the annotations
	// org.opencontainers.image.base.name and .base.digest (on the platform manifest,
	// else on the index entry, else as config labels), or named by spec.baseImage.ref.
	// It is empty when none is known: the base is never guessed, and the layers that
	// come from it are not marked. Its tag is re-checked on the interval, and the
	// BaseImageOutdated condition says whether the image is still built on it.
	// +optional
	BaseImage *BaseImageStatus `json:"baseImage,omitempty"`

	// referrers are the artifacts attached to the digest (signatures, SBOMs,
	// provenance), listed at a digest change and then every spec.referrers.interval.
	// +optional
	Referrers *ReferrersStatus `json:"referrers,omitempty"`

	// authSource names where the credentials of the last resolution came from:
	// "anonymous", "secret/<name>", "serviceAccount/<name>", or for a cloud provider
	// "provider aws via serviceaccount team-a/puller (role arn:…)". It is the only
	// credential information in the status.
	// +optional
	AuthSource string `json:"authSource,omitempty"`

	// rateLimit is the pull quota the registry reported in the last answer that
	// carried Docker Hub's ratelimit-limit and ratelimit-remaining headers (HEAD
	// answers and 429 refusals included). It is kept when later answers carry none.
	// +optional
	RateLimit *RateLimitStatus `json:"rateLimit,omitempty"`

	// truncated says which lists or values were shortened so that the object stays
	// within the API server's size limit. It is empty when nothing was shortened.
	// +optional
	Truncated string `json:"truncated,omitempty"`

	// lastCheckedTime is when the registry answered a check of the tag, as
	// recorded in the status. It is written together with any other change of
	// the status (a new digest, an error, a quota) and otherwise only as a
	// heartbeat: a re-check that finds the tag unchanged writes nothing, so this
	// time may be up to 1.5 heartbeats old (the manager's --status-heartbeat,
	// default 1h, or 10 intervals when that is longer) while the tag is in fact
	// re-checked every interval. The manager's metric
	// imageconfig_oldest_check_age_seconds tells how recent the checks really are.
	// +optional
	LastCheckedTime *metav1.Time `json:"lastCheckedTime,omitempty"`

	// lastChangedTime is when digest last changed.
	// +optional
	LastChangedTime *metav1.Time `json:"lastChangedTime,omitempty"`

	// lastChange reports what changed the last time a re-check found that the tag
	// had moved. Re-checks that find nothing new leave it as it is.
	// +optional
	LastChange *ImageChange `json:"lastChange,omitempty"`

	// lastHandledReconcileAt is the last value of the images.imageconfig.dev/requested-at
	// annotation that the controller acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`

	// files summarises the layer file index when spec.files.index is true (issue 18).
	// +optional
	Files *FilesStatus `json:"files,omitempty"`
}

// RateLimitStatus is a registry's pull quota, as its rate-limit headers reported it.
type RateLimitStatus struct {
	// host is the registry host, with its port, whose answer carried the headers.
	// +kubebuilder:validation:MaxLength=261
	// +required
	Host string `json:"host"`

	// limit is the number of pulls the registry allows per window.
	// +kubebuilder:validation:Minimum=0
	// +required
	Limit int64 `json:"limit"`

	// remaining is the number of pulls left in the current window. On Docker Hub a
	// manifest GET uses one; a HEAD, which re-checks use, uses none.
	// +kubebuilder:validation:Minimum=0
	// +required
	Remaining int64 `json:"remaining"`

	// window is the length of the quota's window, such as "6h0m0s"; absent when the
	// registry did not say.
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`

	// source is what the quota is counted against, from Docker Hub's
	// docker-ratelimit-source header: an IP address or an account.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Source string `json:"source,omitempty"`

	// observedAt is when the headers were read. Answers that repeat the same
	// values do not move it, so that they cost no status write.
	// +required
	ObservedAt metav1.Time `json:"observedAt"`

	// lowWarningTime is when the RateLimitLow warning event was last emitted, for
	// under 10% remaining. It is emitted again at most once per window.
	// +optional
	LowWarningTime *metav1.Time `json:"lowWarningTime,omitempty"`
}

// IndexEntry is one entry of an image index.
type IndexEntry struct {
	// os is the entry's operating system. Attestation entries have "unknown".
	// +optional
	OS string `json:"os,omitempty"`

	// architecture is the entry's CPU architecture.
	// +optional
	Architecture string `json:"architecture,omitempty"`

	// variant is the entry's CPU variant.
	// +optional
	Variant string `json:"variant,omitempty"`

	// osVersion is the entry's operating system version.
	// +optional
	OSVersion string `json:"osVersion,omitempty"`

	// digest is the digest of the entry's manifest.
	// +required
	Digest string `json:"digest"`

	// size is the size of the entry's manifest, in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`

	// mediaType is the media type of the entry's manifest.
	// +optional
	MediaType string `json:"mediaType,omitempty"`

	// attestation is true for an attestation manifest, which is never selected.
	// +optional
	Attestation bool `json:"attestation,omitempty"`
}

// ImageBuildConfig is a summary of an image's config blob.
type ImageBuildConfig struct {
	// created is when the image was built.
	// +optional
	Created *metav1.Time `json:"created,omitempty"`

	// author is the image's author.
	// +optional
	Author string `json:"author,omitempty"`

	// os is the operating system the image was built for.
	// +optional
	OS string `json:"os,omitempty"`

	// architecture is the CPU architecture the image was built for.
	// +optional
	Architecture string `json:"architecture,omitempty"`

	// variant is the CPU variant the image was built for.
	// +optional
	Variant string `json:"variant,omitempty"`

	// osVersion is the operating system version the image was built for.
	// +optional
	OSVersion string `json:"osVersion,omitempty"`

	// user is the user the container runs as.
	// +optional
	User string `json:"user,omitempty"`

	// env is the container's environment, as NAME=value lines.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Env []string `json:"env,omitempty"`

	// entrypoint is the container's entrypoint.
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Entrypoint []string `json:"entrypoint,omitempty"`

	// cmd is the container's default arguments.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Cmd []string `json:"cmd,omitempty"`

	// workingDir is the container's working directory.
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`

	// exposedPorts are the ports the image declares, such as "80/tcp", sorted.
	// +kubebuilder:validation:MaxItems=128
	// +optional
	ExposedPorts []string `json:"exposedPorts,omitempty"`

	// volumes are the volumes the image declares, sorted.
	// +kubebuilder:validation:MaxItems=128
	// +optional
	Volumes []string `json:"volumes,omitempty"`

	// labels are the image's labels.
	// +kubebuilder:validation:MaxProperties=256
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// stopSignal is the signal that stops the container.
	// +optional
	StopSignal string `json:"stopSignal,omitempty"`
}

// Layer is one layer of the image, joined to the history entry that created it.
type Layer struct {
	// digest is the digest of the compressed layer blob.
	// +required
	Digest string `json:"digest"`

	// diffID is the digest of the uncompressed layer, from the config's rootfs.
	// +optional
	DiffID string `json:"diffID,omitempty"`

	// mediaType is the layer's media type.
	// +optional
	MediaType string `json:"mediaType,omitempty"`

	// size is the size of the compressed layer, in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`

	// created is when the layer was created, from the config's history.
	// +optional
	Created *metav1.Time `json:"created,omitempty"`

	// createdBy is the build instruction that created the layer, from the config's history.
	// +optional
	CreatedBy string `json:"createdBy,omitempty"`

	// comment is the history entry's comment.
	// +optional
	Comment string `json:"comment,omitempty"`
}

// ImageConfig resolves a container image's manifest chain and records its build config.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=imgcfg
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.status.requestedImageRef`
// +kubebuilder:printcolumn:name="Platform",type=string,JSONPath=`.status.requestedPlatform`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.status.digest`,priority=1
// +kubebuilder:printcolumn:name="Resolved",type=string,JSONPath=`.status.platform`,priority=1
// +kubebuilder:printcolumn:name="Base-Outdated",type=string,JSONPath=`.status.conditions[?(@.type=="BaseImageOutdated")].status`,priority=1
// +kubebuilder:printcolumn:name="Signed",type=boolean,JSONPath=`.status.referrers.signed`,priority=1
// +kubebuilder:printcolumn:name="Changed",type=date,JSONPath=`.status.lastChangedTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ImageConfig struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the image and platform to resolve.
	// +required
	Spec ImageConfigSpec `json:"spec"`

	// status is what the controller resolved. It defaults to observedGeneration 0,
	// so that kstatus reads a new object as InProgress, not Current, until the
	// controller has acted on it.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status ImageConfigStatus `json:"status,omitempty"`
}

// ImageConfigList is a list of ImageConfig.
//
// +kubebuilder:object:root=true
type ImageConfigList struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the list's metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// items are the ImageConfigs.
	// +required
	Items []ImageConfig `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ImageConfig{}, &ImageConfigList{})
}

// GetInterval returns spec.interval, or one hour when it is not set.
func (in *ImageConfig) GetInterval() time.Duration {
	if in.Spec.Interval == nil || in.Spec.Interval.Duration <= 0 {
		return time.Hour
	}
	return in.Spec.Interval.Duration
}

// GetTimeout returns spec.timeout, or 60 seconds when it is not set.
func (in *ImageConfig) GetTimeout() time.Duration {
	if in.Spec.Timeout == nil || in.Spec.Timeout.Duration <= 0 {
		return 60 * time.Second
	}
	return in.Spec.Timeout.Duration
}
