package controllers

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// scrape GETs the metrics endpoint and returns every sample as
// `name{label="value",...}` (labels sorted) -> value; histograms give their
// _count and _sum.
func scrape(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: HTTP %d, %v", url, resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := func(suffix string) string {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				sort.Strings(labels)
				return name + suffix + "{" + strings.Join(labels, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key("")] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key("")] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key("_count")] = float64(m.GetHistogram().GetSampleCount())
				out[key("_sum")] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out, string(body)
}

// resolutionsTotal sums imageconfig_resolutions_total over its results.
func resolutionsTotal(t *testing.T, m *Metrics) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	m.resolutions.Collect(ch)
	close(ch)
	var sum float64
	for c := range ch {
		var d dto.Metric
		if err := c.Write(&d); err != nil {
			t.Fatal(err)
		}
		sum += d.GetCounter().GetValue()
	}
	return sum
}

// resolutionsOf returns imageconfig_resolutions_total{result=result}.
func resolutionsOf(t *testing.T, m *Metrics, result string) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.resolutions.WithLabelValues(result).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

// histogramCount returns how many durations imageconfig_resolution_duration_seconds observed.
func histogramCount(t *testing.T, m *Metrics) uint64 {
	t.Helper()
	var d dto.Metric
	if err := m.resolutionDuration.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}

// TestObservability checks what monitoring tools see: the metrics endpoint, the
// rate limit in the status, and kstatus' verdicts. Its subtests share one control
// plane and run one after another: the manager of the first is stopped before the
// others drive the reconciler by hand.
func TestObservability(t *testing.T) {
	env := controlPlane.Get(t)
	t.Run("metrics endpoint", func(t *testing.T) { testMetricsEndpoint(t, env) })
	t.Run("rate limits", func(t *testing.T) { testRateLimits(t, env) })
	t.Run("kstatus", func(t *testing.T) { testKstatus(t, env) })
}

// testMetricsEndpoint runs a manager with its metrics endpoint on loopback and the
// shared finder cmd/manager uses, drives a known sequence of resolutions against a
// registry with Docker Hub's quota headers, and scrapes exact counts, which must
// agree with the registry's log.
func testMetricsEndpoint(t *testing.T, env *testenv.Env) {
	ctx := context.Background()
	g := NewWithT(t)

	ns := newNamespace(t, env.Client)
	addr := testenv.FreeAddr(t)
	m, err := NewMetrics(metrics.Registry)
	g.Expect(err).NotTo(HaveOccurred())
	startManager(t, env, ctrl.Options{Metrics: metricsserver.Options{BindAddress: addr}}, func(mgr ctrl.Manager) error {
		sessions := manifests.NewSessions(time.Minute, 100)
		r := &ImageConfigReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: &recorder{}, AllowInsecureRegistries: true,
			Sessions: sessions, Metrics: m,
			Finder: manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(1 << 20), Sessions: sessions})}
		return r.SetupWithManager(mgr, SetupOptions{})
	}, ns)

	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "demo/hello", "1.0", idx)
	reg.SetFault(testregistry.NewPullQuota(100, 50, 6*time.Hour, "192.0.2.7").Fault())
	get := func(name string) *imagesv1alpha1.ImageConfig {
		o := &imagesv1alpha1.ImageConfig{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o)).To(Succeed())
		return o
	}
	create := func(name, tag string) {
		g.Expect(env.Client.Create(ctx, &imagesv1alpha1.ImageConfig{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       imagesv1alpha1.ImageConfigSpec{Registry: reg.Host(), Repository: "demo/hello", Tag: tag, Insecure: true},
		})).To(Succeed())
	}

	// 1. A first resolution: handshake (HTTPS probe, ping, token), then a tag-window
	// miss, the index's GET, and content misses for the manifest and the config.
	create("hello", "1.0")
	g.Eventually(func() bool { return apimeta.IsStatusConditionTrue(get("hello").Status.Conditions, "Ready") }, 30*time.Second, 50*time.Millisecond).Should(BeTrue())
	// 1b. A second object on the same tag: answered by the tag window and the
	// content cache (index, manifest, config) without a request.
	create("hello2", "1.0")
	g.Eventually(func() bool { return apimeta.IsStatusConditionTrue(get("hello2").Status.Conditions, "Ready") }, 30*time.Second, 50*time.Millisecond).Should(BeTrue())
	// 2. A forced re-check skips the window (a tag miss): one HEAD through the cached session.
	o := get("hello")
	o.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "now"}
	g.Expect(env.Client.Update(ctx, o)).To(Succeed())
	g.Eventually(func() string { return get("hello").Status.LastHandledReconcileAt }, 30*time.Second, 50*time.Millisecond).Should(Equal("now"))
	// 3. A missing tag in the same repository: one GET answered 404, through the session.
	create("missing", "nope")
	g.Eventually(func() bool { return apimeta.IsStatusConditionTrue(get("missing").Status.Conditions, "Stalled") }, 30*time.Second, 50*time.Millisecond).Should(BeTrue())

	got, text := scrape(t, "http://"+addr+"/metrics")
	h := reg.Host()
	want := map[string]float64{
		`imageconfig_registry_requests_total{code="error",host="` + h + `",method="GET"}`:     1, // the HTTPS probe of a plain-HTTP registry
		`imageconfig_registry_requests_total{code="401",host="` + h + `",method="GET"}`:       1,
		`imageconfig_registry_requests_total{code="200",host="` + h + `",method="GET"}`:       4,
		`imageconfig_registry_requests_total{code="200",host="` + h + `",method="HEAD"}`:      1,
		`imageconfig_registry_requests_total{code="404",host="` + h + `",method="GET"}`:       1,
		`imageconfig_registry_request_duration_seconds_count{host="` + h + `",method="GET"}`:  7,
		`imageconfig_registry_request_duration_seconds_count{host="` + h + `",method="HEAD"}`: 1,
		`imageconfig_resolutions_total{result="resolved"}`:                                    2,
		`imageconfig_resolutions_total{result="unchanged"}`:                                   1,
		`imageconfig_resolutions_total{result="NotFound"}`:                                    1,
		`imageconfig_resolution_duration_seconds_count{}`:                                     4,
		`imageconfig_cache_requests_total{cache="sessions",result="miss"}`:                    1,
		`imageconfig_cache_requests_total{cache="sessions",result="hit"}`:                     2,
		`imageconfig_cache_requests_total{cache="tags",result="miss"}`:                        3, // first resolution, forced re-check, missing tag
		`imageconfig_cache_requests_total{cache="tags",result="hit"}`:                         1, // the second object
		`imageconfig_cache_requests_total{cache="content",result="miss"}`:                     2, // manifest and config of the first
		`imageconfig_cache_requests_total{cache="content",result="hit"}`:                      3, // index, manifest and config of the second
		`imageconfig_registry_ratelimit_limit{host="` + h + `"}`:                              100,
		`imageconfig_registry_ratelimit_remaining{host="` + h + `"}`:                          47, // two GETs, then the 404's GET; the HEAD is free
	}
	// Nothing else of ours, and no label beyond host, method, code, result, cache.
	ours := map[string]float64{}
	for k, v := range got {
		if strings.HasPrefix(k, "imageconfig_") && !strings.Contains(k, "_sum{") {
			ours[k] = v
		}
	}
	if diff := cmp.Diff(want, ours); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	// The registry logged every request but the HTTPS probe, which it cannot read.
	var sent float64
	for k, v := range got {
		if strings.HasPrefix(k, "imageconfig_registry_requests_total{") && !strings.Contains(k, `code="error"`) {
			sent += v
		}
	}
	if int(sent) != len(reg.Log().Requests()) {
		t.Errorf("metrics count %v requests, the registry logged %d:\n%s", sent, len(reg.Log().Requests()), reg.Log())
	}
	// controller-runtime's own metrics are still served.
	if got[`controller_runtime_reconcile_total{controller="imageconfig",result="requeue_after"}`] < 4 {
		t.Errorf("controller-runtime's reconcile counter is missing or low:\n%s", text)
	}
	for _, k := range slices.Sorted(maps.Keys(ours)) {
		t.Logf("%s %v", k, ours[k])
	}
}
