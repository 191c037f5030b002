package controllers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth/cloudfake"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// basicAuth puts the test registry behind HTTP Basic authentication that only the
// credentials valid answers, as a cloud registry takes the exchanged credentials.
func basicAuth(reg http.Handler, valid func(user, pass string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || !valid(u, p) {
			w.Header().Set("WWW-Authenticate", `Basic realm="cloud registry"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	})
}

// providerCase is one cloud: its fakes, a registry behind its host name, and
// what the service account and the controller's environment need.
type providerCase struct {
	provider    cloudauth.Provider
	registry    string
	annotations map[string]string
	env         map[string]string
	wantSource  func(ns string) string
}

// setUpProvider starts the fakes of p and a test registry holding demo/hello:1.0
// behind the provider's registry host, and trusts the service account ns/puller
// and the controller's own identity (imageconfig-system/controller-manager).
func setUpProvider(t *testing.T, cloud *cloudfake.Cloud, p cloudauth.Provider, ns string) (providerCase, string) {
	reg := testregistry.New(t, testregistry.Options{})
	idx, _ := testregistry.MultiArch(t)
	digest := reg.PushIndex(t, "demo/hello", "1.0", idx).String()
	const tokenFile = "/var/run/secrets/tokens/token"
	switch p {
	case cloudauth.AWS:
		const role = "arn:aws:iam::123456789012:role/puller"
		aws := cloudfake.NewAWS(cloud, wallClock{}, "eu-west-1")
		aws.Trust(role, ns, "puller")
		aws.Trust("arn:aws:iam::123456789012:role/controller", "imageconfig-system", "controller-manager")
		host := "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
		cloud.Handle(host, basicAuth(reg, aws.ValidPassword))
		return providerCase{p, host, map[string]string{cloudauth.AWSRoleARNAnnotation: role},
			map[string]string{"AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/controller", "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile,
				"file": cloudfake.ServiceAccountToken("imageconfig-system", "controller-manager", cloudauth.AWSAudience, time.Now().Add(time.Hour))},
			func(ns string) string { return "provider aws via serviceaccount " + ns + "/puller (role " + role + ")" }}, digest
	case cloudauth.GCP:
		g := cloudfake.NewGCP(t, cloud, wallClock{}, "my-project", "europe-west1", "prod")
		g.Bind("puller@my-project.iam.gserviceaccount.com", ns, "puller")
		host := "europe-west1-docker.pkg.dev"
		cloud.Handle(host, basicAuth(reg, g.ValidPassword))
		return providerCase{p, host, map[string]string{cloudauth.GCPServiceAccountAnnotation: "puller@my-project.iam.gserviceaccount.com"},
			map[string]string{"GCE_METADATA_HOST": g.MetadataHost},
			func(ns string) string {
				return "provider gcp via serviceaccount " + ns + "/puller (impersonating puller@my-project.iam.gserviceaccount.com)"
			}}, digest
	default:
		const clientID, tenant = "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
		const controllerClient = "99999999-2222-3333-4444-555555555555"
		az := cloudfake.NewAzure(cloud, wallClock{})
		az.Federate(clientID, tenant, ns, "puller")
		az.Federate(controllerClient, tenant, "imageconfig-system", "controller-manager")
		host := "myregistry.azurecr.io"
		cloud.Handle(host, az.ACR(basicAuth(reg, az.ValidPassword)))
		return providerCase{p, host, map[string]string{cloudauth.AzureClientIDAnnotation: clientID, cloudauth.AzureTenantIDAnnotation: tenant},
			map[string]string{"AZURE_CLIENT_ID": controllerClient, "AZURE_TENANT_ID": tenant, "AZURE_FEDERATED_TOKEN_FILE": tokenFile,
				"file": cloudfake.ServiceAccountToken("imageconfig-system", "controller-manager", cloudauth.AzureAudience, time.Now().Add(time.Hour))},
			func(ns string) string {
				return "provider azure via serviceaccount " + ns + "/puller (client " + clientID + ", tenant " + tenant + ")"
			}}, digest
	}
}

// TestProviders resolves a private image in each cloud's registry through its
// fakes, with the controller's own identity and with a ServiceAccount's, whose
// token the API server issues through a real TokenRequest.
func TestProviders(t *testing.T) {
	env := controlPlane.Get(t)
	ctx := context.Background()
	// TokenRequests made through wrapped, by the namespace of their
	// ServiceAccount: each subtest counts those of its own namespace.
	var mu sync.Mutex
	tokenRequests := map[string]int64{}
	tokensIn := func(ns string) int64 {
		mu.Lock()
		defer mu.Unlock()
		return tokenRequests[ns]
	}
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	wrapped := interceptor.NewClient(c, interceptor.Funcs{
		SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj client.Object, subObj client.Object, opts ...client.SubResourceCreateOption) error {
			if sub == "token" {
				mu.Lock()
				tokenRequests[obj.GetNamespace()]++
				mu.Unlock()
			}
			return c.SubResource(sub).Create(ctx, obj, subObj, opts...)
		},
	})

	for _, p := range []cloudauth.Provider{cloudauth.AWS, cloudauth.GCP, cloudauth.Azure} {
		for _, level := range []string{"controller", "object"} {
			t.Run(string(p)+"/"+level, func(t *testing.T) {
				ns := newNamespace(t, env.Client)
				cloud := cloudfake.NewCloud(t)
				pc, digest := setUpProvider(t, cloud, p, ns)
				r := &ImageConfigReconciler{
					Client: wrapped, Recorder: &recorder{}, Finder: RegistryFinder,
					Transport: cloud.Transport(),
					CloudAuth: cloudauth.NewBroker(cloudauth.Options{
						HTTPClient: cloud.Client(),
						Getenv:     func(k string) string { return pc.env[k] },
						ReadFile:   func(string) ([]byte, error) { return []byte(pc.env["file"]), nil },
					}),
					ObjectLevelWorkloadIdentity: true,
				}
				spec := imagesv1alpha1.ImageConfigSpec{Provider: string(p), Registry: pc.registry, Repository: "demo/hello", Tag: "1.0",
					Platform: imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "amd64"}}
				wantSource := map[cloudauth.Provider]string{
					cloudauth.AWS:   "provider aws via controller (role arn:aws:iam::123456789012:role/controller)",
					cloudauth.GCP:   "provider gcp via controller (metadata server)",
					cloudauth.Azure: "provider azure via controller (client 99999999-2222-3333-4444-555555555555, tenant aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)",
				}[p]
				before := tokensIn(ns)
				wantTokens := int64(0)
				if level == "object" {
					sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "puller", Namespace: ns, Annotations: pc.annotations}}
					if err := env.Client.Create(ctx, sa); err != nil {
						t.Fatal(err)
					}
					spec.ServiceAccountName = "puller"
					wantSource, wantTokens = pc.wantSource(ns), 1
				}
				obj := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: "private", Namespace: ns}, Spec: spec}
				if err := env.Client.Create(ctx, obj); err != nil {
					t.Fatal(err)
				}
				got := reconcileOnce(t, r, env.Client, obj)
				if rd := ready(got); rd == nil || rd.Status != metav1.ConditionTrue {
					t.Fatalf("not Ready: %s", conditionSummary(got))
				}
				t.Logf("authSource: %s; Ready: %s", got.Status.AuthSource, ready(got).Message)
				if got.Status.AuthSource != wantSource {
					t.Errorf("authSource = %q, want %q", got.Status.AuthSource, wantSource)
				}
				if got.Status.Digest != digest {
					t.Errorf("digest = %q, want %q", got.Status.Digest, digest)
				}
				if n := tokensIn(ns) - before; n != wantTokens {
					t.Errorf("TokenRequests = %d, want %d", n, wantTokens)
				}
			})
		}
	}

	// Refusals, each with a reason a user can act on; none asks for a token it
	// should not, and none is retried faster than the backoff.
	t.Run("refusals", func(t *testing.T) {
		ns := newNamespace(t, env.Client)
		cloud := cloudfake.NewCloud(t)
		pc, _ := setUpProvider(t, cloud, cloudauth.AWS, ns)
		aws := cloudfake.NewAWS(cloud, wallClock{}, "eu-west-1") // replaces the handlers: no trust at all
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "puller", Namespace: ns, Annotations: pc.annotations}}
		if err := env.Client.Create(ctx, sa); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name        string
			objectLevel bool
			mutate      func(*imagesv1alpha1.ImageConfigSpec)
			prepare     func()
			wantReason  string
			wantMsg     string
			wantTokens  int64
			wantError   bool // returned to the controller for its backoff
		}{
			{name: "flag off", objectLevel: false, mutate: func(s *imagesv1alpha1.ImageConfigSpec) { s.ServiceAccountName = "puller" },
				wantReason: imagesv1alpha1.ObjectLevelWorkloadIdentityDisabledReason, wantMsg: "the manager runs without --enable-object-level-workload-identity"},
			{name: "service account missing", objectLevel: true, mutate: func(s *imagesv1alpha1.ImageConfigSpec) { s.ServiceAccountName = "ghost" },
				wantReason: imagesv1alpha1.ServiceAccountNotFoundReason, wantMsg: `ServiceAccount "ghost" named by spec.serviceAccountName does not exist`},
			{name: "registry of another provider", objectLevel: true, mutate: func(s *imagesv1alpha1.ImageConfigSpec) {
				s.ServiceAccountName, s.Registry = "puller", "europe-west1-docker.pkg.dev"
			}, wantReason: imagesv1alpha1.ProviderRegistryMismatchReason, wantMsg: "belongs to provider gcp, not aws"},
			{name: "role refused", objectLevel: true, mutate: func(s *imagesv1alpha1.ImageConfigSpec) { s.ServiceAccountName = "puller" },
				wantReason: imagesv1alpha1.ProviderAuthFailedReason, wantMsg: "aws sts answered 403 AccessDenied", wantTokens: 1},
			{name: "STS 5xx", objectLevel: true, mutate: func(s *imagesv1alpha1.ImageConfigSpec) { s.ServiceAccountName = "puller" },
				prepare:    func() { aws.STSFaults.FailNext(1, http.StatusServiceUnavailable) },
				wantReason: imagesv1alpha1.ProviderUnavailableReason, wantMsg: "aws sts answered 503", wantTokens: 1, wantError: true},
			{name: "controller without identity", mutate: func(*imagesv1alpha1.ImageConfigSpec) {},
				wantReason: imagesv1alpha1.ProviderIdentityInvalidReason, wantMsg: "this process has no AWS workload identity"},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.prepare != nil {
					tt.prepare()
				}
				r := &ImageConfigReconciler{
					Client: wrapped, Recorder: &recorder{}, Finder: RegistryFinder, Transport: cloud.Transport(),
					CloudAuth:                   cloudauth.NewBroker(cloudauth.Options{HTTPClient: cloud.Client(), Getenv: func(string) string { return "" }}),
					ObjectLevelWorkloadIdentity: tt.objectLevel,
				}
				spec := imagesv1alpha1.ImageConfigSpec{Provider: "aws", Registry: pc.registry, Repository: "demo/hello", Tag: "1.0"}
				tt.mutate(&spec)
				obj := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("refused-%d", i), Namespace: ns}, Spec: spec}
				if err := env.Client.Create(ctx, obj); err != nil {
					t.Fatal(err)
				}
				before := tokensIn(ns)
				res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
				got := &imagesv1alpha1.ImageConfig{}
				if gerr := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), got); gerr != nil {
					t.Fatal(gerr)
				}
				rd := ready(got)
				if rd == nil || rd.Status != metav1.ConditionFalse || rd.Reason != tt.wantReason || !strings.Contains(rd.Message, tt.wantMsg) {
					t.Errorf("Ready = %+v, want False/%s saying %q", rd, tt.wantReason, tt.wantMsg)
				}
				t.Logf("Ready=%s reason=%s message=%s", rd.Status, rd.Reason, rd.Message)
				if (err != nil) != tt.wantError {
					t.Errorf("Reconcile error = %v, want an error: %v", err, tt.wantError)
				}
				if !tt.wantError && res.RequeueAfter < 30*time.Second {
					t.Errorf("RequeueAfter = %s, want the credential backoff of at least 30s", res.RequeueAfter)
				}
				if n := tokensIn(ns) - before; n != tt.wantTokens {
					t.Errorf("TokenRequests = %d, want %d", n, tt.wantTokens)
				}
				if strings.Contains(got.Status.AuthSource, "eyJ") || strings.Contains(rd.Message, "eyJ") {
					t.Errorf("a token reached the status: %q / %q", got.Status.AuthSource, rd.Message)
				}
			})
		}
	})

	t.Run("CEL", func(t *testing.T) {
		ns := newNamespace(t, env.Client)
		for _, tt := range []struct {
			mutate  func(*imagesv1alpha1.ImageConfigSpec)
			wantMsg string
		}{
			{func(s *imagesv1alpha1.ImageConfigSpec) {
				s.SecretRef = &imagesv1alpha1.LocalObjectReference{Name: "pull"}
			}, "spec.secretRef cannot be combined with spec.provider"},
			{func(s *imagesv1alpha1.ImageConfigSpec) { s.Insecure = true }, "spec.insecure cannot be combined with spec.provider"},
			{func(s *imagesv1alpha1.ImageConfigSpec) { s.Provider = "alibaba" }, `spec.provider: Unsupported value: "alibaba"`},
			{func(s *imagesv1alpha1.ImageConfigSpec) { s.ServiceAccountName = "other-ns/puller" }, "spec.serviceAccountName in body should match"},
		} {
			spec := imagesv1alpha1.ImageConfigSpec{Provider: "gcp", Registry: "gcr.io", Repository: "p/app"}
			tt.mutate(&spec)
			err := env.Client.Create(ctx, &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{GenerateName: "cel-", Namespace: ns}, Spec: spec})
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("create: %v, want an error saying %q", err, tt.wantMsg)
			}
		}
	})
}

// reconcileOnce runs one Reconcile and returns the object as stored.
func reconcileOnce(t *testing.T, r *ImageConfigReconciler, c client.Client, obj *imagesv1alpha1.ImageConfig) *imagesv1alpha1.ImageConfig {
	t.Helper()
	_, _ = r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	got := &imagesv1alpha1.ImageConfig{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatal(err)
	}
	return got
}
