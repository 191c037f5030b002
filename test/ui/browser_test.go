//go:build ui

// Package ui_test drives the manager's web UI in a real browser: Debian's
// chromium through chromedp, against a manager running in-process on envtest
// with objects resolved from an in-process registry. Run it with make test-ui.
package ui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/controllers"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/demo"
	"github.com/imageconfig/imageconfig-operator/internal/testenv"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
	"github.com/imageconfig/imageconfig-operator/internal/ui/clustersource"
)

// The hostile image's payloads would set window.__pwned or open a dialog if any ran.
const (
	scriptPayload = `<script>window.__pwned=1;alert(1)</script>`
	imgPayload    = `"><img src=x onerror="window.__pwned=1;alert(2)">`
	jsURL         = `javascript:window.__pwned=1;alert(3)`
	controlChars  = "\x1b[31mred\x1b[0m\u202egnp.exe"
)

// browser returns chromium's path; without one the test fails under CI=true
// and is skipped elsewhere.
func browser(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium on PATH: install it (apt-get install -y chromium) to run the browser test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func hostileImage(t *testing.T) v1.Image {
	cfg := testregistry.RichConfig()
	cfg.Labels["org.opencontainers.image.url"] = jsURL
	cfg.Labels["evil"] = scriptPayload + imgPayload + controlChars
	cfg.Env = append(cfg.Env, "EVIL="+scriptPayload+imgPayload, "URL="+jsURL)
	cfg.User = imgPayload
	return testregistry.Image(t, testregistry.ImageSpec{
		Layers: []string{"/bin/sh -c " + scriptPayload, imgPayload + controlChars, jsURL},
		Config: cfg,
	})
}

func TestBrowser(t *testing.T) {
	chromium := browser(t)
	env := testenv.Start(t)
	g := NewWithT(t)

	reg := testregistry.New(t, testregistry.Options{})
	idx, _ := testregistry.MultiArch(t)
	reg.PushIndex(t, "multi/arch", "1.0", idx)
	reg.PushImage(t, "demo/layers", "v1", testregistry.Image(t, testregistry.ImageSpec{
		Layers:             []string{strings.Repeat("m", 3000), "s", strings.Repeat("L", 9000), strings.Repeat("x", 300)},
		EmptyLayersBetween: true, Config: testregistry.RichConfig(),
	}))
	reg.PushImage(t, "evil/image", "latest", hostileImage(t))
	demoIndex, err := demo.Index()
	if err != nil {
		t.Fatal(err)
	}
	reg.PushIndex(t, demo.Repository, demo.Tag, demoIndex)

	// The manager, as cmd/manager wires it, with the UI on a random loopback port.
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	g.Expect(err).NotTo(HaveOccurred())
	r := &controllers.ImageConfigReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), AllowInsecureRegistries: true}
	g.Expect(r.SetupWithManager(mgr, controllers.SetupOptions{MaxConcurrentReconciles: 4})).To(Succeed())
	h, err := ui.New(ui.Options{Source: clustersource.Source{Reader: mgr.GetCache()}, Instruction: manifests.DockerfileLine})
	g.Expect(err).NotTo(HaveOccurred())
	addr := make(chan string, 1)
	srv := &ui.Server{Addr: "127.0.0.1:0", Handler: h, Listening: func(a string) { addr <- a }}
	g.Expect(srv.NeedLeaderElection()).To(BeFalse())
	g.Expect(mgr.Add(srv)).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	base := "http://" + <-addr

	ns := "ui-test"
	g.Expect(env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	objs := map[string]imagesv1alpha1.ImageConfigSpec{
		"hello":   {Repository: "multi/arch", Tag: "1.0", Platform: imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "arm64"}},
		"hello-2": {Repository: "multi/arch", Tag: "1.0", Platform: imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "arm64"}},
		"demo":    {Repository: demo.Repository, Tag: demo.Tag, Platform: imagesv1alpha1.PlatformSpec{OS: "linux", Architecture: "arm", Variant: "v7"}},
		"layers":  {Repository: "demo/layers", Tag: "v1"},
		"hostile": {Repository: "evil/image", Tag: "latest"},
		"missing": {Repository: "multi/arch", Tag: "nope"},
	}
	for name, spec := range objs {
		spec.Registry, spec.Insecure = reg.Host(), true
		obj := &imagesv1alpha1.ImageConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
		g.Expect(env.Client.Create(context.Background(), obj)).To(Succeed())
	}
	g.Eventually(func() int {
		var list imagesv1alpha1.ImageConfigList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return -1
		}
		n := 0
		for _, o := range list.Items {
			if c := apimeta.FindStatusCondition(o.Status.Conditions, imagesv1alpha1.ReadyCondition); c != nil && c.ObservedGeneration == o.Generation {
				n++
			}
		}
		return n
	}, 60*time.Second, 200*time.Millisecond).Should(Equal(len(objs)))

	// A fresh, headless chromium that makes no background connections.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	// The first run starts the browser; it must not carry the timeout, which would stop it.
	must(t, chromedp.Do(bctx, chromedp.Navigate("about:blank")))
	bctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()

	var mu sync.Mutex
	var dialogs, exceptions []string
	must(t, chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			exceptions = append(exceptions, e.ExceptionDetails.Text)
		}
	}))
	go func() {
		// A dialog would block the page: record it and close it.
		for ev, err := range chromedp.Events(bctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			mu.Lock()
			dialogs = append(dialogs, ev.Message)
			mu.Unlock()
			_, _ = chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()

	shots := filepath.Join(testenv.RepoRoot(), "bin", "ui-screenshots")
	g.Expect(os.MkdirAll(shots, 0o755)).To(Succeed())
	screenshot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		must(t, err)
		g.Expect(os.WriteFile(filepath.Join(shots, name), buf, 0o644)).To(Succeed())
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		must(t, err)
		return strings.TrimSpace(s)
	}
	column := func(sel string) []string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+strconv.Quote(sel)+`)].map(e => e.textContent.trim())`))
		must(t, err)
		return v
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(bctx, chromedp.Location())
		must(t, err)
		return l
	}
	// navigated waits until a click has loaded a page whose URL contains want:
	// until then the old page's elements are still visible.
	navigated := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for deadline := time.Now().Add(15 * time.Second); ; {
				l, err := chromedp.Location()(ctx, tg)
				if err != nil {
					return err
				}
				if strings.Contains(l, want) {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("still at %s, want a URL containing %q", l, want)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}

	// The fleet: every object and the summary line.
	must(t, chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`table.fleet`))))
	screenshot("fleet.png")
	g.Expect(column("table.fleet tbody tr td:nth-child(2)")).To(Equal([]string{"demo", "hello", "hello-2", "hostile", "layers", "missing"}))
	g.Expect(text("p.summary")).To(And(ContainSubstring("6 ImageConfigs"), ContainSubstring("Ready 5"), ContainSubstring("1 NotFound")))
	g.Expect(column("table.fleet tbody tr .shared")).To(Equal([]string{"shared ×2", "shared ×2"}))

	// Filter to Stalled with the form.
	must(t, chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`select[name=state]`), "Stalled"),
		chromedp.Click(chromedp.CSS(`form.filter button[type=submit]`)),
		navigated("state=Stalled"),
		chromedp.WaitVisible(chromedp.CSS(`table.fleet`)),
	))
	g.Expect(location()).To(ContainSubstring("state=Stalled"))
	g.Expect(column("table.fleet tbody tr td:nth-child(2)")).To(Equal([]string{"missing"}))
	g.Expect(column("table.fleet tbody tr td:nth-child(5)")).To(Equal([]string{"Stalled: NotFound"}))
	g.Expect(column("table.fleet tbody tr td:nth-child(3)")).To(Equal([]string{reg.Host() + "/multi/arch:nope"}))

	// Open an object from the fleet, then sort its layers by size.
	must(t, chromedp.Do(bctx,
		chromedp.Navigate(base+"/?q=demo/layers"),
		chromedp.Click(chromedp.CSS(`table.fleet tbody tr td:nth-child(2) a`)),
		navigated("/imageconfigs/layers"),
		chromedp.WaitVisible(chromedp.CSS(`table.layers`)),
	))
	g.Expect(location()).To(HaveSuffix("/namespaces/" + ns + "/imageconfigs/layers"))
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`p.sort a`)),
		navigated("sort=size"),
		chromedp.WaitVisible(chromedp.CSS(`table.layers`)),
	))
	g.Expect(location()).To(HaveSuffix("/namespaces/" + ns + "/imageconfigs/layers?sort=size"))
	sizes := column("table.layers tbody tr td:nth-child(3)")
	g.Expect(sizes).To(HaveLen(4))
	g.Expect(descending(t, sizes)).To(BeTrue(), "layer sizes %v are not largest first", sizes)
	g.Expect(column("table.layers tbody tr td:nth-child(5)")[0]).To(HavePrefix("RUN LLLL"), "the largest layer first")
	screenshot("image.png")

	// The hostile object: its payloads are text, and nothing ran.
	must(t, chromedp.Do(bctx,
		chromedp.Navigate(base+"/namespaces/"+ns+"/imageconfigs/hostile"),
		chromedp.WaitVisible(chromedp.CSS(`table.layers`)),
	))
	screenshot("hostile.png")
	pwned, err := chromedp.Run(bctx, chromedp.Evaluate[string](`typeof window.__pwned`))
	must(t, err)
	g.Expect(pwned).To(Equal("undefined"), "a payload ran")
	elems, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("script, img, iframe, [onerror], [onclick]").length`))
	must(t, err)
	g.Expect(elems).To(BeZero(), "a payload became an element")
	jsLinks, err := chromedp.Run(bctx, chromedp.Evaluate[int](`[...document.querySelectorAll("a")].filter(a => a.protocol !== "http:").length`))
	must(t, err)
	g.Expect(jsLinks).To(BeZero(), "a link left http:")
	g.Expect(text("table.labels")).To(And(ContainSubstring(scriptPayload), ContainSubstring(jsURL), ContainSubstring(`\x1b[31mred`), ContainSubstring(`\u202e`)))
	g.Expect(text("table.layers")).To(ContainSubstring("RUN /bin/sh -c " + scriptPayload))
	g.Expect(text("ul.env")).To(ContainSubstring("EVIL=" + scriptPayload + imgPayload))

	mu.Lock()
	defer mu.Unlock()
	g.Expect(dialogs).To(BeEmpty(), "a dialog opened")
	g.Expect(exceptions).To(BeEmpty(), "a script ran and threw")
	t.Logf("screenshots in %s", shots)
}

// descending reports whether sizes such as "8.8 KiB" and "300 B" are largest first.
func descending(t *testing.T, sizes []string) bool {
	var prev float64 = -1
	for _, s := range sizes {
		f := strings.Fields(s)
		if len(f) != 2 {
			t.Fatalf("size %q", s)
		}
		n, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatal(err)
		}
		n *= map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[f[1]]
		if prev >= 0 && n > prev {
			return false
		}
		prev = n
	}
	return true
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("browser: %w", err))
	}
}
