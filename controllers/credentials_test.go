package controllers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"encoding/hex"
	"io"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	ggcrlogs "github.com/google/go-containerregistry/pkg/logs"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/refregistry"
)

const (
	alicePassword = "alice-pw-Zq81sJ"
	wrongPassword = "wrong-pw-Kx02pL"
)

func dockerConfigJSON(host, user, pass string) []byte {
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}}})
	return b
}

func dockerCfg(host, user, pass string) []byte {
	b, _ := json.Marshal(map[string]any{host: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}})
	return b
}

// requeueWant is the RequeueAfter a test expects: a success waits for the
// object's interval, stretched by its jitter.
func requeueWant(interval time.Duration, obj *imagesv1alpha1.ImageConfig) time.Duration {
	if interval == time.Hour && ready(obj) != nil && ready(obj).Status == metav1.ConditionTrue {
		return recheckInterval(obj)
	}
	return interval
}

// credHarness is a namespace with Secrets and a reconciler, against the reference registry.
type credHarness struct {
	t   *testing.T
	c   client.Client
	r   *ImageConfigReconciler
	rec *recorder
	ns  string
}

func (h *credHarness) secret(name string, typ corev1.SecretType, data map[string][]byte) {
	h.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, Type: typ, Data: data}
	if err := h.c.Create(context.Background(), s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *credHarness) resolve(ctx context.Context, name string, spec imagesv1alpha1.ImageConfigSpec) (ctrl.Result, error, *imagesv1alpha1.ImageConfig) {
	h.t.Helper()
	obj := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: h.ns}, Spec: spec}
	if err := h.c.Create(ctx, obj); err != nil {
		h.t.Fatalf("create: %v", err)
	}
	return h.reconcile(ctx, obj)
}

func (h *credHarness) reconcile(ctx context.Context, obj *imagesv1alpha1.ImageConfig) (ctrl.Result, error, *imagesv1alpha1.ImageConfig) {
	h.t.Helper()
	res, err := h.r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	got := &imagesv1alpha1.ImageConfig{}
	if gerr := h.c.Get(ctx, client.ObjectKeyFromObject(obj), got); gerr != nil {
		h.t.Fatal(gerr)
	}
	return res, err, got
}

// TestCredentials runs the credential matrix against the CNCF reference registry:
// Docker-Hub-style token auth over TLS, htpasswd over TLS with mutual TLS.
func TestCredentials(t *testing.T) {
	env := controlPlane.Get(t)
	tokenReg := refregistry.Start(t, refregistry.Options{Mode: refregistry.TokenAuth, TLS: true, Users: map[string]string{"alice": alicePassword}})
	idx, _ := testregistry.MultiArch(t)
	tokenReg.Push(t, "public/app", "1", idx)
	tokenReg.Push(t, "private/app", "1", idx)
	mtlsReg := refregistry.Start(t, refregistry.Options{Mode: refregistry.HtpasswdTLS, RequireClientCert: true, Users: map[string]string{"alice": alicePassword}})
	mtlsReg.Push(t, "private/app", "1", idx)
	clientCert, clientKey := mtlsReg.ClientCertPEM()
	plainReg := refregistry.Start(t, refregistry.Options{Mode: refregistry.PlainHTTP})
	plainReg.Push(t, "public/app", "1", idx)

	// Logs of every reconcile, at the highest verbosity, for the secrecy check below:
	// the reconcile's context logger, controller-runtime's and klog's global loggers,
	// and go-containerregistry's debug and warning logs.
	logs := &syncBuffer{}
	logger := funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 10})
	ctx := logr.NewContext(context.Background(), logger)
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	t.Cleanup(klog.ClearLogger)
	ggcrlogs.Debug.SetOutput(logs)
	ggcrlogs.Warn.SetOutput(logs)
	t.Cleanup(func() { ggcrlogs.Debug.SetOutput(io.Discard); ggcrlogs.Warn.SetOutput(io.Discard) })

	h := &credHarness{t: t, c: env.Client, rec: &recorder{}, ns: newNamespace(t, env.Client)}
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	h.r = &ImageConfigReconciler{Client: env.Client, APIReader: env.Client, Recorder: h.rec, Finder: RegistryFinder, AllowInsecureRegistries: true, Metrics: metrics}
	host := tokenReg.Host()
	h.secret("ca", corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": tokenReg.CAPEM()})
	h.secret("mtls", corev1.SecretTypeTLS, map[string][]byte{"ca.crt": mtlsReg.CAPEM(), "tls.crt": clientCert, "tls.key": clientKey})
	h.secret("pull-json", corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": dockerConfigJSON(host, "alice", alicePassword)})
	h.secret("pull-cfg", corev1.SecretTypeDockercfg, map[string][]byte{".dockercfg": dockerCfg(host, "alice", alicePassword)})
	h.secret("pull-basic", corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte("alice"), "password": []byte(alicePassword)})
	h.secret("pull-wrong", corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": dockerConfigJSON(host, "alice", wrongPassword)})
	h.secret("other-registry", corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": dockerConfigJSON("ghcr.io", "bob", "bob-pw")})
	h.secret("opaque", corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("x")})
	h.secret("no-key", corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte("alice")})
	h.secret("bad-json", corev1.SecretTypeDockerConfigJson, map[string][]byte{".dockerconfigjson": []byte(`{"auths": {"` + host + `": {"auth": "` + alicePassword + `"}}}`)})
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Name: "puller", Namespace: h.ns},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "other-registry"}, {Name: "pull-json"}},
	}); err != nil {
		t.Fatal(err)
	}

	ref := func(name string) *imagesv1alpha1.LocalObjectReference {
		return &imagesv1alpha1.LocalObjectReference{Name: name}
	}
	spec := func(repo string, mutate func(*imagesv1alpha1.ImageConfigSpec)) imagesv1alpha1.ImageConfigSpec {
		s := imagesv1alpha1.ImageConfigSpec{Registry: host, Repository: repo, Tag: "1", CertSecretRef: ref("ca")}
		if mutate != nil {
			mutate(&s)
		}
		return s
	}
	tests := []struct {
		name             string
		spec             imagesv1alpha1.ImageConfigSpec
		wantReason       string // "Resolved" for Ready
		wantAuthSource   string
		wantMsg          []string
		wantRequeueAfter time.Duration
	}{
		{"anonymous public pull through the token flow", spec("public/app", nil), "Resolved", "anonymous", nil, time.Hour},
		{"private pull with a dockerconfigjson Secret", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("pull-json") }), "Resolved", "secret/pull-json", nil, time.Hour},
		{"private pull with a dockercfg Secret", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("pull-cfg") }), "Resolved", "secret/pull-cfg", nil, time.Hour},
		{"private pull with a basic-auth Secret", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("pull-basic") }), "Resolved", "secret/pull-basic", nil, time.Hour},
		{"private pull through ServiceAccount pull secrets", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.ServiceAccountName = "puller" }), "Resolved", "serviceAccount/puller", nil, time.Hour},
		{"secretRef for another registry falls through to the ServiceAccount", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) {
			s.SecretRef, s.ServiceAccountName = ref("other-registry"), "puller"
		}), "Resolved", "serviceAccount/puller", nil, time.Hour},
		{"wrong password", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("pull-wrong") }), "Unauthorized", "", []string{host}, 30 * time.Second},
		{"private repository without credentials", spec("private/app", nil), "Unauthorized", "", []string{host, "private/app"}, 30 * time.Second},
		{"TLS registry with no CA given", spec("public/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.CertSecretRef = nil }), "Unavailable", "", []string{host, "certificate"}, 0},
		{"TLS registry with a client certificate", imagesv1alpha1.ImageConfigSpec{Registry: mtlsReg.Host(), Repository: "private/app", Tag: "1", CertSecretRef: ref("mtls"), SecretRef: ref("pull-basic")}, "Resolved", "secret/pull-basic", nil, time.Hour},
		{"plain-HTTP registry with insecure", imagesv1alpha1.ImageConfigSpec{Registry: plainReg.Host(), Repository: "public/app", Tag: "1", Insecure: true}, "Resolved", "anonymous", nil, time.Hour},
		{"plain-HTTP registry without insecure", imagesv1alpha1.ImageConfigSpec{Registry: plainReg.Host(), Repository: "public/app", Tag: "1"}, "Unsupported", "", []string{plainReg.Host(), "plain HTTP", "insecure"}, time.Hour},
		{"missing Secret", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("nope") }), "SecretNotFound", "", []string{`Secret "nope"`, "spec.secretRef", h.ns}, 30 * time.Second},
		{"missing cert Secret", spec("public/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.CertSecretRef = ref("nope") }), "SecretNotFound", "", []string{`Secret "nope"`, "spec.certSecretRef"}, 30 * time.Second},
		{"missing ServiceAccount", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.ServiceAccountName = "nobody" }), "ServiceAccountNotFound", "", []string{`ServiceAccount "nobody"`}, 30 * time.Second},
		{"Secret of another type", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("opaque") }), "InvalidSecret", "", []string{`Secret "opaque"`, `type "Opaque"`}, 30 * time.Second},
		{"Secret without its key", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("no-key") }), "InvalidSecret", "", []string{`Secret "no-key"`, "password"}, 30 * time.Second},
		{"Secret with a malformed auth", spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("bad-json") }), "InvalidSecret", "", []string{`Secret "bad-json"`, "base64"}, 30 * time.Second},
		{"CA Secret without TLS keys", spec("public/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.CertSecretRef = ref("opaque") }), "InvalidSecret", "", []string{`Secret "opaque"`, "ca.crt"}, 30 * time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokenReg.Log().Reset()
			result := tt.wantReason
			if result == "Resolved" {
				result = "resolved"
			}
			// Credential failures are refused before the finder runs: counted, with no duration.
			refused := result == "SecretNotFound" || result == "ServiceAccountNotFound" || result == "InvalidSecret"
			countBefore, totalBefore, histBefore := resolutionsOf(t, metrics, result), resolutionsTotal(t, metrics), histogramCount(t, metrics)
			res, err, got := h.resolve(ctx, fmt.Sprintf("case-%02d", i), tt.spec)
			if n := resolutionsOf(t, metrics, result) - countBefore; n != 1 {
				t.Errorf("imageconfig_resolutions_total{result=%q} grew by %v, want 1", result, n)
			}
			if n := resolutionsTotal(t, metrics) - totalBefore; n != 1 {
				t.Errorf("imageconfig_resolutions_total grew by %v in all, want 1", n)
			}
			if n, want := histogramCount(t, metrics)-histBefore, map[bool]uint64{true: 0, false: 1}[refused]; n != want {
				t.Errorf("imageconfig_resolution_duration_seconds counted %d, want %d (refused before the finder: %v)", n, want, refused)
			}
			c := ready(got)
			if c == nil {
				t.Fatalf("no Ready condition; err=%v", err)
			}
			if c.Reason != tt.wantReason {
				t.Fatalf("Ready = %s/%s: %s; want reason %s", c.Status, c.Reason, c.Message, tt.wantReason)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(c.Message, m) {
					t.Errorf("message %q does not name %q", c.Message, m)
				}
			}
			if tt.wantReason == "Resolved" {
				if got.Status.AuthSource != tt.wantAuthSource || got.Status.Digest == "" {
					t.Errorf("authSource = %q (want %q), digest = %q", got.Status.AuthSource, tt.wantAuthSource, got.Status.Digest)
				}
			}
			if tt.wantReason == "Unavailable" {
				if err == nil {
					t.Errorf("a transient error must be returned so the controller backs off")
				}
			} else if want := requeueWant(tt.wantRequeueAfter, got); err != nil || res.RequeueAfter != want {
				t.Errorf("err = %v, RequeueAfter = %s; want nil and %s", err, res.RequeueAfter, want)
			}
			if tt.wantReason == "Unauthorized" {
				if !apimeta.IsStatusConditionTrue(got.Status.Conditions, "Stalled") {
					t.Errorf("Unauthorized is not Stalled: %s", conditionSummary(got))
				}
				// No retry storm. One attempt is at most: a ping, a token request, a GET
				// answered 401, go-containerregistry's single token refresh and the GET
				// again. Wrong passwords stop at the token request.
				if n := len(tokenReg.Log().Requests()); n > 5 {
					t.Errorf("%d requests for one attempt with wrong credentials:\n%s", n, tokenReg.Log())
				}
			}
		})
	}

	t.Run("credential failures back off 30s, doubling to 5m", func(t *testing.T) {
		spec := spec("private/app", func(s *imagesv1alpha1.ImageConfigSpec) { s.SecretRef = ref("pull-wrong") })
		obj := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: "backoff", Namespace: h.ns}, Spec: spec}
		if err := h.c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		var got []time.Duration
		for range 6 {
			res, _, _ := h.reconcile(ctx, obj)
			got = append(got, res.RequeueAfter)
		}
		want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("requeues (-want +got):\n%s", diff)
		}

		// The Secret is fixed; the forced re-check picks it up at once.
		fixed := &corev1.Secret{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: h.ns, Name: "pull-wrong"}, fixed); err != nil {
			t.Fatal(err)
		}
		fixed.Data[".dockerconfigjson"] = dockerConfigJSON(host, "alice", alicePassword)
		if err := h.c.Update(ctx, fixed); err != nil {
			t.Fatal(err)
		}
		cur := &imagesv1alpha1.ImageConfig{}
		_ = h.c.Get(ctx, client.ObjectKeyFromObject(obj), cur)
		cur.Annotations = map[string]string{imagesv1alpha1.ReconcileRequestAnnotation: "fixed"}
		if err := h.c.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		res, err, after := h.reconcile(ctx, obj)
		if c := ready(after); err != nil || c == nil || c.Status != metav1.ConditionTrue || res.RequeueAfter != recheckInterval(after) {
			t.Fatalf("after the fix: err=%v requeue=%s %s", err, res.RequeueAfter, conditionSummary(after))
		}
		// A later failure starts the backoff again at 30s.
		fixed.Data[".dockerconfigjson"] = dockerConfigJSON(host, "alice", wrongPassword)
		if err := h.c.Update(ctx, fixed); err != nil {
			t.Fatal(err)
		}
		_ = h.c.Get(ctx, client.ObjectKeyFromObject(obj), cur)
		cur.Annotations[imagesv1alpha1.ReconcileRequestAnnotation] = "broken"
		if err := h.c.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		if res, _, _ := h.reconcile(ctx, obj); res.RequeueAfter != 30*time.Second {
			t.Errorf("backoff after a success restarted at %s, want 30s", res.RequeueAfter)
		}
	})

	// Nothing above may have leaked a credential into logs, events, conditions or status.
	t.Run("secrecy", func(t *testing.T) {
		list := &imagesv1alpha1.ImageConfigList{}
		if err := h.c.List(ctx, list, client.InNamespace(h.ns)); err != nil {
			t.Fatal(err)
		}
		statuses, _ := json.Marshal(list)
		events, _ := json.Marshal(h.rec.events)
		secrets := []string{alicePassword, wrongPassword,
			base64.StdEncoding.EncodeToString([]byte("alice:" + alicePassword)),
			base64.StdEncoding.EncodeToString([]byte("alice:" + wrongPassword))}
		secrets = append(secrets, tokenReg.Tokens()...)
		if len(tokenReg.Tokens()) == 0 {
			t.Fatal("the token issuer issued no token; the check would prove nothing")
		}
		if logs.Len() == 0 {
			t.Fatal("nothing was logged; the check would prove nothing")
		}
		for where, text := range map[string]string{"logs": logs.String(), "events": string(events), "status": string(statuses)} {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("a credential (%.6s…) appears in the %s", s, where)
				}
			}
			// Hex dumps of request and response bodies: two halves of each password, so
			// that a 16-byte line break cannot hide both.
			squashed := strings.NewReplacer(" ", "", "\n", "", "|", "").Replace(text)
			for _, pw := range []string{alicePassword, wrongPassword} {
				for _, half := range []string{pw[:6], pw[len(pw)-6:]} {
					if strings.Contains(squashed, hex.EncodeToString([]byte(half))) {
						t.Errorf("a password appears hex-dumped in the %s", where)
					}
				}
			}
			for _, s := range []string{"Authorization", "Bearer "} {
				if strings.Contains(text, s) {
					t.Errorf("%q appears in the %s", s, where)
				}
			}
		}
		if os.Getenv("SECRECY_TEST_DUMP") != "" {
			t.Logf("logs:\n%s", logs.String())
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the concurrent writers of logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// TestRoleGrantsOnlyGetOnSecrets reads the generated role: the manager may get
// Secrets and ServiceAccounts by name, and never list or watch them.
func TestRoleGrantsOnlyGetOnSecrets(t *testing.T) {
	b, err := os.ReadFile(testenv.RepoRoot() + "/config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role struct {
		Rules []struct {
			APIGroups []string `json:"apiGroups"`
			Resources []string `json:"resources"`
			Verbs     []string `json:"verbs"`
		} `json:"rules"`
	}
	if err := yaml.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			if res == "secrets" || res == "serviceaccounts" {
				seen[res] = true
				if diff := cmp.Diff([]string{"get"}, r.Verbs); diff != "" {
					t.Errorf("%s: verbs, want only get (-want +got):\n%s", res, diff)
				}
			}
		}
	}
	if !seen["secrets"] || !seen["serviceaccounts"] {
		t.Errorf("role.yaml grants nothing on secrets or serviceaccounts: %s", b)
	}
}
