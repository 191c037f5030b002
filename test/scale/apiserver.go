//go:build scale

package scale

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// requestTotals calls fn with each sample of apiserver_request_total the API
// server reports: the sample line (for label) and its value.
func requestTotals(t *testing.T, cfg *rest.Config, fn func(line string, v int64)) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading the API server's metrics: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("apiserver_request_total line %q: %v", line, err)
		}
		fn(line, int64(v))
	}
}

// statusWrites returns the successful writes of imageconfigs/status the API server
// counted (apiserver_request_total: verbs PATCH, UPDATE and APPLY, 2xx codes), and
// the refused ones (409 conflicts and other non-2xx codes).
func statusWrites(t *testing.T, cfg *rest.Config) (ok, refused int64) {
	t.Helper()
	requestTotals(t, cfg, func(line string, v int64) {
		if label(line, "resource") != "imageconfigs" || label(line, "subresource") != "status" {
			return
		}
		if verb := label(line, "verb"); verb != "PATCH" && verb != "UPDATE" && verb != "APPLY" {
			return
		}
		if strings.HasPrefix(label(line, "code"), "2") {
			ok += v
		} else {
			refused += v
		}
	})
	return ok, refused
}

// apiRequests returns every request the API server counted
// (apiserver_request_total), by "VERB resource[/subresource]", watches left out.
func apiRequests(t *testing.T, cfg *rest.Config) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	requestTotals(t, cfg, func(line string, v int64) {
		verb := label(line, "verb")
		if verb == "WATCH" {
			return
		}
		what := label(line, "resource")
		if sub := label(line, "subresource"); sub != "" {
			what += "/" + sub
		}
		out[verb+" "+what] += v
	})
	return out
}

// requestsSince formats the requests counted since before, most first.
func requestsSince(before, after map[string]int64) string {
	type kv struct {
		k string
		n int64
	}
	var d []kv
	for k, n := range after {
		if n -= before[k]; n > 0 {
			d = append(d, kv{k, n})
		}
	}
	slices.SortFunc(d, func(a, b kv) int { return int(b.n - a.n) })
	var parts []string
	for _, e := range d {
		parts = append(parts, fmt.Sprintf("%s=%d", e.k, e.n))
	}
	return strings.Join(parts, " ")
}

// label returns the value of a Prometheus label in a text-format sample line.
func label(line, name string) string {
	_, after, found := strings.Cut(line, name+`="`)
	if !found {
		return ""
	}
	v, _, _ := strings.Cut(after, `"`)
	return v
}

// managerLimits returns the client-side rate limit the manager runs with: its
// defaults, or the --kube-api-qps and --kube-api-burst given in args.
func managerLimits(args []string) (qps float32, burst int) {
	qps, burst = 300, 600
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--kube-api-qps="); ok {
			if f, err := strconv.ParseFloat(v, 32); err == nil {
				qps = float32(f)
			}
		}
		if v, ok := strings.CutPrefix(a, "--kube-api-burst="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				burst = n
			}
		}
	}
	return qps, burst
}

// floorWorkers is how many patches the floor loop keeps in flight: the manager's
// default --max-concurrent-reconciles.
const floorWorkers = 8

// apiserverFloor patches the status of the first count objects (names app-00000
// on) with a bare merge patch of status.lastCheckedTime, floorWorkers at a time,
// through a client with the manager's QPS and burst, and returns how long the
// loop took: the least time the API server needs to take one status write per
// object, measured on the same control plane as the fleet.
func apiserverFloor(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, ns string, count int, qps float32, burst int) time.Duration {
	t.Helper()
	return patchLoop(t, cfg, scheme, ns, count, qps, burst, types.MergePatchType, func(int) []byte {
		return fmt.Appendf(nil, `{"status":{"lastCheckedTime":%q}}`, time.Now().UTC().Format(time.RFC3339))
	})
}

// writeFloor is the API server taking the first pass's own writes without the
// manager: the first count objects' statuses, as the manager wrote them, are
// cleared, then written back whole with one JSON patch each, as the first pass
// writes them (floorWorkers at a time, the manager's QPS and burst). Only the
// writes back are timed. The manager must be stopped. It differs from
// apiserverFloor by the cost of the status's bytes alone.
//
// It also returns the CPU seconds the API server (process apiserverPID) spent on
// the writes back.
func writeFloor(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, ns string, count int, qps float32, burst int, apiserverPID int) (time.Duration, float64) {
	t.Helper()
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	statuses := make([][]byte, count)
	eachListed(t, cl, ns, func(o *imagesv1alpha1.ImageConfig) {
		var i int
		if _, err := fmt.Sscanf(o.Name, "app-%d", &i); err != nil || i >= count {
			return
		}
		o.ResourceVersion = "" // cleared and written back: no version to hold
		statuses[i] = managerPatch(o)
	})
	patchLoop(t, cfg, scheme, ns, count, qps, burst, types.MergePatchType, func(int) []byte { return []byte(`{"status":null}`) })
	cpu0 := cpuSeconds(apiserverPID)
	d := patchLoop(t, cfg, scheme, ns, count, qps, burst, types.JSONPatchType, func(i int) []byte { return statuses[i] })
	return d, cpuSeconds(apiserverPID) - cpu0
}

// managerPatch is the manager's status write for o (controllers/statuswrite.go):
// a JSON patch that replaces the whole status, holding o's resourceVersion
// when it has one.
func managerPatch(o *imagesv1alpha1.ImageConfig) []byte {
	ops := []map[string]any{}
	if o.ResourceVersion != "" {
		ops = append(ops, map[string]any{"op": "replace", "path": "/metadata/resourceVersion", "value": o.ResourceVersion})
	}
	body, err := json.Marshal(append(ops, map[string]any{"op": "add", "path": "/status", "value": o.Status}))
	if err != nil {
		panic(err) // a decoded status always marshals
	}
	return body
}

// patchLoop patches (type pt) the status of objects app-00000 to app-<count-1>
// with body(i), floorWorkers at a time, through a client with the given QPS and
// burst, and returns how long it took.
func patchLoop(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, ns string, count int, qps float32, burst int, pt types.PatchType, body func(i int) []byte) time.Duration {
	t.Helper()
	cl := limitedClient(t, cfg, scheme, qps, burst)
	var failures sync.Map
	d := inParallel(count, func(i int) {
		o := &imagesv1alpha1.ImageConfig{}
		o.Namespace, o.Name = ns, fmt.Sprintf("app-%05d", i)
		if err := cl.Status().Patch(context.Background(), o, client.RawPatch(pt, body(i))); err != nil {
			failures.Store(i, err)
		}
	})
	failures.Range(func(k, v any) bool {
		t.Fatalf("status patch of app-%05d: %v", k, v)
		return false
	})
	return d
}

// limitedClient is a client of cfg with the given client-side QPS and burst.
func limitedClient(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, qps float32, burst int) client.Client {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = qps, burst
	cl, err := client.New(c, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// inParallel calls work(0) to work(count-1), floorWorkers at a time, and
// returns how long they took.
func inParallel(count int, work func(i int)) time.Duration {
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range floorWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				work(i)
			}
		}()
	}
	for i := range count {
		next <- i
	}
	close(next)
	wg.Wait()
	return time.Since(start)
}

// eachListed calls fn with every ImageConfig in ns, listed 1,000 at a time.
func eachListed(t *testing.T, cl client.Client, ns string, fn func(*imagesv1alpha1.ImageConfig)) {
	t.Helper()
	list := &imagesv1alpha1.ImageConfigList{}
	for {
		if err := cl.List(context.Background(), list, client.InNamespace(ns), client.Limit(1000), client.Continue(list.Continue)); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			fn(&list.Items[i])
		}
		if list.Continue == "" {
			return
		}
	}
}

// storedBytes returns the median size of up to limit ImageConfigs as the API
// server stores them: their JSON with managedFields (custom resources are stored
// in etcd as JSON; the resourceVersion, which etcd does not store, is left out).
func storedBytes(t *testing.T, cfg *rest.Config, ns string, limit int) int {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().
		AbsPath("/apis", imagesv1alpha1.GroupVersion.Group, imagesv1alpha1.GroupVersion.Version, "namespaces", ns, "imageconfigs").
		Param("limit", strconv.Itoa(limit)).DoRaw(context.Background())
	if err != nil {
		t.Fatalf("listing ImageConfigs: %v", err)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	var objs [][]byte
	for _, item := range list.Items {
		if md, ok := item["metadata"].(map[string]any); ok {
			delete(md, "resourceVersion")
		}
		b, err := json.Marshal(item)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, b)
	}
	if len(objs) == 0 {
		return 0
	}
	slices.SortFunc(objs, func(a, b []byte) int { return len(a) - len(b) })
	median := objs[len(objs)/2]
	if os.Getenv("SCALE_SHOW_OBJECT") == "1" {
		t.Logf("the median stored object (%d bytes): %s", len(median), median)
	}
	return len(median)
}

// profileAPIServer saves a CPU profile of the API server (its /debug/pprof, on
// by default), taken 2 s from now for seconds: the first pass is bound by the
// API server's CPU, so SCALE_PPROF profiles it during the floor and the first
// pass, next to the manager's.
func profileAPIServer(t *testing.T, cfg *rest.Config, path string, seconds int) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Logf("apiserver pprof: %v", err)
		return
	}
	time.Sleep(2 * time.Second)
	resp, err := hc.Get(strings.TrimSuffix(cfg.Host, "/") + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds))
	if err != nil {
		t.Logf("apiserver pprof: %v", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Logf("apiserver pprof: %v", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// writeModes compares, on the same API server, what each way of writing the
// first pass's statuses costs it: for each mode in SCALE_WRITE_MODES
// (jsonpatch, jsonpatch-meta: the same patch with only the metadata asked
// back, merge, update), the statuses of the first count objects are
// cleared and written back whole that way, and the time and API-server CPU per
// write are logged. The manager must be stopped.
func writeModes(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, ns string, count int, qps float32, burst int, apiserverPID int, modes []string) {
	t.Helper()
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]*imagesv1alpha1.ImageConfig, count)
	eachListed(t, cl, ns, func(o *imagesv1alpha1.ImageConfig) {
		var k int
		if _, err := fmt.Sscanf(o.Name, "app-%d", &k); err != nil || k >= count {
			return
		}
		objs[k] = o.DeepCopy()
	})
	lim := limitedClient(t, cfg, scheme, qps, burst)
	for _, mode := range modes {
		patchLoop(t, cfg, scheme, ns, count, qps, burst, types.MergePatchType, func(int) []byte { return []byte(`{"status":null}`) })
		// Fresh resourceVersions for the updates.
		fresh := map[string]string{}
		eachListed(t, cl, ns, func(o *imagesv1alpha1.ImageConfig) { fresh[o.Name] = o.ResourceVersion })
		var failed atomic.Int64
		cpu0, self0 := cpuSeconds(apiserverPID), cpuSeconds(os.Getpid())
		d := inParallel(count, func(i int) {
			o := objs[i].DeepCopy()
			o.ResourceVersion = fresh[o.Name]
			o.ManagedFields = nil
			var err error
			switch mode {
			case "jsonpatch":
				err = lim.Status().Patch(context.Background(), o, client.RawPatch(types.JSONPatchType, managerPatch(o)))
			case "jsonpatch-meta":
				// The same patch, with only the metadata asked back.
				body := managerPatch(o)
				m := &metav1.PartialObjectMetadata{}
				m.SetGroupVersionKind(imagesv1alpha1.GroupVersion.WithKind("ImageConfig"))
				m.Namespace, m.Name = o.Namespace, o.Name
				err = lim.Status().Patch(context.Background(), m, client.RawPatch(types.JSONPatchType, body))
			case "merge":
				body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": o.ResourceVersion}, "status": o.Status})
				err = lim.Status().Patch(context.Background(), o, client.RawPatch(types.MergePatchType, body))
			case "update":
				err = lim.Status().Update(context.Background(), o)
			default:
				t.Errorf("unknown write mode %q", mode)
				return
			}
			if err != nil {
				failed.Add(1)
				t.Logf("%s app-%05d: %v", mode, i, err)
			}
		})
		t.Logf("write mode %s: %d writes in %s, %d failed, CPU per write: API server %.2f ms, this process (the writer and the benchmark's informer) %.2f ms",
			mode, count, d.Round(time.Millisecond), failed.Load(), (cpuSeconds(apiserverPID)-cpu0)*1000/float64(count), (cpuSeconds(os.Getpid())-self0)*1000/float64(count))
	}
}
