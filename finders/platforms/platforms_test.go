package platforms

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const (
	ociManifest    = "application/vnd.oci.image.manifest.v1+json"
	dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	ociIndex       = "application/vnd.oci.image.index.v1+json"
	dockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// plat splits "os/arch[/variant]" without any normalisation, so tests can feed raw names.
func plat(s string) Platform {
	parts := strings.SplitN(s, "/", 3)
	p := Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p
}

// ent is an OCI manifest entry with the raw platform s.
func ent(s string) Entry {
	return Entry{Platform: plat(s), HasPlatform: true, MediaType: ociManifest}
}

// win is a Windows entry with an OS version.
func win(s, osVersion string) Entry {
	e := ent(s)
	e.OSVersion = osVersion
	return e
}

// attestation is a BuildKit attestation entry with platform s.
func attestation(s string) Entry {
	e := ent(s)
	e.Annotations = map[string]string{
		"vnd.docker.reference.type":   "attestation-manifest",
		"vnd.docker.reference.digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
	}
	return e
}

// withMediaType returns e with media type mt.
func withMediaType(e Entry, mt string) Entry {
	e.MediaType = mt
	return e
}

// noPlatform is an entry without a platform field.
var noPlatform = Entry{MediaType: dockerManifest}

func TestPlatformString(t *testing.T) {
	tests := []struct {
		name string
		in   Platform
		want string
	}{
		{"os and arch", Platform{OS: "linux", Architecture: "amd64"}, "linux/amd64"},
		{"with variant", Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux/arm/v7"},
		{"os version omitted", Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.6659"}, "windows/amd64"},
		{"zero", Platform{}, "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Platform
		wantErr string // substring of the error; empty means no error
	}{
		{in: "linux/arm64", want: Platform{OS: "linux", Architecture: "arm64"}},
		{in: "linux/arm/v7", want: Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{in: "windows/amd64", want: Platform{OS: "windows", Architecture: "amd64"}},
		{in: "linux/arm64/v8.2", want: Platform{OS: "linux", Architecture: "arm64", Variant: "v8.2"}},
		{in: "Linux/AMD64", want: Platform{OS: "linux", Architecture: "amd64"}},
		{in: "LINUX/ARM/V7", want: Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		// Aliases and default variants are left to Normalize/Select.
		{in: "linux/aarch64", want: Platform{OS: "linux", Architecture: "aarch64"}},
		{in: "linux/x86_64", want: Platform{OS: "linux", Architecture: "x86_64"}},
		{in: "", wantErr: `invalid platform "": want os/arch[/variant]`},
		{in: "linux", wantErr: `invalid platform "linux": want os/arch[/variant]`},
		{in: "a/b/c/d", wantErr: `invalid platform "a/b/c/d": want os/arch[/variant]`},
		{in: "linux/", wantErr: `invalid platform "linux/": want os/arch[/variant]`},
		{in: "/amd64", wantErr: `invalid platform "/amd64": want os/arch[/variant]`},
		{in: "linux/arm/", wantErr: `invalid platform "linux/arm/": want os/arch[/variant]`},
		{in: "linux/amd 64", wantErr: `invalid platform "linux/amd 64": architecture "amd 64"`},
		{in: " linux/amd64", wantErr: `invalid platform " linux/amd64": os " linux"`},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in   Platform
		want Platform
	}{
		{plat("Linux/AMD64"), plat("linux/amd64")},
		{plat("WINDOWS/amd64"), plat("windows/amd64")},
		{plat("linux/aarch64"), plat("linux/arm64/v8")},
		{plat("linux/aarch64/v8.2"), plat("linux/arm64/v8.2")},
		{plat("linux/arm64"), plat("linux/arm64/v8")},
		{plat("linux/arm64/v8"), plat("linux/arm64/v8")},
		{plat("linux/arm64/8"), plat("linux/arm64/v8")},
		{plat("linux/x86_64"), plat("linux/amd64")},
		{plat("linux/x86-64"), plat("linux/amd64")},
		{plat("linux/amd64/v1"), plat("linux/amd64")},
		{plat("linux/amd64/V3"), plat("linux/amd64/v3")},
		{plat("linux/x86_64/v2"), plat("linux/amd64/v2")},
		{plat("linux/armhf"), plat("linux/arm/v7")},
		{plat("linux/armel"), plat("linux/arm/v6")},
		{plat("linux/arm"), plat("linux/arm/v7")},
		{plat("linux/arm/v6"), plat("linux/arm/v6")},
		{plat("linux/arm/7"), plat("linux/arm/v7")},
		{plat("linux/i386"), plat("linux/386")},
		{plat("linux/i686"), plat("linux/386")},
		{plat("linux/x86"), plat("linux/386")},
		{plat("linux/ppc64le"), plat("linux/ppc64le")},
		{plat("linux/riscv64"), plat("linux/riscv64")},
		{
			Platform{OS: "Windows", Architecture: "AMD64", OSVersion: "10.0.17763.6659"},
			Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.6659"},
		},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.in), func(t *testing.T) {
			got := Normalize(tt.in)
			if got != tt.want {
				t.Errorf("Normalize(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if again := Normalize(got); again != got {
				t.Errorf("Normalize is not idempotent: Normalize(%+v) = %+v", got, again)
			}
		})
	}
}

func TestSelectable(t *testing.T) {
	tests := []struct {
		name string
		in   Entry
		want bool
	}{
		{"oci manifest", ent("linux/amd64"), true},
		{"docker manifest", withMediaType(ent("linux/amd64"), dockerManifest), true},
		{"empty media type", withMediaType(ent("linux/amd64"), ""), true},
		{"no platform", noPlatform, true},
		{"oci index", withMediaType(ent("linux/amd64"), ociIndex), false},
		{"docker manifest list", withMediaType(ent("linux/amd64"), dockerList), false},
		{"docker schema 1", withMediaType(ent("linux/amd64"), "application/vnd.docker.distribution.manifest.v1+json"), false},
		{"config media type", withMediaType(ent("linux/amd64"), "application/vnd.oci.image.config.v1+json"), false},
		{"unknown/unknown", ent("unknown/unknown"), false},
		{"unknown os", ent("unknown/amd64"), false},
		{"unknown architecture", ent("linux/unknown"), false},
		{"uppercase unknown", ent("Unknown/UNKNOWN"), false},
		{"attestation unknown/unknown", attestation("unknown/unknown"), false},
		{"attestation with a real platform", attestation("linux/amd64"), false},
		{"other reference type", Entry{Platform: plat("linux/amd64"), HasPlatform: true, Annotations: map[string]string{"vnd.docker.reference.type": "something-else"}}, true},
		{"platform present but empty", Entry{HasPlatform: true, MediaType: ociManifest}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Selectable(tt.in); got != tt.want {
				t.Errorf("Selectable(%+v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSelect(t *testing.T) {
	const notFound = -1
	windowsVersion := func(v string) Platform {
		return Platform{OS: "windows", Architecture: "amd64", OSVersion: v}
	}
	tests := []struct {
		name    string
		want    Platform
		entries []Entry
		wantIdx int // notFound means a *NotFoundError is expected
	}{
		// arm64 and its default variant.
		{"arm64 matches arm64 without variant", plat("linux/arm64"), []Entry{ent("linux/amd64"), ent("linux/arm64")}, 1},
		{"arm64 matches arm64/v8", plat("linux/arm64"), []Entry{ent("linux/amd64"), ent("linux/arm64/v8")}, 1},
		{"arm64/v8 matches arm64 without variant", plat("linux/arm64/v8"), []Entry{ent("linux/amd64"), ent("linux/arm64")}, 1},
		{"arm64 is not arm", plat("linux/arm64"), []Entry{ent("linux/arm/v7"), ent("linux/arm64/v8")}, 1},
		{"arm64 does not fall back to arm", plat("linux/arm64"), []Entry{ent("linux/arm/v7"), ent("linux/amd64")}, notFound},
		{"aarch64 wanted matches arm64", plat("linux/aarch64"), []Entry{ent("linux/amd64"), ent("linux/arm64")}, 1},
		{"arm64 wanted matches aarch64 entry", plat("linux/arm64"), []Entry{ent("linux/amd64"), ent("linux/aarch64")}, 1},
		{"arm64 prefers v8 over v8.2", plat("linux/arm64"), []Entry{ent("linux/arm64/v8.2"), ent("linux/arm64")}, 1},
		{"arm64/v8.2 falls back to v8.1 before v8", plat("linux/arm64/v8.2"), []Entry{ent("linux/arm64/v8"), ent("linux/arm64/v8.1")}, 1},
		{"arm64/v8.2 exact", plat("linux/arm64/v8.2"), []Entry{ent("linux/arm64/v8"), ent("linux/arm64/v8.2")}, 1},
		{"arm64/v8 never picks v8.2", plat("linux/arm64/v8"), []Entry{ent("linux/arm64/v8.2")}, notFound},
		{"arm64/v10 falls back to v9 before v8", plat("linux/arm64/v10"), []Entry{ent("linux/arm64/v8"), ent("linux/arm64/v9")}, 1},
		{"no variant never takes a higher one, like containerd", plat("linux/arm64"), []Entry{ent("linux/arm64/v10"), ent("linux/arm64/v9")}, notFound},
		{"no variant never takes v8.2 for v8", plat("linux/arm64"), []Entry{ent("linux/arm64/v9"), ent("linux/arm64/v8.2")}, notFound},
		{"a named higher variant takes lower ones numerically, v9 before v8.2", plat("linux/arm64/v10"), []Entry{ent("linux/arm64/v8.2"), ent("linux/arm64/v9")}, 1},
		{"v8.0 equals v8", plat("linux/arm64/v8"), []Entry{ent("linux/arm64/v8.0")}, 0},

		// 32-bit arm.
		{"arm defaults to v7", plat("linux/arm"), []Entry{ent("linux/arm/v6"), ent("linux/arm/v7")}, 1},
		{"arm entry without variant is v7", plat("linux/arm"), []Entry{ent("linux/arm/v6"), ent("linux/arm")}, 1},
		{"arm/v7 matches arm entry without variant", plat("linux/arm/v7"), []Entry{ent("linux/arm/v6"), ent("linux/arm")}, 1},
		{"arm/v7 falls back to v6", plat("linux/arm/v7"), []Entry{ent("linux/arm/v6")}, 0},
		{"arm/v7 falls back to v6 before v5", plat("linux/arm/v7"), []Entry{ent("linux/arm/v5"), ent("linux/arm/v6")}, 1},
		{"arm/v6 never picks v7", plat("linux/arm/v6"), []Entry{ent("linux/arm/v7")}, notFound},
		{"arm/v8 falls back to v7, then v6, then v5", plat("linux/arm/v8"), []Entry{ent("linux/arm/v5"), ent("linux/arm/v7"), ent("linux/arm/v6")}, 1},
		{"arm/v8 exact over lower", plat("linux/arm/v8"), []Entry{ent("linux/arm/v7"), ent("linux/arm/v8")}, 1},
		{"arm without variant prefers lower over higher", plat("linux/arm"), []Entry{ent("linux/arm/v8"), ent("linux/arm/v6")}, 1},
		{"arm without variant never takes a higher one", plat("linux/arm"), []Entry{ent("linux/amd64"), ent("linux/arm/v8")}, notFound},
		{"arm/7 wanted matches arm/v7", plat("linux/arm/7"), []Entry{ent("linux/arm/v6"), ent("linux/arm/v7")}, 1},
		{"armhf wanted is arm/v7", plat("linux/armhf"), []Entry{ent("linux/arm/v6"), ent("linux/arm/v7")}, 1},
		{"armhf names v7: never higher", plat("linux/armhf"), []Entry{ent("linux/arm/v8"), ent("linux/arm/v6")}, 1},
		{"armel wanted is arm/v6", plat("linux/armel"), []Entry{ent("linux/arm/v7"), ent("linux/arm/v6")}, 1},
		{"armel never picks v7", plat("linux/armel"), []Entry{ent("linux/arm/v7")}, notFound},
		{"armhf entry matches arm/v7", plat("linux/arm/v7"), []Entry{ent("linux/arm/v6"), ent("linux/armhf")}, 1},

		// amd64 and its variants.
		{"amd64 default is v1", plat("linux/amd64"), []Entry{ent("linux/amd64/v2"), ent("linux/amd64")}, 1},
		{"amd64 matches amd64/v1", plat("linux/amd64"), []Entry{ent("linux/amd64/v2"), ent("linux/amd64/v1")}, 1},
		{"amd64/v1 matches amd64", plat("linux/amd64/v1"), []Entry{ent("linux/amd64/v2"), ent("linux/amd64")}, 1},
		{"amd64/v3 falls back to v2 before v1", plat("linux/amd64/v3"), []Entry{ent("linux/amd64"), ent("linux/amd64/v2")}, 1},
		{"amd64/v3 falls back to v1", plat("linux/amd64/v3"), []Entry{ent("linux/amd64/v4"), ent("linux/amd64")}, 1},
		{"amd64/v2 never picks v3", plat("linux/amd64/v2"), []Entry{ent("linux/amd64/v3")}, notFound},
		{"amd64 without variant never takes v2 or v3", plat("linux/amd64"), []Entry{ent("linux/amd64/v3"), ent("linux/amd64/v2")}, notFound},
		{"x86_64 wanted is amd64", plat("linux/x86_64"), []Entry{ent("linux/arm64"), ent("linux/amd64")}, 1},
		{"x86-64 wanted is amd64", plat("linux/x86-64"), []Entry{ent("linux/arm64"), ent("linux/amd64")}, 1},
		{"x86_64 entry matches amd64", plat("linux/amd64"), []Entry{ent("linux/arm64"), ent("linux/x86_64")}, 1},
		{"i386 wanted is 386", plat("linux/i386"), []Entry{ent("linux/amd64"), ent("linux/386")}, 1},
		{"i686 wanted is 386", plat("linux/i686"), []Entry{ent("linux/amd64"), ent("linux/386")}, 1},
		{"x86 wanted is 386", plat("linux/x86"), []Entry{ent("linux/amd64"), ent("linux/386")}, 1},
		{"386 is not amd64", plat("linux/386"), []Entry{ent("linux/amd64")}, notFound},

		// Architectures without a default variant.
		{"ppc64le exact", plat("linux/ppc64le"), []Entry{ent("linux/amd64"), ent("linux/ppc64le")}, 1},
		{"riscv64 without variant prefers no variant", plat("linux/riscv64"), []Entry{ent("linux/riscv64/rva23"), ent("linux/riscv64")}, 1},
		{"riscv64 named variant must match exactly", plat("linux/riscv64/rva23"), []Entry{ent("linux/riscv64")}, notFound},

		// OS and case.
		{"os must match", plat("windows/amd64"), []Entry{ent("linux/amd64")}, notFound},
		{"uppercase want", plat("Linux/AMD64"), []Entry{ent("linux/arm64"), ent("linux/amd64")}, 1},
		{"uppercase entry", plat("linux/arm64"), []Entry{ent("linux/amd64"), ent("LINUX/ARM64/V8")}, 1},

		// Entries without a platform.
		{"no platform is linux/amd64", plat("linux/amd64"), []Entry{noPlatform}, 0},
		{"no platform is not arm64", plat("linux/arm64"), []Entry{noPlatform}, notFound},
		{"no platform satisfies amd64/v2 as v1", plat("linux/amd64/v2"), []Entry{noPlatform}, 0},
		{"explicit linux/amd64 and no platform tie: first wins", plat("linux/amd64"), []Entry{noPlatform, ent("linux/amd64")}, 0},

		// Attestations, unknown platforms and media types.
		{"unknown/unknown attestation never chosen", plat("unknown/unknown"), []Entry{attestation("unknown/unknown")}, notFound},
		{"unknown/unknown never chosen", plat("unknown/unknown"), []Entry{ent("unknown/unknown")}, notFound},
		{"attestation annotation with real platform skipped", plat("linux/amd64"), []Entry{attestation("linux/amd64"), ent("linux/amd64")}, 1},
		{"attestation annotation only", plat("linux/amd64"), []Entry{attestation("linux/amd64")}, notFound},
		{"typical buildkit index", plat("linux/arm64"), []Entry{ent("linux/amd64"), ent("linux/arm64"), attestation("unknown/unknown"), attestation("unknown/unknown")}, 1},
		{"nested oci index skipped", plat("linux/amd64"), []Entry{withMediaType(ent("linux/amd64"), ociIndex), ent("linux/amd64")}, 1},
		{"nested docker list skipped", plat("linux/amd64"), []Entry{withMediaType(ent("linux/amd64"), dockerList)}, notFound},
		{"unsupported media type skipped", plat("linux/amd64"), []Entry{withMediaType(ent("linux/amd64"), "application/vnd.oci.image.config.v1+json"), withMediaType(ent("linux/amd64"), dockerManifest)}, 1},
		{"empty media type selectable", plat("linux/amd64"), []Entry{withMediaType(ent("linux/amd64"), "")}, 0},

		// Windows OS versions.
		{"osVersion prefix matches full version", windowsVersion("10.0.17763"), []Entry{win("windows/amd64", "10.0.20348.2849"), win("windows/amd64", "10.0.17763.6659")}, 1},
		{"osVersion exact", windowsVersion("10.0.17763.6659"), []Entry{win("windows/amd64", "10.0.17763.5000"), win("windows/amd64", "10.0.17763.6659")}, 1},
		{"osVersion prefix must end at a dot", windowsVersion("10.0.1776"), []Entry{win("windows/amd64", "10.0.17763.6659")}, notFound},
		{"osVersion longer than entry's", windowsVersion("10.0.17763.6659"), []Entry{win("windows/amd64", "10.0.17763")}, notFound},
		{"osVersion set excludes entries without one", windowsVersion("10.0.17763"), []Entry{ent("windows/amd64")}, notFound},
		{"osVersion unset ignores versions", plat("windows/amd64"), []Entry{ent("linux/amd64"), win("windows/amd64", "10.0.20348.2849"), win("windows/amd64", "10.0.17763.6659")}, 1},
		{"osVersion still needs os and arch", windowsVersion("10.0.17763"), []Entry{win("linux/amd64", "10.0.17763.6659")}, notFound},

		// Determinism.
		{"duplicates: first wins", plat("linux/amd64"), []Entry{ent("linux/arm64"), ent("linux/amd64"), ent("linux/amd64"), ent("linux/amd64")}, 1},
		{"duplicates after normalisation: first wins", plat("linux/amd64"), []Entry{ent("linux/x86_64"), ent("linux/amd64/v1"), ent("linux/amd64")}, 0},
		{"better later entry beats earlier fallback", plat("linux/arm"), []Entry{ent("linux/arm/v6"), ent("linux/arm/v7"), ent("linux/arm/v7")}, 1},
		{"no entries", plat("linux/amd64"), nil, notFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(tt.want, tt.entries)
			if tt.wantIdx == notFound {
				var nf *NotFoundError
				if !errors.As(err, &nf) {
					t.Fatalf("Select(%+v) = %d, %v; want *NotFoundError", tt.want, got, err)
				}
				if got != -1 {
					t.Errorf("Select(%+v) index = %d with error, want -1", tt.want, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select(%+v): %v", tt.want, err)
			}
			if got != tt.wantIdx {
				t.Fatalf("Select(%+v) = %d (%+v), want %d (%+v)", tt.want, got, tt.entries[got].Platform, tt.wantIdx, tt.entries[tt.wantIdx].Platform)
			}
			again, err := Select(tt.want, tt.entries)
			if err != nil || again != got {
				t.Errorf("second Select(%+v) = %d, %v; first gave %d", tt.want, again, err, got)
			}
		})
	}
}

func TestSelectInvalidWant(t *testing.T) {
	tests := []struct {
		name string
		want Platform
	}{
		{"zero", Platform{}},
		{"no architecture", Platform{OS: "linux"}},
		{"no os", Platform{Architecture: "amd64"}},
		{"blank", Platform{OS: " ", Architecture: " "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(tt.want, []Entry{ent("linux/amd64"), {HasPlatform: true}})
			if err == nil {
				t.Fatalf("Select(%+v) = %d, want an error", tt.want, got)
			}
			var nf *NotFoundError
			if errors.As(err, &nf) {
				t.Errorf("Select(%+v) error is a *NotFoundError (%v), want an invalid-platform error", tt.want, err)
			}
			if !strings.Contains(err.Error(), "os and architecture are required") {
				t.Errorf("Select(%+v) error = %q", tt.want, err)
			}
			if got != -1 {
				t.Errorf("Select(%+v) index = %d, want -1", tt.want, got)
			}
		})
	}
}

func TestNotFoundError(t *testing.T) {
	tests := []struct {
		name          string
		want          Platform
		entries       []Entry
		wantMsg       string
		wantAvailable []Platform
	}{
		{
			name: "lists available platforms, deduplicated, in index order",
			want: plat("linux/ppc64le"),
			entries: []Entry{
				ent("linux/amd64"),
				ent("linux/arm64"),
				ent("linux/arm/v7"),
				ent("linux/x86_64"),   // duplicate of linux/amd64 after normalisation
				ent("linux/arm64/v8"), // duplicate of linux/arm64
				attestation("unknown/unknown"),
				withMediaType(ent("linux/s390x"), ociIndex),
			},
			wantMsg:       "no platform matches linux/ppc64le; available: linux/amd64, linux/arm64/v8, linux/arm/v7",
			wantAvailable: []Platform{plat("linux/amd64"), plat("linux/arm64/v8"), plat("linux/arm/v7")},
		},
		{
			name: "os versions",
			want: Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.26100"},
			entries: []Entry{
				win("windows/amd64", "10.0.17763.6659"),
				win("windows/amd64", "10.0.20348.2849"),
				win("windows/amd64", "10.0.17763.6659"),
				noPlatform,
			},
			wantMsg: "no platform matches windows/amd64 (os.version 10.0.26100); available: " +
				"windows/amd64 (os.version 10.0.17763.6659), windows/amd64 (os.version 10.0.20348.2849), linux/amd64",
			wantAvailable: []Platform{
				{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.6659"},
				{OS: "windows", Architecture: "amd64", OSVersion: "10.0.20348.2849"},
				plat("linux/amd64"),
			},
		},
		{
			name:    "no selectable platforms",
			want:    plat("linux/amd64"),
			entries: []Entry{attestation("unknown/unknown"), attestation("linux/amd64"), withMediaType(ent("linux/amd64"), dockerList)},
			wantMsg: "no platform matches linux/amd64; the index has no selectable platforms",
		},
		{
			name:    "empty index",
			want:    plat("linux/arm/v6"),
			wantMsg: "no platform matches linux/arm/v6; the index has no selectable platforms",
		},
		{
			name:          "higher variant only",
			want:          plat("linux/arm/v6"),
			entries:       []Entry{ent("linux/arm")},
			wantMsg:       "no platform matches linux/arm/v6; available: linux/arm/v7",
			wantAvailable: []Platform{plat("linux/arm/v7")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Select(tt.want, tt.entries)
			if err == nil {
				t.Fatalf("Select(%+v) succeeded, want *NotFoundError", tt.want)
			}
			wrapped := fmt.Errorf("resolve image: %w", err)
			var nf *NotFoundError
			if !errors.As(wrapped, &nf) {
				t.Fatalf("errors.As(%v) did not find *NotFoundError", wrapped)
			}
			if got := nf.Error(); got != tt.wantMsg {
				t.Errorf("Error() =\n  %q\nwant\n  %q", got, tt.wantMsg)
			}
			if nf.Want != tt.want {
				t.Errorf("Want = %+v, want %+v", nf.Want, tt.want)
			}
			if !reflect.DeepEqual(nf.Available, tt.wantAvailable) {
				t.Errorf("Available = %+v, want %+v", nf.Available, tt.wantAvailable)
			}
		})
	}
}

// FuzzSelect checks that Select never panics, returns an in-range index of a
// selectable entry when it succeeds, a *NotFoundError or -1 otherwise, and is deterministic.
func FuzzSelect(f *testing.F) {
	f.Add("linux/amd64", "linux/arm64/v8", uint16(0xffff))
	f.Add("linux/arm", "linux/arm/v8", uint16(0x0f0f))
	f.Add("linux/arm/v6", "linux/armhf", uint16(0))
	f.Add("windows/amd64", "windows/amd64/10.0.17763.6659", uint16(0x00ff))
	f.Add("Linux/AARCH64/V8.2", "linux/arm64/v8.1", uint16(0x5555))
	f.Add("unknown/unknown", "unknown/unknown", uint16(0xaaaa))
	f.Add("", "/", uint16(1))
	f.Add("linux/amd64/v99999999999999999999", "linux/amd64/v18446744073709551616", uint16(3))

	pool := []Entry{
		ent("linux/amd64"),
		ent("linux/arm64"),
		ent("linux/arm/v7"),
		ent("linux/arm/v6"),
		ent("linux/amd64/v3"),
		win("windows/amd64", "10.0.17763.6659"),
		win("windows/amd64", "10.0.20348.2849"),
		attestation("unknown/unknown"),
		attestation("linux/amd64"),
		noPlatform,
		withMediaType(ent("linux/arm64"), ociIndex),
		withMediaType(ent("linux/386"), ""),
		ent("linux/riscv64/rva23"),
		ent("linux/arm64/v8.2"),
		{HasPlatform: true},
	}
	f.Fuzz(func(t *testing.T, want, extra string, mask uint16) {
		w, err := Parse(want)
		if err != nil {
			w = plat(want) // exercise Select with raw, unvalidated input too
		}
		var entries []Entry
		for i, e := range pool {
			if mask&(1<<i) != 0 {
				entries = append(entries, e)
			}
		}
		x := plat(extra)
		if parts := strings.SplitN(x.Variant, "/", 2); len(parts) == 2 {
			x.Variant, x.OSVersion = parts[0], parts[1]
		}
		entries = append(entries, Entry{Platform: x, HasPlatform: mask&0x8000 != 0, MediaType: ociManifest})

		got, err := Select(w, entries)
		if err != nil {
			if got != -1 {
				t.Fatalf("Select(%+v) = %d with error %v, want -1", w, got, err)
			}
			_ = err.Error()
			return
		}
		if got < 0 || got >= len(entries) {
			t.Fatalf("Select(%+v) = %d, out of range [0, %d)", w, got, len(entries))
		}
		if !Selectable(entries[got]) {
			t.Fatalf("Select(%+v) = %d, an unselectable entry %+v", w, got, entries[got])
		}
		nw, ne := Normalize(w), entryPlatform(entries[got])
		if nw.OS != ne.OS || nw.Architecture != ne.Architecture {
			t.Fatalf("Select(%+v) = %d (%+v): os/arch differ", w, got, ne)
		}
		if again, err := Select(w, entries); again != got || err != nil {
			t.Fatalf("Select(%+v) not deterministic: %d then %d, %v", w, got, again, err)
		}
	})
}
