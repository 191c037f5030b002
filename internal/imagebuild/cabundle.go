package imagebuild

import (
	"bytes"
	"encoding/pem"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// CABundle returns the Mozilla NSS roots that golang.org/x/crypto/x509roots/fallback
// ships, PEM-encoded. The module version in go.mod pins the bundle, so every build
// machine puts the same bytes into the image: the build machine's own
// /etc/ssl/certs would make the digest depend on its ca-certificates package.
//
// Roots that NSS trusts only for certificates issued before a date (distrust-after)
// are left out, since a PEM bundle cannot carry that constraint.
func CABundle() []byte {
	var buf bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
	}
	return buf.Bytes()
}
