package files

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/gzip"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// benchLayer writes a deterministic gzip layer of at least mib MiB compressed:
// files of 1 to 64 KiB, each part noise and part text, so that it compresses
// about 2:1 as real layers do. It returns the blob and its diffID.
func benchLayer(t testing.TB, mib int) (blob []byte, diffID string, entries int) {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	uncompressed := newVerifierMust(t, zw)
	tw := tar.NewWriter(uncompressed)
	rng := rand.New(rand.NewPCG(18, 2026))
	noise := make([]byte, 64<<10)
	_, _ = rand.NewChaCha8([32]byte{18}).Read(noise) // ChaCha8.Read never fails
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 1600)
	for i := 0; out.Len() < mib<<20; i++ {
		if i%50 == 0 {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/d%05d/", i/50), Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			entries++
		}
		size := 1<<10 + rng.IntN(63<<10)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/share/d%05d/file-%07d.dat", i/50, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)}); err != nil {
			t.Fatal(err)
		}
		entries++
		half := size / 2
		off := rng.IntN(len(noise) - half)
		if _, err := tw.Write(noise[off : off+half]); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(text[:size-half]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), uncompressed.sum(), entries
}

// sumWriter hashes what is written through it.
type sumWriter struct {
	w io.Writer
	v *verifier
}

func newVerifierMust(t testing.TB, w io.Writer) *sumWriter {
	v, err := newVerifier("sha256:"+string(bytes.Repeat([]byte("0"), 64)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &sumWriter{w: w, v: v}
}

func (s *sumWriter) Write(p []byte) (int, error) { s.v.h.Write(p); return s.w.Write(p) }
func (s *sumWriter) sum() string {
	return fmt.Sprintf("sha256:%x", s.v.h.Sum(nil))
}

// The child process of BenchmarkListLayer: FILES_BENCH_MODE=index lists the
// layer with this package; FILES_BENCH_MODE=blob writes the blob to standard
// output as `crane blob` does (go-containerregistry's remote.Layer), for
// `gzip -d | tar t` to read.
func TestBenchChild(t *testing.T) {
	mode := os.Getenv("FILES_BENCH_MODE")
	if mode == "" {
		t.Skip("the child process of BenchmarkListLayer")
	}
	ctx := context.Background()
	repo, digest := os.Getenv("FILES_BENCH_REPO"), os.Getenv("FILES_BENCH_DIGEST")
	switch mode {
	case "index":
		size, _ := strconv.ParseInt(os.Getenv("FILES_BENCH_SIZE"), 10, 64)
		src, err := NewRegistry(ctx, RegistryOptions{Repository: repo, Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		l, err := (&Indexer{}).Layer(ctx, src, Descriptor{Digest: digest, DiffID: os.Getenv("FILES_BENCH_DIFFID"), Size: size})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(os.Stderr, "entries", len(l.Entries))
		// The peak RSS of this process image: the parent's rusage of a child
		// would count the parent's pages at the fork, before the exec.
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmHWM:") {
				fmt.Fprintln(os.Stderr, "peak-rss-kib", strings.Fields(line)[1])
			}
		}
	case "blob":
		ref, err := name.NewDigest(repo+"@"+digest, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		layer, err := remote.Layer(ref)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(os.Stdout, rc); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
		os.Exit(0) // before the test framework writes PASS to the pipe
	}
}

// BenchmarkListLayer lists a generated gzip layer (200 MiB, or
// FILES_BENCH_MIB) from a loopback registry in a child process, and in the
// same run the reference pipeline `crane blob | gzip -d | tar t > /dev/null`
// (the blob fetched by go-containerregistry as crane does, then the system's
// gzip and tar). It reports both wall times (median of 5, alternating), their
// ratio, and the child's peak RSS.
func BenchmarkListLayer(b *testing.B) {
	mib := 200
	if v, err := strconv.Atoi(os.Getenv("FILES_BENCH_MIB")); err == nil && v > 0 {
		mib = v
	}
	for _, p := range []string{"gzip", "tar"} {
		if _, err := exec.LookPath(p); err != nil {
			b.Skipf("the reference pipeline needs %s: %v", p, err)
		}
	}
	blob, diffID, entries := benchLayer(b, mib)
	reg := testregistry.New(b, testregistry.Options{})
	h := reg.PushBlob(b, repo, blob)
	env := append(os.Environ(), "FILES_BENCH_REPO="+reg.Host()+"/"+repo, "FILES_BENCH_DIGEST="+h.String(),
		"FILES_BENCH_DIFFID="+diffID, "FILES_BENCH_SIZE="+strconv.Itoa(len(blob)))
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	child := func(mode string) *exec.Cmd {
		cmd := exec.Command(self, "-test.run=^TestBenchChild$", "-test.count=1")
		cmd.Env = append(env, "FILES_BENCH_MODE="+mode)
		return cmd
	}
	var ours, ref []time.Duration
	var rss int64
	b.ResetTimer()
	for range b.N {
		for range 5 {
			cmd := child("index")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("index: %v\n%s", err, stderr.String())
			}
			ours = append(ours, time.Since(start))
			if want := fmt.Sprintf("entries %d\n", entries); !bytes.Contains(stderr.Bytes(), []byte(want)) {
				b.Fatalf("index listed %q, want %q", stderr.String(), want)
			}
			var kib int64
			if _, err := fmt.Sscanf(stderr.String()[bytes.Index(stderr.Bytes(), []byte("peak-rss-kib")):], "peak-rss-kib %d", &kib); err != nil {
				b.Fatalf("no peak RSS from the child: %v\n%s", err, stderr.String())
			}
			rss = max(rss, kib)

			pipe := exec.Command("sh", "-c", `"$0" -test.run='^TestBenchChild$' -test.count=1 | gzip -d | tar t > /dev/null`, self)
			pipe.Env = append(env, "FILES_BENCH_MODE=blob")
			pipe.Stderr = os.Stderr
			start = time.Now()
			if err := pipe.Run(); err != nil {
				b.Fatalf("reference pipeline: %v", err)
			}
			ref = append(ref, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(ours)
	slices.Sort(ref)
	o, r := ours[len(ours)/2], ref[len(ref)/2]
	b.ReportMetric(o.Seconds(), "index-s")
	b.ReportMetric(r.Seconds(), "crane|gzip|tar-s")
	b.ReportMetric(o.Seconds()/r.Seconds(), "ratio")
	b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(len(blob))/(1<<20), "layer-MiB")
	b.ReportMetric(float64(entries), "entries")
}
