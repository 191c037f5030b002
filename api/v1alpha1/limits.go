package v1alpha1

// Status size limits, declared once. They keep an ImageConfig well under etcd's
// 1.5 MiB object limit, whatever image it points at. The controller cuts what it
// writes to them (internal/imagestatus), and the CRD's validation markers in
// imageconfig_types.go and change_types.go carry the same numbers:
// controller-gen reads markers as literals, so TestStatusLimitsMatchCRD checks
// the generated CRD against these constants.
const (
	// MaxPlatforms bounds status.platforms.
	MaxPlatforms = 128
	// MaxLayers bounds status.layers.
	MaxLayers = 256
	// MaxEnv bounds status.config.env.
	MaxEnv = 256
	// MaxEntrypoint bounds status.config.entrypoint.
	MaxEntrypoint = 64
	// MaxCmd bounds status.config.cmd.
	MaxCmd = 256
	// MaxPorts bounds status.config.exposedPorts.
	MaxPorts = 128
	// MaxVolumes bounds status.config.volumes.
	MaxVolumes = 128
	// MaxLabels bounds status.config.labels (MaxProperties).
	MaxLabels = 256
	// MaxChangeItems bounds every list of status.lastChange.
	MaxChangeItems = 32
	// MaxChangeValue bounds, in bytes, each value of status.lastChange.
	MaxChangeValue = 256
	// MaxReferrers bounds status.referrers.entries.
	MaxReferrers = 20
	// MaxStatusBytes is the size the status is cut to, as JSON.
	MaxStatusBytes = 1 << 20
	// MaxStringLength is the first length long free-text values are cut to when
	// the status is over MaxStatusBytes; it halves down to MinStringLength.
	MaxStringLength = 4096
	// MinStringLength is the shortest a free-text value is cut to.
	MinStringLength = 64

	// MaxFileLayers bounds status.files.layers (files_types.go).
	MaxFileLayers = 256
	// MaxFindingKinds bounds status.files.findings.
	MaxFindingKinds = 16
	// MaxFileExamples bounds status.files.examples.
	MaxFileExamples = 20
	// MaxFileExamplePath bounds, in bytes, the path of each of status.files.examples.
	MaxFileExamplePath = 512
)
