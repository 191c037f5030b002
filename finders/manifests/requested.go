package manifests

import "github.com/imageconfig/imageconfig-operator/finders/platforms"

// Requested returns what o asks for, without any request: the canonical
// reference, such as "index.docker.io/library/nginx:1.27", and the platform
// normalised the way selection sees it, as os/architecture[/variant] ("linux/arm64"
// is "linux/arm64/v8"; empty means linux/amd64). The error is an *Error with
// reason InvalidReference when o does not name an image.
func Requested(o Options) (imageRef, platform string, err error) {
	ref, err := parseReference(o)
	if err != nil {
		return "", "", err
	}
	p := o.Platform
	if p.OS == "" && p.Architecture == "" {
		p.OS, p.Architecture = "linux", "amd64"
	}
	return ref.canonical, platforms.Normalize(p).String(), nil
}
