//go:build scale

// Package scale is the fleet benchmark behind `make bench-scale`: the manager
// binary as its own process, a hermetic control plane, and the reference
// registry in this process, counting every request.
//
// It creates N ImageConfigs over M distinct two-platform tags (object i names
// tag i mod M) with the manager held back, starts the manager, and prints one
// summary line: the time until every object is Ready, the registry requests of
// that first resolution, the steady-state requests over two intervals, status
// writes per object, the manager's peak RSS, the CPU seconds of the manager,
// kube-apiserver and etcd, and what a `crane config` loop over the same objects
// would cost on the same registry.
//
// Settings come from the environment: SCALE_N, SCALE_M, SCALE_INTERVAL (the
// objects' spec.interval, default 60s, the shape of issue 17), SCALE_STEADY (0 skips the steady-state
// phase), MANAGER_BIN, MANAGER_ARGS (extra flags), SCALE_PPROF (a file to write a
// 30 s CPU profile of the manager's first pass to; needs --pprof-bind-address;
// beside it go the API server's CPU profiles of the floor and the first pass,
// and the manager's heap after the first pass and after the steady intervals,
// and its allocations), SCALE_SHOW_OBJECT=1 (log the median stored object),
// SCALE_FLOOR (how many of the N objects the two floors write, default N; the
// figures are scaled to N), SCALE_STEADY_INTERVALS (default 2), and
// SCALE_WRITE_MODES, a comma-separated list of jsonpatch, merge and update: after
// the write floor, the same whole statuses are written again in each of those
// ways, and the time and API-server CPU per write are logged for each.
package scale

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/refregistry"
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q is not a count", name, v)
	}
	return n
}

// registryCounts are the requests the registry saw.
type registryCounts struct{ gets, heads, pings, tokens, blobGets int }

func (c registryCounts) total() int { return c.gets + c.blobGets + c.heads + c.pings + c.tokens }

func count(reg *refregistry.Registry, tokensBefore int) registryCounts {
	log := reg.Log()
	return registryCounts{
		gets:     log.CountPrefix("GET", "/v2/public/fleet/manifests/"),
		blobGets: log.CountPrefix("GET", "/v2/public/fleet/blobs/"),
		heads:    log.CountPrefix("HEAD", "/v2/public/fleet/manifests/"),
		pings:    countExact(log, "GET", "/v2/"),
		tokens:   len(reg.Tokens()) - tokensBefore,
	}
}

func countExact(log *refregistry.RequestLog, method, path string) int {
	n := 0
	for _, q := range log.Requests() {
		if q.Method == method && q.Path == path {
			n++
		}
	}
	return n
}

// cpuSeconds reads utime+stime of pid from /proc.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// procStatusMiB reads the kB fields of /proc/<pid>/status (VmHWM, RssAnon,
// RssFile…) in MiB, by name without the colon; nil when pid is gone.
func procStatusMiB(pid int) map[string]float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			out[strings.TrimSuffix(f[0], ":")] = kb / 1024
		}
	}
	return out
}

// peakRSS reads VmHWM of pid, in MiB.
func peakRSS(pid int) float64 {
	if v, ok := procStatusMiB(pid)["VmHWM"]; ok {
		return v
	}
	return -1
}

// rssPeak samples a process's RssAnon and RssFile every 100 ms and keeps the
// sample with the highest sum: VmHWM says how high the RSS went, this says
// which part took it there.
type rssPeak struct {
	mu         sync.Mutex
	anon, file float64
}

func sampleRSS(ctx context.Context, pid int) *rssPeak {
	p := &rssPeak{}
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			a, f := rssParts(pid)
			p.mu.Lock()
			if a >= 0 && a+f > p.anon+p.file {
				p.anon, p.file = a, f
			}
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *rssPeak) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("anon %.0f + file %.0f MiB at the highest sample", p.anon, p.file)
}

// rssParts reads the RssAnon and RssFile of pid now, in MiB: the memory the
// process allocated, and the pages of its binary and other files it maps.
func rssParts(pid int) (anon, file float64) {
	st := procStatusMiB(pid)
	if st == nil {
		return -1, -1
	}
	return st["RssAnon"], st["RssFile"]
}

// childPID finds the child process of this one whose command is name.
func childPID(name string) int {
	entries, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 {
			continue
		}
		f := strings.Fields(s[close+2:])
		if s[open+1:close] == name && len(f) > 1 && f[1] == me {
			return pid
		}
	}
	return -1
}

func uptime() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// watcher counts Ready objects and status writes (resourceVersion changes) from
// an informer of its own.
type watcher struct {
	mu     sync.Mutex
	ready  map[string]bool
	writes atomic.Int64
}

func isReady(o *imagesv1alpha1.ImageConfig) bool {
	return apimeta.IsStatusConditionTrue(o.Status.Conditions, imagesv1alpha1.ReadyCondition) && o.Status.ObservedGeneration == o.Generation
}

func (w *watcher) observe(obj any) {
	o, ok := obj.(*imagesv1alpha1.ImageConfig)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ready[o.Name] = isReady(o)
}

func (w *watcher) readyCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.ready {
		if r {
			n++
		}
	}
	return n
}

func TestScale(t *testing.T) {
	n, m := envInt(t, "SCALE_N", 10000), envInt(t, "SCALE_M", 1000)
	steady := envInt(t, "SCALE_STEADY", 1) == 1
	interval := time.Minute
	if v := os.Getenv("SCALE_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SCALE_INTERVAL=%q: %v", v, err)
		}
		interval = d
	}
	managerBin := os.Getenv("MANAGER_BIN")
	if managerBin == "" {
		t.Skip("MANAGER_BIN is not set; run `make bench-scale`")
	}
	loadBefore := uptime()
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	env := testenv.Start(t)
	apiserverPID, etcdPID := childPID("kube-apiserver"), childPID("etcd")
	reg := refregistry.Start(t, refregistry.Options{Mode: refregistry.TokenAuth})

	// M two-platform tags, each with its own configs; the layers are shared.
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range m {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var entries []testregistry.IndexEntry
			for _, arch := range []string{"amd64", "arm64"} {
				cfg := v1.Config{Env: []string{"PATH=/usr/bin:/bin", fmt.Sprintf("TAG=t%05d", i)}, Cmd: []string{"/app"}, Labels: map[string]string{"tag": fmt.Sprintf("t%05d", i)}}
				entries = append(entries, testregistry.IndexEntry{Image: testregistry.Image(t, testregistry.ImageSpec{OS: "linux", Architecture: arch, Layers: []string{"base " + arch, "app " + arch}, Config: cfg})})
			}
			reg.Push(t, "public/fleet", fmt.Sprintf("t%05d", i), testregistry.Index(t, types.OCIImageIndex, entries...))
		}()
	}
	wg.Wait()
	t.Logf("pushed %d tags in %s", m, time.Since(start).Round(time.Millisecond))

	// What `crane config` costs per object, on a sample of tags, each run as its own process would.
	reg.Log().Reset()
	tokens0 := len(reg.Tokens())
	const sample = 10
	for i := range sample {
		if _, err := crane.Config(fmt.Sprintf("%s/public/fleet:t%05d", reg.Host(), i%m), crane.Insecure,
			crane.WithPlatform(&v1.Platform{OS: "linux", Architecture: "amd64"}), crane.WithTransport(http.DefaultTransport.(*http.Transport).Clone())); err != nil {
			t.Fatalf("crane config: %v", err)
		}
	}
	craneRequests := float64(count(reg, tokens0).total()) / sample

	ns := "fleet"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				o := &imagesv1alpha1.ImageConfig{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%05d", i), Namespace: ns},
					Spec: imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "public/fleet", Tag: fmt.Sprintf("t%05d", i%m),
						Insecure: true, Interval: &metav1.Duration{Duration: interval}},
				}
				for {
					err := env.Client.Create(ctx, o)
					if err == nil {
						break
					}
					if ctx.Err() != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("created %d ImageConfigs in %s", n, time.Since(start).Round(time.Millisecond))

	w := &watcher{ready: map[string]bool{}}
	inf, err := cache.New(env.Config, cache.Options{Scheme: env.Scheme, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		t.Fatal(err)
	}
	informer, err := inf.GetInformer(ctx, &imagesv1alpha1.ImageConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: w.observe,
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*imagesv1alpha1.ImageConfig), newObj.(*imagesv1alpha1.ImageConfig)
			if o.ResourceVersion != n.ResourceVersion {
				w.writes.Add(1)
			}
			w.observe(newObj)
		},
	}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = inf.Start(ctx) }()
	if !inf.WaitForCacheSync(ctx) {
		t.Fatal("the benchmark's informer did not sync")
	}

	args := []string{"--allow-insecure-registries", "--health-probe-bind-address=" + testenv.FreeAddr(t), "--metrics-bind-address=0"}
	args = append(args, strings.Fields(os.Getenv("MANAGER_ARGS"))...)

	// The floor: the same API server taking one bare status patch per object, with
	// the manager's client-side limits, before the manager starts. SCALE_FLOOR
	// patches fewer objects and scales the time up to N.
	floorN := min(envInt(t, "SCALE_FLOOR", n), n)
	qps, burst := managerLimits(args)
	floorProfiled := make(chan struct{})
	if prof := os.Getenv("SCALE_PPROF"); prof != "" {
		go func() {
			defer close(floorProfiled)
			profileAPIServer(t, env.Config, strings.TrimSuffix(prof, ".pprof")+"-apiserver-floor.pprof", 20)
		}()
	} else {
		close(floorProfiled)
	}
	cpuFloor0 := cpuSeconds(apiserverPID)
	floor := apiserverFloor(t, env.Config, env.Scheme, ns, floorN, qps, burst)
	floorCPUms := (cpuSeconds(apiserverPID) - cpuFloor0) * 1000 / float64(max(floorN, 1))
	floorS := floor.Seconds() * float64(n) / float64(max(floorN, 1))
	t.Logf("floor: %d bare status patches in %s (qps %g, burst %d, %d at a time)", floorN, floor.Round(time.Millisecond), qps, burst, floorWorkers)

	<-floorProfiled // the API server takes one CPU profile at a time
	reg.Log().Reset()
	tokens0 = len(reg.Tokens())
	writes0 := w.writes.Load()
	apiWrites0, apiRefused0 := statusWrites(t, env.Config)
	apiRequests0 := apiRequests(t, env.Config)
	cpuAPI0, cpuEtcd0, cpuSelf0 := cpuSeconds(apiserverPID), cpuSeconds(etcdPID), cpuSeconds(os.Getpid())
	mgrStart := time.Now()
	mgr := env.StartManager(t, testenv.ManagerOptions{Bin: managerBin, Args: args,
		Log: filepath.Join(testenv.RepoRoot(), "bin", "bench-scale-manager.log")})
	pid := mgr.Cmd.Process.Pid
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	defer stopSampling()
	rssSamples := sampleRSS(sampleCtx, pid)

	if prof := os.Getenv("SCALE_PPROF"); prof != "" {
		go profile(t, args, prof)
		go profileAPIServer(t, env.Config, strings.TrimSuffix(prof, ".pprof")+"-apiserver.pprof", 30)
	}

	wait := max(10*time.Minute, 5*floor*time.Duration(n)/time.Duration(max(floorN, 1)))
	deadline := time.Now().Add(wait)
	lastLog := time.Now()
	for w.readyCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d Ready after %s", w.readyCount(), n, wait)
		}
		if time.Since(lastLog) > 30*time.Second {
			// Progress, so that a run cut short still says what it reached.
			lastLog = time.Now()
			writes, _ := statusWrites(t, env.Config)
			t.Logf("after %s: %d of %d Ready, %d status writes, manager peak RSS %.0f MiB (%s), load %s",
				time.Since(mgrStart).Round(time.Second), w.readyCount(), n, writes-apiWrites0, peakRSS(pid), rssSamples, uptime())
		}
		time.Sleep(100 * time.Millisecond)
	}
	readyAfter := time.Since(mgrStart)
	first := count(reg, tokens0)
	firstWrites := float64(w.writes.Load()-writes0) / float64(n)
	apiWrites1, apiRefused1 := statusWrites(t, env.Config)
	t.Logf("API server requests in the first pass (watches left out; the benchmark's own progress reads included): %s", requestsSince(apiRequests0, apiRequests(t, env.Config)))
	firstStatusWrites, firstRefused := apiWrites1-apiWrites0, apiRefused1-apiRefused0
	cpuMgrFirst := cpuSeconds(pid)
	if prof := os.Getenv("SCALE_PPROF"); prof != "" {
		pprofGet(t, args, "heap?gc=1", strings.TrimSuffix(prof, ".pprof")+"-heap-first.pprof")
	}
	cpuAPIFirst, cpuEtcdFirst := cpuSeconds(apiserverPID)-cpuAPI0, cpuSeconds(etcdPID)-cpuEtcd0
	// This process serves the registry and runs the informer that counts Ready:
	// on the same cores as the manager and the API server in the first pass,
	// while the floors run without the registry.
	cpuSelfFirst := cpuSeconds(os.Getpid()) - cpuSelf0

	steadyPart := "steady=skipped"
	steadyWrites, steadyHeads, steadyGets := -1.0, -1.0, -1
	if steady {
		intervals := max(envInt(t, "SCALE_STEADY_INTERVALS", 2), 1)
		reg.Log().Reset()
		tokens1, writes1 := len(reg.Tokens()), w.writes.Load()
		api1, _ := statusWrites(t, env.Config)
		for i := range intervals {
			time.Sleep(interval)
			s, writes := count(reg, tokens1), w.writes.Load()-writes1
			t.Logf("steady interval %d: %d HEADs, %d GETs, %d status writes (watched), manager peak RSS %.0f MiB (%s), load %s",
				i+1, s.heads, s.gets+s.blobGets, writes, peakRSS(pid), rssSamples, uptime())
		}
		s := count(reg, tokens1)
		api2, _ := statusWrites(t, env.Config)
		steadyWrites = float64(api2-api1) / float64(n*intervals)
		steadyHeads = float64(s.heads) / float64(m*intervals)
		steadyGets = s.gets + s.blobGets
		steadyPart = fmt.Sprintf("steady(%dx%s): HEAD=%d GET=%d (%.2f HEADs/tag/interval) writes/object=%.2f (watched %.2f)",
			intervals, interval, s.heads, steadyGets, steadyHeads, float64(api2-api1)/float64(n), float64(w.writes.Load()-writes1)/float64(n))
		if w.readyCount() != n {
			steadyPart += fmt.Sprintf(" NOT-READY=%d", n-w.readyCount())
		}
	}
	ours := first.total()
	rss := peakRSS(pid)
	anon, file := rssParts(pid)
	t.Logf("manager memory at the end: peak RSS %.0f MiB (%s); now RssAnon %.0f MiB, RssFile %.0f MiB", rss, rssSamples, anon, file)
	if prof := os.Getenv("SCALE_PPROF"); prof != "" {
		pprofGet(t, args, "heap?gc=1", strings.TrimSuffix(prof, ".pprof")+"-heap-steady.pprof")
		pprofGet(t, args, "allocs", strings.TrimSuffix(prof, ".pprof")+"-allocs.pprof")
	}
	etcdBytes := storedBytes(t, env.Config, ns, 1000)

	// The write floor: the same writes as the first pass, without the manager.
	mgr.Stop()
	wfloor, wfloorCPU := writeFloor(t, env.Config, env.Scheme, ns, floorN, qps, burst, apiserverPID)
	wfloorCPUms := wfloorCPU * 1000 / float64(max(floorN, 1))
	wfloorS := wfloor.Seconds() * float64(n) / float64(max(floorN, 1))
	t.Logf("write floor: %d whole-status patches in %s", floorN, wfloor.Round(time.Millisecond))
	if modes := os.Getenv("SCALE_WRITE_MODES"); modes != "" {
		writeModes(t, env.Config, env.Scheme, ns, floorN, qps, burst, apiserverPID, strings.Split(modes, ","))
	}
	fmt.Printf("bench-scale N=%d M=%d interval=%s ready=%.1fs first: GET=%d (manifests %d, blobs %d) HEAD=%d ping=%d token=%d total=%d (%.2f/object) writes/object=%.2f (watched %.2f, refused %d) | %s | manager peakRSS=%.0fMiB cpu(first pass): manager=%.1fs apiserver=%.1fs etcd=%.1fs benchmark+registry=%.1fs | crane config loop: %.1f requests/object x %d = %.0f (%.1fx ours) | load before=%q after=%q"+
		" | first_status_writes=%d steady_status_writes_per_object_interval=%.3f steady_heads_per_tag_interval=%.2f steady_gets=%d apiserver_floor_s=%.1f floor_patches=%d ready_over_floor=%.2f apiserver_write_floor_s=%.1f ready_over_write_floor=%.2f apiserver_cpu_ms_per_floor_patch=%.2f apiserver_cpu_ms_per_first_write=%.2f apiserver_cpu_ms_per_write_floor_patch=%.2f peak_rss_mib=%.0f etcd_bytes_per_object_median=%d\n",
		n, m, interval, readyAfter.Seconds(), first.gets+first.blobGets, first.gets, first.blobGets, first.heads, first.pings, first.tokens, ours, float64(ours)/float64(n), float64(firstStatusWrites)/float64(n), firstWrites, firstRefused,
		steadyPart, rss, cpuMgrFirst, cpuAPIFirst, cpuEtcdFirst, cpuSelfFirst,
		craneRequests, n, craneRequests*float64(n), craneRequests*float64(n)/float64(max(ours, 1)), loadBefore, uptime(),
		firstStatusWrites, steadyWrites, steadyHeads, steadyGets, floorS, floorN, readyAfter.Seconds()/floorS, wfloorS, readyAfter.Seconds()/wfloorS,
		floorCPUms, cpuAPIFirst*1000/float64(max(firstStatusWrites, 1)), wfloorCPUms, rss, etcdBytes)
}

// profile writes a 30 s CPU profile of the manager's first pass, from its
// --pprof-bind-address.
func profile(t *testing.T, args []string, path string) {
	time.Sleep(2 * time.Second)
	pprofGet(t, args, "profile?seconds=30", path)
}

// pprofGet saves the manager's /debug/pprof/<what> to path, when MANAGER_ARGS
// gives a --pprof-bind-address.
func pprofGet(t *testing.T, args []string, what, path string) {
	addr := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--pprof-bind-address="); ok {
			addr = v
		}
	}
	if addr == "" {
		t.Log("SCALE_PPROF needs --pprof-bind-address=HOST:PORT in MANAGER_ARGS")
		return
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/" + what)
	if err != nil {
		t.Logf("pprof: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Logf("pprof: %v", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}
