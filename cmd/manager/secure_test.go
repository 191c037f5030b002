package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/yaml"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
)

func TestMetricsOptions(t *testing.T) {
	// got is what of the options these tests decide; FilterProvider is a func.
	type got struct {
		SecureServing, Filter bool
		BindAddress           string
	}
	for _, secure := range []bool{true, false} {
		o := metricsOptions(":8443", secure, tlsOptions(false))
		want := got{SecureServing: secure, Filter: secure, BindAddress: ":8443"}
		if diff := cmp.Diff(want, got{o.SecureServing, o.FilterProvider != nil, o.BindAddress}); diff != "" {
			t.Errorf("metricsOptions(secure=%v) (-want +got):\n%s", secure, diff)
		}
	}
}

func TestTLSOptionsHTTP2(t *testing.T) {
	tests := []struct {
		enableHTTP2 bool
		want        []string
	}{{false, []string{"http/1.1"}}, {true, []string{"h2", "http/1.1"}}}
	for _, tt := range tests {
		c := &tls.Config{NextProtos: []string{"h2"}} // controller-runtime's starting point
		for _, o := range tlsOptions(tt.enableHTTP2) {
			o(c)
		}
		if diff := cmp.Diff(tt.want, c.NextProtos); diff != "" {
			t.Errorf("enable-http2=%v: NextProtos (-want +got):\n%s", tt.enableHTTP2, diff)
		}
	}
}

const managerNS = "imageconfig-system"

// cluster holds a control plane where the manager runs as its ServiceAccount
// with the roles of config/rbac, and users whose tokens the tests send.
type cluster struct {
	t     *testing.T
	env   *testenv.Env
	admin kubernetes.Interface
}

// applyClusterRole creates the ClusterRole of config/rbac/file.
func (c cluster) applyClusterRole(file string) string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", file))
	if err != nil {
		c.t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(b, &role); err != nil {
		c.t.Fatalf("%s: %v", file, err)
	}
	if _, err := c.admin.RbacV1().ClusterRoles().Create(context.Background(), &role, metav1.CreateOptions{}); err != nil {
		c.t.Fatalf("creating %s: %v", file, err)
	}
	return role.Name
}

// user creates a ServiceAccount, binds it to the ClusterRoles roles (in
// namespace ns only, when ns is set, else cluster-wide) and returns a token.
func (c cluster) user(name, ns string, roles ...string) string {
	c.t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: managerNS}}
	if _, err := c.admin.CoreV1().ServiceAccounts(managerNS).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: managerNS}}
	for _, role := range roles {
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}
		meta := metav1.ObjectMeta{Name: name + "-" + role}
		var err error
		if ns != "" {
			meta.Namespace = ns
			_, err = c.admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta, Subjects: subjects, RoleRef: ref}, metav1.CreateOptions{})
		} else {
			_, err = c.admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: meta, Subjects: subjects, RoleRef: ref}, metav1.CreateOptions{})
		}
		if err != nil {
			c.t.Fatal(err)
		}
	}
	tr, err := c.admin.CoreV1().ServiceAccounts(managerNS).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("requesting a token for %s: %v", name, err)
	}
	return tr.Status.Token
}

func (c cluster) namespace(name string) {
	c.t.Helper()
	if _, err := c.admin.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// startManager starts a manager as the ServiceAccount whose token is given,
// serving the metrics on metricsAddr (secure) and, when ui is set, the UI.
func (c cluster) startManager(token, metricsAddr string, enableHTTP2 bool, ui *uiOptions) {
	c.t.Helper()
	cfg := rest.AnonymousClientConfig(c.env.Config)
	cfg.BearerToken = token
	tlsOpts := tlsOptions(enableHTTP2)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: c.env.Scheme, Metrics: metricsOptions(metricsAddr, true, tlsOpts), HealthProbeBindAddress: "0"})
	if err != nil {
		c.t.Fatal(err)
	}
	if ui != nil {
		ui.TLSOpts = tlsOpts
		if err := addUI(mgr, *ui); err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	c.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			c.t.Errorf("the manager stopped with %v", err)
		}
	})
}

// client speaks HTTPS to the self-signed servers, and offers HTTP/2.
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the servers' certificates are self-signed
	ForceAttemptHTTP2: true,
}}

// get sends GET url with the bearer token (none when empty) and returns the
// status, the protocol and the body.
func get(t *testing.T, url, token string, header ...string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Proto, string(b)
}

// waitServing waits until url answers at all.
func waitServing(t *testing.T, url string) {
	t.Helper()
	NewWithT(t).Eventually(func() int {
		code, _, _ := get(t, url, "")
		return code
	}, 30*time.Second, 100*time.Millisecond).ShouldNot(BeZero(), "nothing answers on %s", url)
}

// TestSecureMetricsAndUI runs the manager's metrics and --ui-secure web UI
// against envtest's API server, as the manager's ServiceAccount bound to the
// roles of config/rbac, and sends them ServiceAccount tokens: TokenReview and
// SubjectAccessReview decide.
func TestSecureMetricsAndUI(t *testing.T) {
	ctrl.SetLogger(logr.Discard())
	env := testenv.Start(t)
	c := cluster{t: t, env: env, admin: kubernetes.NewForConfigOrDie(env.Config)}
	ctx := context.Background()
	c.namespace(managerNS)
	c.namespace("web")
	c.namespace("shop")
	for _, key := range [][2]string{{"web", "nginx"}, {"web", "redis"}, {"shop", "app"}} {
		obj := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Namespace: key[0], Name: key[1]}, Spec: imagesv1alpha1.ImageConfigSpec{Repository: key[1], Tag: "1"}}
		if err := env.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	managerRole := c.applyClusterRole("role.yaml")
	authRole := c.applyClusterRole("metrics_auth_role.yaml")
	reader := c.applyClusterRole("metrics_reader_role.yaml")
	viewer := c.applyClusterRole("imageconfig_viewer_role.yaml")

	tokens := map[string]string{
		"scraper":  c.user("scraper", "", reader),
		"stranger": c.user("stranger", ""),
		"alice":    c.user("alice", "web", viewer),
		"bob":      c.user("bob", "", viewer),
	}
	metricsAddr, uiAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	c.startManager(c.user("controller-manager", "", managerRole, authRole), metricsAddr, false, &uiOptions{Addr: uiAddr, Secure: true})
	metricsURL, uiURL := "https://"+metricsAddr+"/metrics", "https://"+uiAddr
	waitServing(t, metricsURL)
	waitServing(t, uiURL+"/")

	t.Run("metrics", func(t *testing.T) {
		tests := []struct {
			name, token string
			want        int
		}{
			{"no token", "", http.StatusUnauthorized},
			{"a token without the metrics-reader role", tokens["stranger"], http.StatusForbidden},
			{"a token with the metrics-reader role", tokens["scraper"], http.StatusOK},
			// A reader of ImageConfigs is not a reader of the metrics.
			{"a viewer of every ImageConfig", tokens["bob"], http.StatusForbidden},
		}
		for _, tt := range tests {
			code, proto, body := get(t, metricsURL, tt.token)
			if code != tt.want {
				t.Errorf("%s: GET /metrics = %d, want %d: %.200s", tt.name, code, tt.want, body)
			}
			if proto != "HTTP/1.1" {
				t.Errorf("%s: the metrics answered over %s; HTTP/2 should be off without --enable-http2", tt.name, proto)
			}
			if code == http.StatusOK && !strings.Contains(body, "rest_client_requests_total") {
				t.Errorf("%s: the metrics lack rest_client_requests_total:\n%.500s", tt.name, body)
			}
		}
	})

	t.Run("ui", func(t *testing.T) {
		tests := []struct {
			name, token, path string
			want              int
			// wantItems are the namespace/name the fleet lists, for /.
			wantItems []string
		}{
			{name: "no token", path: "/", want: http.StatusUnauthorized},
			{name: "a forged token", token: "not-a-token", path: "/", want: http.StatusUnauthorized},
			{name: "no token, an object", path: "/namespaces/web/imageconfigs/nginx", want: http.StatusUnauthorized},
			{name: "a viewer in web sees web", token: tokens["alice"], path: "/", want: http.StatusOK, wantItems: []string{"web/nginx", "web/redis"}},
			{name: "a viewer everywhere sees all", token: tokens["bob"], path: "/", want: http.StatusOK, wantItems: []string{"shop/app", "web/nginx", "web/redis"}},
			{name: "no role sees nothing", token: tokens["stranger"], path: "/", want: http.StatusOK, wantItems: []string{}},
			{name: "the metrics reader sees nothing", token: tokens["scraper"], path: "/", want: http.StatusOK, wantItems: []string{}},
			{name: "a viewer in web reads web's object", token: tokens["alice"], path: "/namespaces/web/imageconfigs/nginx", want: http.StatusOK},
			{name: "a viewer in web cannot read shop's", token: tokens["alice"], path: "/namespaces/shop/imageconfigs/app", want: http.StatusForbidden},
		}
		for _, tt := range tests {
			// The cache fills eventually: retry until the answer is the expected one.
			NewWithT(t).Eventually(func(g Gomega) {
				code, proto, body := get(t, uiURL+tt.path, tt.token, "Accept", "application/json")
				g.Expect(code).To(Equal(tt.want), "GET %s: %.300s", tt.path, body)
				g.Expect(proto).To(Equal("HTTP/1.1"), "HTTP/2 should be off without --enable-http2")
				if tt.wantItems == nil {
					return
				}
				var list struct {
					Items []imagesv1alpha1.ImageConfig `json:"items"`
				}
				g.Expect(json.Unmarshal([]byte(body), &list)).To(Succeed())
				got := []string{}
				for _, it := range list.Items {
					got = append(got, it.Namespace+"/"+it.Name)
				}
				sort.Strings(got)
				g.Expect(got).To(Equal(tt.wantItems))
			}, 20*time.Second, 200*time.Millisecond).Should(Succeed(), tt.name)
		}
	})

	t.Run("enable-http2", func(t *testing.T) {
		addr := testenv.FreeAddr(t)
		c.startManager(c.user("manager-http2", "", authRole), addr, true, nil)
		waitServing(t, "https://"+addr+"/metrics")
		code, proto, body := get(t, "https://"+addr+"/metrics", tokens["scraper"])
		if code != http.StatusOK || proto != "HTTP/2.0" {
			t.Errorf("with --enable-http2, GET /metrics = %d over %s, want 200 over HTTP/2.0: %.200s", code, proto, body)
		}
	})
}
