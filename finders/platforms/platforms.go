// Package platforms normalises container image platforms the way containerd
// does and selects the best entry of an image index for a wanted platform.
//
// The package has no dependencies outside the standard library: callers
// translate their index descriptors into [Entry] values and get back the
// position of the chosen entry.
package platforms

import (
	"fmt"
	"strconv"
	"strings"
)

const (
	mediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

	annotationReferenceType = "vnd.docker.reference.type"
	attestationManifest     = "attestation-manifest"

	unknownName = "unknown"
)

// Platform is an os/architecture/variant/osVersion tuple.
type Platform struct {
	// OS is the operating system, such as "linux" or "windows".
	OS string
	// Architecture is the CPU architecture, such as "amd64", "arm64" or "arm".
	Architecture string
	// Variant is the CPU variant, such as "v7" for arm or "v8" for arm64.
	Variant string
	// OSVersion is the operating system version, such as "10.0.17763.6659" for Windows.
	OSVersion string
}

// String returns "os/arch" or, when the variant is set, "os/arch/variant".
// The OS version is not included.
func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Architecture
	}
	return p.OS + "/" + p.Architecture + "/" + p.Variant
}

// Parse parses "os/arch" or "os/arch/variant", such as "linux/arm64",
// "linux/arm/v7" or "windows/amd64". Components are lowercased and must
// consist of letters, digits, '_', '-' and '.'.
//
// Parse does not apply architecture aliases or default variants: an absent
// variant stays empty, so that [Select] can tell that no variant was asked
// for. Use [Normalize] for the canonical form.
func Parse(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
	}
	names := [...]string{"os", "architecture", "variant"}
	for i, part := range parts {
		if part == "" {
			return Platform{}, fmt.Errorf("invalid platform %q: want os/arch[/variant]", s)
		}
		if !validComponent(part) {
			return Platform{}, fmt.Errorf("invalid platform %q: %s %q may contain only letters, digits, '_', '-' and '.'",
				s, names[i], part)
		}
	}
	p := Platform{OS: strings.ToLower(parts[0]), Architecture: strings.ToLower(parts[1])}
	if len(parts) == 3 {
		p.Variant = strings.ToLower(parts[2])
	}
	return p, nil
}

func validComponent(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// Normalize returns the canonical form of p, following containerd:
// the OS, architecture and variant are lowercased; "aarch64" is "arm64";
// "x86_64" and "x86-64" are "amd64"; "armhf" is "arm/v7"; "armel" is
// "arm/v6"; "i386", "i686" and "x86" are "386"; a bare numeric variant gets a
// "v" prefix ("7" is "v7"); "arm64" without a variant is "arm64/v8"; "arm"
// without a variant is "arm/v7"; and "amd64/v1" is "amd64" with an empty
// variant. The OS version is kept, without surrounding spaces.
func Normalize(p Platform) Platform {
	c, _ := canonical(p)
	return c
}

// canonical returns Normalize(p) and whether p names a variant (explicitly or
// through an alias such as "armhf"), as opposed to getting the default one.
func canonical(p Platform) (Platform, bool) {
	osName := strings.ToLower(strings.TrimSpace(p.OS))
	arch := strings.ToLower(strings.TrimSpace(p.Architecture))
	variant := strings.ToLower(strings.TrimSpace(p.Variant))
	if variant != "" && isDottedNumber(variant) {
		variant = "v" + variant
	}
	switch arch {
	case "aarch64":
		arch = "arm64"
	case "x86_64", "x86-64":
		arch = "amd64"
	case "armhf":
		arch, variant = "arm", "v7"
	case "armel":
		arch, variant = "arm", "v6"
	case "i386", "i686", "x86":
		arch = "386"
	}
	named := variant != ""
	switch arch {
	case "arm64":
		if variant == "" {
			variant = "v8"
		}
	case "arm":
		if variant == "" {
			variant = "v7"
		}
	case "amd64":
		if variant == "v1" {
			variant = ""
		}
	}
	return Platform{OS: osName, Architecture: arch, Variant: variant, OSVersion: strings.TrimSpace(p.OSVersion)}, named
}

// effectiveVariant is the variant of a canonical platform used for
// comparisons: amd64's empty variant is "v1".
func effectiveVariant(c Platform) string {
	if c.Architecture == "amd64" && c.Variant == "" {
		return "v1"
	}
	return c.Variant
}

// isDottedNumber reports whether s is digits separated by single dots, such as "8" or "8.2".
func isDottedNumber(s string) bool {
	for _, f := range strings.Split(s, ".") {
		if f == "" {
			return false
		}
		for _, r := range f {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	return true
}

// variantNumbers parses "v8" or "v8.2" into [8] or [8 2]. ok is false for
// variants that are not numeric.
func variantNumbers(v string) ([]int, bool) {
	rest, found := strings.CutPrefix(v, "v")
	if !found || !isDottedNumber(rest) {
		return nil, false
	}
	fields := strings.Split(rest, ".")
	nums := make([]int, len(fields))
	for i, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, false
		}
		nums[i] = n
	}
	return nums, true
}

// compareNumbers compares two numeric variants; missing trailing components count as 0.
func compareNumbers(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		var x, y int
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// Entry is one index entry as the matcher sees it.
type Entry struct {
	// Platform is the entry's platform. It may be zero-valued when the index entry has no platform.
	Platform
	// HasPlatform is false when the index entry had no platform field at all.
	// Such an entry is treated as linux/amd64, as go-containerregistry does.
	HasPlatform bool
	// MediaType is the media type of the manifest the entry points to. Empty is allowed.
	MediaType string
	// Annotations are the entry's annotations.
	Annotations map[string]string
}

// entryPlatform returns the canonical platform of e.
func entryPlatform(e Entry) Platform {
	if !e.HasPlatform {
		return Platform{OS: "linux", Architecture: "amd64"}
	}
	return Normalize(e.Platform)
}

// Selectable reports whether e could ever be selected. It is false for
// attestation manifests (annotation "vnd.docker.reference.type" is
// "attestation-manifest"), for platforms whose OS or architecture is
// "unknown" or empty, and for media types other than the OCI image manifest
// and the Docker v2 schema 2 manifest; nested indexes are not selectable. An
// empty media type is accepted, because some indexes omit it.
func Selectable(e Entry) bool {
	switch e.MediaType {
	case "", mediaTypeOCIManifest, mediaTypeDockerManifest:
	default:
		return false
	}
	if e.Annotations[annotationReferenceType] == attestationManifest {
		return false
	}
	p := entryPlatform(e)
	if p.OS == "" || p.Architecture == "" || p.OS == unknownName || p.Architecture == unknownName {
		return false
	}
	return true
}

// matchOSVersion reports whether have satisfies want: want is empty, equal
// to have, or a prefix of have followed by ".".
func matchOSVersion(want, have string) bool {
	return want == "" || have == want || strings.HasPrefix(have, want+".")
}

// Variant match tiers, best first.
const (
	tierExact   = iota // same variant
	tierEqual          // numerically equal variant spelled differently ("v8.0" for "v8")
	tierLower          // lower variant, closest first
	tierHigher         // a variant, lowest first; only for an architecture without a default variant, when none was asked for
	tierUnrated        // non-numeric variant of an architecture without a default; only when no variant was asked for
)

type candidate struct {
	index int
	tier  int
	nums  []int
}

// better reports whether a is preferable to b.
func (a candidate) better(b candidate) bool {
	if a.tier != b.tier {
		return a.tier < b.tier
	}
	switch a.tier {
	case tierLower:
		if c := compareNumbers(a.nums, b.nums); c != 0 {
			return c > 0
		}
	case tierHigher:
		if c := compareNumbers(a.nums, b.nums); c != 0 {
			return c < 0
		}
	}
	return a.index < b.index
}

// rate returns the tier of entry platform have for want, and false when have does not match.
func rate(want Platform, named bool, have Platform) (int, []int, bool) {
	if have.OS != want.OS || have.Architecture != want.Architecture || !matchOSVersion(want.OSVersion, have.OSVersion) {
		return 0, nil, false
	}
	wv, hv := effectiveVariant(want), effectiveVariant(have)
	if wv == hv {
		return tierExact, nil, true
	}
	hn, hok := variantNumbers(hv)
	if wv == "" {
		// An architecture without a default variant, and none asked for: any variant will do.
		if named {
			return 0, nil, false
		}
		if hok {
			return tierHigher, hn, true
		}
		return tierUnrated, nil, true
	}
	wn, wok := variantNumbers(wv)
	if !wok || !hok {
		return 0, nil, false
	}
	// A higher variant never matches, named or not: an arm/v7 machine cannot run
	// arm/v8 code, and containerd does not select it either.
	switch c := compareNumbers(hn, wn); {
	case c == 0:
		return tierEqual, hn, true
	case c < 0:
		return tierLower, hn, true
	default:
		return 0, nil, false
	}
}

// Select returns the index (into entries) of the best entry for want, or -1
// and an error. want need not be normalised.
//
// Only [Selectable] entries are considered, and their OS and architecture
// must equal want's after normalisation. When want.OSVersion is set, an
// entry's OS version must equal it or start with it followed by ".". An
// exact variant is preferred. If want names a variant, lower compatible
// variants are accepted, closest first, and higher ones never. If want
// names no variant, the architecture's default variant (arm v7, arm64 v8,
// amd64 v1) is preferred, then lower variants closest first, then the
// lowest higher variant. Among equally good entries the first one wins.
//
// When nothing matches, the error is a *[NotFoundError].
func Select(want Platform, entries []Entry) (int, error) {
	w, named := canonical(want)
	if w.OS == "" || w.Architecture == "" {
		return -1, fmt.Errorf("invalid platform %q: os and architecture are required", want.String())
	}
	best := candidate{index: -1}
	for i, e := range entries {
		if !Selectable(e) {
			continue
		}
		tier, nums, ok := rate(w, named, entryPlatform(e))
		if !ok {
			continue
		}
		c := candidate{index: i, tier: tier, nums: nums}
		if best.index < 0 || c.better(best) {
			best = c
		}
	}
	if best.index >= 0 {
		return best.index, nil
	}
	return -1, &NotFoundError{Want: want, Available: available(entries)}
}

// available lists the normalised platforms of the selectable entries,
// deduplicated, in index order.
func available(entries []Entry) []Platform {
	var out []Platform
	seen := make(map[string]bool)
	for _, e := range entries {
		if !Selectable(e) {
			continue
		}
		p := entryPlatform(e)
		key := describe(p)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// describe is p.String() plus " (os.version X)" when p has an OS version.
func describe(p Platform) string {
	if p.OSVersion == "" {
		return p.String()
	}
	return p.String() + " (os.version " + p.OSVersion + ")"
}

// NotFoundError is returned by Select when nothing matches.
type NotFoundError struct {
	// Want is the platform passed to Select, as given.
	Want Platform
	// Available are the normalised platforms of the index's selectable
	// entries, deduplicated, in index order.
	Available []Platform
}

// Error names the wanted platform and lists the available ones, such as
// "no platform matches linux/ppc64le; available: linux/amd64, linux/arm64/v8, linux/arm/v7".
func (e *NotFoundError) Error() string {
	var b strings.Builder
	b.WriteString("no platform matches ")
	b.WriteString(describe(e.Want))
	if len(e.Available) == 0 {
		b.WriteString("; the index has no selectable platforms")
		return b.String()
	}
	b.WriteString("; available: ")
	for i, p := range e.Available {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(describe(p))
	}
	return b.String()
}
