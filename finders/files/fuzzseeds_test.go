package files

import (
	"archive/tar"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzReadLayer from fuzzSeeds")

// fuzzSeeds are tar layers with whiteouts, opaque markers, long names, links,
// escaping names and a lying header, plain and compressed.
func fuzzSeeds(t testing.TB) map[string][]byte {
	base := tarOf(t, dir("./", 0o755), dir("etc/", 0o755), file("etc/a", 0o4755, "a"), whiteout("etc/.wh.b"),
		whiteout("var/.wh..wh..opq"), symlink("bin/sh", "busybox"), hardlink("bin/ln", "bin/sh"),
		tf{Name: strings.Repeat("p/", 60) + "x", Type: tar.TypeReg, Mode: 0o644, Body: "x", Format: tar.FormatPAX},
		tf{Name: "g/" + strings.Repeat("g", 120), Type: tar.TypeReg, Mode: 0o644, Body: "g", Format: tar.FormatGNU},
		file("../../escape", 0o644, "e"), hardlink("l", "../../x"), whiteout(".wh..wh.plnk"))
	return map[string][]byte{
		"tar":        base,
		"gzip":       gzipOf(t, base),
		"zstd":       zstdOf(t, base),
		"lying-size": setTarSize(base, 1024, 1<<30),
		"empty":      {},
	}
}

func seedPath(name string) string { return filepath.Join("testdata", "fuzz", "FuzzReadLayer", name) }

func writeSeed(t *testing.T, name string, blob []byte) {
	if err := os.MkdirAll(filepath.Dir(seedPath(name)), 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(blob)))
	if err := os.WriteFile(seedPath(name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkSeeds fails when a seed file is missing, so that the corpus stays checked in.
func checkSeeds(t *testing.T, seeds map[string][]byte) {
	for name := range seeds {
		if _, err := os.Stat(seedPath(name)); err != nil {
			t.Errorf("fuzz seed %s: %v (run go test -run TestFuzzSeedsPresent -update-seeds)", name, err)
		}
	}
}
