package controllers

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/faultproxy"
)

// fastFinder resolves with millisecond in-attempt retries, so that rows which go
// through go-containerregistry's three tries stay fast.
var fastFinder = FinderFunc(func(ctx context.Context, o manifests.Options) (*manifests.Result, error) {
	o.Network.RetryBackoff = &transport.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}
	return manifests.Resolve(ctx, o)
})

// fastSharedFinder returns the shared finder the manager runs (manifests.NewShared
// with a content cache), with fastFinder's millisecond in-attempt retries.
func fastSharedFinder() Finder {
	s := manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(64 << 20)})
	return FinderFunc(func(ctx context.Context, o manifests.Options) (*manifests.Result, error) {
		o.Network.RetryBackoff = &transport.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}
		return s.Resolve(ctx, o)
	})
}

// Request paths of a fault row's repository "faults/N", once its tag moved to an index.
const (
	tagPath      = "/v2/faults/*/manifests/v1"
	byDigestPath = "/v2/faults/*/manifests/sha256:*"
	blobPath     = "/v2/faults/*/blobs/sha256:*"
)

// testFaults runs one row per registry fault through the reconciler. Every row
// first resolves its object, then moves the tag to a new index, so that the
// faulted re-check must GET again, and checks: the reason and kstatus condition;
// how the object is retried; the exact number of requests the fault answered and
// the maximum of all requests in the attempt; that the digests resolved before
// survive; for the size bounds, how many body bytes were written before the read stopped.
func testFaults(t *testing.T, env *testenv.Env) {
	reg := testregistry.New(t, testregistry.Options{TokenAuth: true})
	ns := newNamespace(t, env.Client)
	sink := faultproxy.NewSink(t, "127.0.0.1:0")
	toSink := faultproxy.Redirect(func(r *http.Request) string { return "http://localhost:" + sink.Port() + r.URL.Path })
	toPlainHTTP := faultproxy.Redirect(func(r *http.Request) string { return "http://" + sink.Addr() + r.URL.Path })
	// The fronts listen on 127.0.0.2; the policy denies 127.0.0.1, where the sink is.
	denyLoopback, err := netpolicy.Parse("", netpolicy.DefaultDeniedNetworks+",127.0.0.1/32,::1/128")
	if err != nil {
		t.Fatal(err)
	}
	onlyElsewhere, _ := netpolicy.Parse("registry.example.com", "")
	const second, interval = time.Second, time.Hour
	dockerHubLimit := http.Header{"Ratelimit-Limit": {"100;w=21600"}, "Ratelimit-Remaining": {"0;w=21600"}, "Docker-Ratelimit-Source": {"192.0.2.1"}}

	// Handshake (ping and token) and HEAD: three requests before the first GET.
	const pre = 3
	// socketBuffers is what loopback's socket buffers take in beyond what the client
	// read (measured: up to 5.6 MiB); a body of 64 MiB shows the read stopped at its bound.
	const socketBuffers = 8 << 20
	tests := []struct {
		name  string
		rules []faultproxy.Rule
		// tls serves the front over HTTPS on 127.0.0.1, without the network policy.
		tls     bool
		policy  *netpolicy.Policy
		timeout time.Duration
		// reason is the Ready reason; "Resolved" means the fault was survived.
		reason string
		// retry: "backoff" (an error for the controller's backoff), "interval"
		// (Stalled, requeued at the interval), or a RequeueAfter.
		retry string
		// faulted is how many requests the fault answered; max bounds all requests.
		faulted, max int
		// maxBody bounds the body bytes written by the faulted requests, when set.
		maxBody int64
		msg     string
		// check, when set, checks the status further.
		check func(*imagesv1alpha1.ImageConfigStatus) bool
	}{
		{name: "500", rules: rule(http.MethodGet, tagPath, faultproxy.Status(500, "", nil)), reason: "Unavailable", retry: "backoff", faulted: 3, max: pre + 3, msg: "HTTP 500"},
		{name: "502", rules: rule(http.MethodGet, byDigestPath, faultproxy.Status(502, "", nil)), reason: "Unavailable", retry: "backoff", faulted: 3, max: pre + 4, msg: "HTTP 502"},
		{name: "503 on the config", rules: rule(http.MethodGet, blobPath, faultproxy.Status(503, "", nil)), reason: "Unavailable", retry: "backoff", faulted: 3, max: pre + 5, msg: "HTTP 503"},
		{name: "429 with Retry-After", rules: rule(http.MethodGet, tagPath, faultproxy.Status(429, "", http.Header{"Retry-After": {"7"}})), reason: "RateLimited", retry: "7s", faulted: 3, max: pre + 3, msg: "retry after 7s"},
		{name: "429 with a Retry-After over the interval", rules: rule(http.MethodGet, tagPath, faultproxy.Status(429, "", http.Header{"Retry-After": {"7200"}})), reason: "RateLimited", retry: "1h0m0s", faulted: 3, max: pre + 3},
		{name: "429 Docker Hub style, without Retry-After", rules: rule(http.MethodGet, tagPath, faultproxy.Status(429, "TOOMANYREQUESTS", dockerHubLimit)), reason: "RateLimited", retry: "backoff", faulted: 3, max: pre + 3, msg: "TOOMANYREQUESTS",
			check: func(st *imagesv1alpha1.ImageConfigStatus) bool {
				return st.RateLimit != nil && st.RateLimit.Limit == 100 && st.RateLimit.Remaining == 0
			}},
		{name: "a body that hangs", rules: rule(http.MethodGet, tagPath, faultproxy.Hang()), timeout: second, reason: "Unavailable", retry: "backoff", faulted: 1, max: pre + 1, msg: "timed out after 1s"},
		{name: "a body that trickles 1 byte/s", rules: rule(http.MethodGet, blobPath, faultproxy.Trickle(time.Second)), timeout: second, reason: "Unavailable", retry: "backoff", faulted: 1, max: pre + 3, maxBody: 2, msg: "timed out after 1s"},
		{name: "a reset mid-body", rules: rule(http.MethodGet, tagPath, faultproxy.ResetAfter(20)), reason: "Unavailable", retry: "backoff", faulted: 1, max: pre + 1},
		// Four: net/http retries a request once when a reused keep-alive connection is
		// reset before any response, then go-containerregistry tries twice more.
		{name: "a reset before the response", rules: rule(http.MethodGet, byDigestPath, faultproxy.ResetAfter(-1)), reason: "Unavailable", retry: "backoff", faulted: 4, max: pre + 5},
		{name: "truncated JSON", rules: rule(http.MethodGet, tagPath, faultproxy.Modify(func(r *faultproxy.Response) { r.Body = r.Body[:len(r.Body)/2] })), reason: "InvalidManifest", retry: "interval", faulted: 1, max: pre + 1, msg: "not valid JSON"},
		{name: "a body that is not JSON", rules: rule(http.MethodGet, tagPath, faultproxy.Modify(func(r *faultproxy.Response) { r.Body = []byte("<html>502 Bad Gateway</html>") })), reason: "InvalidManifest", retry: "interval", faulted: 1, max: pre + 1},
		{name: "a wrong Content-Type", rules: rule(http.MethodGet, tagPath, faultproxy.Modify(func(r *faultproxy.Response) {
			r.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		})), reason: "InvalidManifest", retry: "interval", faulted: 1, max: pre + 1, msg: "disagrees with the body"},
		{name: "a manifest that does not hash to its digest", rules: rule(http.MethodGet, byDigestPath, faultproxy.Modify(func(r *faultproxy.Response) { r.Body = append(r.Body, ' ') })), reason: "DigestMismatch", retry: "interval", faulted: 1, max: pre + 2},
		{name: "a config that does not hash to its digest", rules: rule(http.MethodGet, blobPath, faultproxy.Modify(func(r *faultproxy.Response) { r.Body = bytes.Replace(r.Body, []byte("arm"), []byte("ARM"), 1) })), reason: "DigestMismatch", retry: "interval", faulted: 1, max: pre + 3, msg: "hashes to"},
		{name: "a config longer than declared", rules: rule(http.MethodGet, blobPath, faultproxy.Modify(func(r *faultproxy.Response) { r.Body = append(r.Body, ' ') })), reason: "DigestMismatch", retry: "interval", faulted: 1, max: pre + 3, msg: "but the manifest declares"},
		// The index's entries declare one byte more than their manifests; the
		// manifests themselves are unchanged and hash to their digests.
		{name: "a manifest of another size than its index entry declares", rules: rule(http.MethodGet, tagPath, faultproxy.Modify(func(r *faultproxy.Response) {
			r.Body = bytes.ReplaceAll(r.Body, []byte(`"size":`), []byte(`"size":1`))
		})), reason: "DigestMismatch", retry: "interval", faulted: 1, max: pre + 2, msg: "bytes, but the index declares 1"},
		{name: "a manifest over 4 MiB, declared", rules: rule(http.MethodGet, tagPath, faultproxy.Large(64<<20, true, "application/vnd.oci.image.index.v1+json")), reason: "TooLarge", retry: "interval", faulted: 1, max: pre + 1, maxBody: 8 << 20},
		{name: "a manifest over 4 MiB, undeclared", rules: rule(http.MethodGet, tagPath, faultproxy.Large(64<<20, false, "application/vnd.oci.image.index.v1+json")), reason: "TooLarge", retry: "interval", faulted: 1, max: pre + 1, maxBody: 4<<20 + socketBuffers, msg: "4194304-byte limit"},
		{name: "a config over 8 MiB, declared", rules: rule(http.MethodGet, blobPath, faultproxy.Large(64<<20, true, "application/octet-stream")), reason: "TooLarge", retry: "interval", faulted: 1, max: pre + 3, maxBody: 8 << 20},
		{name: "a config over 8 MiB, undeclared", rules: rule(http.MethodGet, blobPath, faultproxy.Large(64<<20, false, "application/octet-stream")), reason: "TooLarge", retry: "interval", faulted: 1, max: pre + 3, maxBody: 8<<20 + socketBuffers, msg: "8388608-byte limit"},
		{name: "HEAD answers 405", rules: rule(http.MethodHead, tagPath, faultproxy.Status(405, "UNSUPPORTED", nil)), reason: "Resolved", faulted: 1, max: pre + 3},
		{name: "HEAD without Docker-Content-Digest", rules: rule(http.MethodHead, tagPath, faultproxy.Modify(func(r *faultproxy.Response) { r.Header.Del("Docker-Content-Digest") })), reason: "Resolved", faulted: 1, max: pre + 3},
		{name: "a redirect to plain HTTP", tls: true, rules: rule(http.MethodGet, blobPath, toPlainHTTP), reason: "Unsupported", retry: "interval", faulted: 1, max: pre + 3, msg: "refusing plain HTTP"},
		{name: "a redirect to a denied address", rules: rule(http.MethodGet, blobPath, toSink), reason: "RegistryNotAllowed", retry: "interval", faulted: 1, max: pre + 3, msg: "which --denied-networks denies"},
		{name: "a registry outside --allowed-registries", policy: onlyElsewhere, reason: "RegistryNotAllowed", retry: "interval", max: 0, msg: "is not in --allowed-registries"},
		{name: "a token endpoint that hangs", rules: rule("", "/token", faultproxy.Hang()), timeout: second, reason: "Unavailable", retry: "backoff", faulted: 1, max: 2, msg: "timed out"},
		{name: "a token endpoint that answers 500", rules: rule("", "/token", faultproxy.Status(500, "", nil)), reason: "Unavailable", retry: "backoff", faulted: 3, max: 4},
		{name: "a token for the wrong scope", rules: rule("", "/token", faultproxy.Modify(func(r *faultproxy.Response) {
			r.Body = []byte(`{"token":"for-another-repository","expires_in":300}`)
		})), reason: "Unauthorized", retry: "30s", faulted: 2, max: 6, msg: "refused access"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repo := fmt.Sprintf("faults/%d", i)
			first := testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm", Variant: "v7", Layers: []string{"first " + repo}})
			reg.PushImage(t, repo, "v1", first)
			addr := "127.0.0.2:0"
			if tt.tls {
				addr = "127.0.0.1:0"
			}
			front := faultproxy.New(t, reg.URL(), faultproxy.Options{Addr: addr, TLS: tt.tls})
			r := &ImageConfigReconciler{Client: env.Client, Recorder: &recorder{}, AllowInsecureRegistries: true, Finder: fastFinder,
				Transport: front.Transport(), Network: denyLoopback}
			if tt.tls {
				r.Network = nil
			}
			obj := &imagesv1alpha1.ImageConfig{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fault-%d", i), Namespace: ns},
				Spec: imagesv1alpha1.ImageConfigSpec{Registry: front.Host(), Repository: repo, Tag: "v1", Insecure: !tt.tls,
					Platform: imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "arm", Variant: "v7"}},
			}
			if tt.timeout > 0 {
				obj.Spec.Timeout = &metav1.Duration{Duration: tt.timeout}
			}
			if err := env.Client.Create(context.Background(), obj); err != nil {
				t.Fatal(err)
			}
			reconcile := func() (ctrl.Result, error, *imagesv1alpha1.ImageConfig) {
				res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
				got := &imagesv1alpha1.ImageConfig{}
				if gerr := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), got); gerr != nil {
					t.Fatal(gerr)
				}
				return res, err, got
			}
			if _, err, _ := reconcile(); err != nil {
				t.Fatalf("first resolution: %v", err)
			}
			_, _, before := reconcile()
			if before.Status.Digest == "" {
				t.Fatalf("first resolution failed: %s", conditionSummary(before))
			}

			// The tag moves to an index, and the fault is switched on.
			moved := testregistry.Index(t, "",
				testregistry.IndexEntry{Image: testregistry.Image(t, testregistry.ImageSpec{Architecture: "arm", Variant: "v7", Layers: []string{"moved " + repo}})},
				testregistry.IndexEntry{Image: testregistry.Image(t, testregistry.ImageSpec{Layers: []string{"moved amd64 " + repo}})})
			movedDigest := reg.PushIndex(t, repo, "v1", moved).String()
			if tt.policy != nil {
				r.Network = tt.policy
			}
			front.SetRules(tt.rules...)
			front.Reset()
			cur := &imagesv1alpha1.ImageConfig{}
			_ = env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), cur)
			cur.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "fault"}
			if err := env.Client.Update(context.Background(), cur); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err, got := reconcile()
			elapsed := time.Since(start)

			c := ready(got)
			if c == nil || c.Reason != tt.reason {
				t.Fatalf("Ready = %+v, want reason %s\nrequests:\n%s", c, tt.reason, front)
			}
			if !strings.Contains(c.Message, tt.msg) || strings.ContainsAny(c.Message, "\n\r") || len(c.Message) > manifests.MaxMessageLength {
				t.Errorf("message %q: want one line of at most %d bytes containing %q", c.Message, manifests.MaxMessageLength, tt.msg)
			}
			faulted := front.Count(func(r faultproxy.Request) bool { return r.Fault != "" })
			all := len(front.Requests())
			if faulted != tt.faulted || all > tt.max {
				t.Errorf("%d requests met the fault and %d were sent in the attempt, want %d and at most %d:\n%s", faulted, all, tt.faulted, tt.max, front)
			}
			if tt.maxBody > 0 {
				for _, q := range front.Requests() {
					if q.Fault != "" && q.BodyBytes > tt.maxBody {
						t.Errorf("%d body bytes were written to the client before it stopped reading, want at most %d", q.BodyBytes, tt.maxBody)
					}
				}
			}
			if sink.Accepted() != 0 {
				t.Errorf("the sink accepted %d connections", sink.Accepted())
			}
			if tt.timeout > 0 && elapsed > tt.timeout+2*time.Second {
				t.Errorf("the attempt took %s, over spec.timeout %s", elapsed, tt.timeout)
			}

			if tt.reason == "Resolved" {
				if got.Status.Digest != movedDigest || err != nil {
					t.Errorf("digest = %s, err = %v, want the moved %s", got.Status.Digest, err, movedDigest)
				}
				return
			}
			switch stalled := apimeta.IsStatusConditionTrue(got.Status.Conditions, imagesv1alpha1.StalledCondition); tt.retry {
			case "backoff":
				if err == nil || stalled || !apimeta.IsStatusConditionTrue(got.Status.Conditions, imagesv1alpha1.ReconcilingCondition) {
					t.Errorf("err = %v, %s: want an error for the backoff and Reconciling=True", err, conditionSummary(got))
				}
			case "interval":
				if err != nil || !stalled || res.RequeueAfter != interval {
					t.Errorf("err = %v, RequeueAfter = %s, stalled = %t: want Stalled, requeued at the interval", err, res.RequeueAfter, stalled)
				}
			default:
				if err != nil || res.RequeueAfter.String() != tt.retry {
					t.Errorf("err = %v, RequeueAfter = %s, want %s", err, res.RequeueAfter, tt.retry)
				}
			}
			if tt.check != nil && !tt.check(&got.Status) {
				t.Errorf("status check failed: %+v", got.Status)
			}
			// What was resolved survives; a 429's quota is new.
			if diff := cmp.Diff(resolvedStatus(before.Status), resolvedStatus(got.Status), cmpopts.IgnoreFields(imagesv1alpha1.ImageConfigStatus{}, "RateLimit")); diff != "" {
				t.Errorf("the resolved status did not survive (-before +after):\n%s", diff)
			}
		})
	}
}

func rule(method, path string, f faultproxy.Fault) []faultproxy.Rule {
	return []faultproxy.Rule{{Name: "fault", Method: method, Path: path, Fault: f}}
}
