// Package format renders the numbers and digests that every surface of the
// project shows — the CLI's tables, events and condition messages, the web
// UI's pages — so that one layer reads the same everywhere.
//
// The choices, written down once:
//   - Sizes are in binary units (B, KiB, MiB, GiB, …) with one decimal, as
//     crane and kubectl print them: "512 B", "2.0 MiB". Registries count
//     bytes, and a binary unit is the one that divides them evenly, so
//     "1.0 MiB" is exactly the 1 MiB limits the project talks about.
//   - A short digest is the algorithm and the first 12 hex digits, as docker
//     shortens image IDs: "sha256:0123456789ab". It is enough to tell the
//     digests of one repository apart and short enough for a table column.
package format

import (
	"strconv"
	"strings"
)

// ShortDigestHex is how many hex digits ShortDigest keeps.
const ShortDigestHex = 12

// Size renders a byte count in binary units with one decimal: "0 B", "999 B",
// "1.0 KiB", "2.1 MiB", "-3.5 GiB".
func Size(n int64) string {
	const unit = 1024
	sign, m := "", uint64(n)
	if n < 0 {
		sign, m = "-", uint64(-n) // -MinInt64 wraps to itself, which uint64 reads right
	}
	if m < unit {
		return sign + strconv.FormatUint(m, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for q := m / unit; q >= unit && exp < 5; q /= unit {
		div *= unit
		exp++
	}
	return sign + strconv.FormatFloat(float64(m)/float64(div), 'f', 1, 64) + " " + "KMGTPE"[exp:exp+1] + "iB"
}

// ShortDigest renders a digest as its algorithm and first ShortDigestHex hex
// digits: "sha256:0123456789ab". Anything that is not "algorithm:hex", or
// whose hex is that short already, is returned as it is.
func ShortDigest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= ShortDigestHex {
		return d
	}
	return algo + ":" + hex[:ShortDigestHex]
}
