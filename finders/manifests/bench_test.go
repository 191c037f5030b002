package manifests_test

import (
	"context"
	"testing"
	"time"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// BenchmarkResolve measures a whole resolution against the in-process registry
// with Docker-Hub-style token auth: the handshake, and either the three GETs of a
// first resolution or the one HEAD of an unchanged re-check. It reports the
// registry requests per operation next to time and allocations.
func BenchmarkResolve(b *testing.B) {
	reg := testregistry.New(b, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(b)
	reg.PushIndex(b, "bench/app", "1.0", idx)
	opts := manifests.Options{
		Registry: reg.Host(), Repository: "bench/app", Tag: "1.0",
		Platform: platforms.Platform{OS: "linux", Architecture: "arm", Variant: "v7"},
		Network:  manifests.Network{Insecure: true, Transport: reg.Transport()},
	}
	first, err := manifests.Resolve(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}

	for _, bm := range []struct {
		name     string
		previous *manifests.Result
		sessions bool
	}{{"first", nil, false}, {"unchanged", first, false}, {"unchanged-with-sessions", first, true}} {
		b.Run(bm.name, func(b *testing.B) {
			o := opts
			o.Previous = bm.previous
			if bm.sessions {
				o.Cache.Sessions = manifests.NewSessions(time.Hour, 10)
			}
			reg.Log().Reset()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := manifests.Resolve(context.Background(), o); err != nil {
					b.Fatal(err)
				}
			}
			l := reg.Log()
			n := float64(b.N)
			b.ReportMetric(float64(l.ManifestGETs()+l.BlobGETs())/n, "GETs/op")
			b.ReportMetric(float64(l.ManifestHEADs())/n, "HEADs/op")
			b.ReportMetric(float64(l.Pings()+l.Tokens())/n, "handshake-reqs/op")
		})
	}
}
