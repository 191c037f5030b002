// Command manager runs the ImageConfig controller.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/controllers"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/internal/lazylog"
	"github.com/imageconfig/imageconfig-operator/internal/managercache"
)

var scheme = runtime.NewScheme()

// defaultGCPercent is the manager's GOGC when the environment sets none.
//
// Most of the manager's heap is its informer cache, which lives as long as the
// process. Go's default (GOGC=100) lets the heap grow to twice that live set
// before it collects, so half of the peak is garbage waiting. At 30 the heap
// grows to 1.3 times the live set. At 10,000 objects (make bench-scale, 2-core
// machine) the peak RSS was 123–136 MiB at 100, 108 MiB at 50 and 97 MiB at 30,
// with Ready unchanged (61–67 s) and the collector at 3 % of the CPU in the
// first pass and 1 % in the steady state (docs/fleet.md). GOGC in the
// environment wins, and GOMEMLIMIT (which the Deployment sets to the memory
// limit) still applies.
const defaultGCPercent = 30

// setGCPercent applies defaultGCPercent unless lookupEnv finds GOGC set, and
// returns the percent in force (negative: collection off).
func setGCPercent(lookupEnv func(string) (string, bool)) int {
	if _, set := lookupEnv("GOGC"); set {
		p := debug.SetGCPercent(100) // read the runtime's own parse of $GOGC
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(defaultGCPercent)
	return defaultGCPercent
}

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(imagesv1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr, probeAddr  string
		uiAddr                  string
		leaderElect, insecure   bool
		secureMetrics, uiSecure bool
		enableHTTP2             bool
		maxConcurrent, apiBurst int
		apiQPS                  float64
		pprofAddr, watchLabels  string
		contentCacheSize        string
		allowedRegistries       string
		deniedNetworks          string
		leaseDuration           time.Duration
		renewDeadline           time.Duration
		retryPeriod             time.Duration
		leaderNamespace         string
		userAgent               string
		statusHeartbeat         time.Duration
		objectLevelIdentity     bool
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "The address the metrics endpoint binds to: :8443 for HTTPS, :8080 for HTTP (with --metrics-secure=false). \"0\" disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve the metrics over HTTPS, only to bearer tokens whose user may get /metrics (TokenReview and SubjectAccessReview). --metrics-secure=false serves plain HTTP to anyone, for local use.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false, "Offer HTTP/2 on the metrics, --ui-secure and webhook servers. Off by default against the HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the healthz and readyz endpoints bind to.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Enable leader election, so that only one manager is active.")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 8, "How many ImageConfigs are resolved at once.")
	// 50 QPS alone made the first pass over 10,000 objects take 200 s (docs/benchmarks.md).
	flag.Float64Var(&apiQPS, "kube-api-qps", 300, "Queries per second to the Kubernetes API server.")
	flag.IntVar(&apiBurst, "kube-api-burst", 600, "Burst of queries to the Kubernetes API server.")
	flag.StringVar(&contentCacheSize, "content-cache-size", "64Mi", "Bytes of manifests, indexes and config blobs kept in memory, shared by every ImageConfig, such as 64Mi. 0 disables the cache.")
	flag.StringVar(&watchLabels, "watch-label-selector", "", "Resolve only the ImageConfigs this label selector selects, such as "+managercache.ShardLabel+"=shard1, or !"+managercache.ShardLabel+" for the main instance of a sharded set-up. Empty resolves all.")
	flag.StringVar(&uiAddr, "ui-bind-address", "0", "The address the read-only web UI binds to, such as 127.0.0.1:8082 (reach it with kubectl port-forward). \"0\" or \"\" disables it. Without --ui-secure it shows every ImageConfig to whoever reaches the port.")
	flag.BoolVar(&uiSecure, "ui-secure", false, "Serve the web UI over HTTPS, only to bearer tokens a TokenReview accepts, showing each user the namespaces where a SubjectAccessReview lets them list ImageConfigs.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "0", "The address the pprof endpoints bind to, such as 127.0.0.1:6060. \"0\" disables them.")
	flag.BoolVar(&insecure, "allow-insecure-registries", false, "Honour spec.insecure: allow plain HTTP to registries whose ImageConfigs ask for it.")
	flag.StringVar(&allowedRegistries, "allowed-registries", "", "Comma-separated registry host globs, such as *.docker.io,ghcr.io,registry.internal:5000, that registries, redirects and token realms must match. Empty allows any host.")
	flag.StringVar(&deniedNetworks, "denied-networks", netpolicy.DefaultDeniedNetworks, "Comma-separated CIDRs never connected to, checked when dialling, after DNS. --denied-networks=\"\" allows every network.")
	flag.DurationVar(&leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a non-leader waits before it may take over a lease that was not renewed.")
	flag.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps retrying to renew its lease before it gives up leadership.")
	flag.DurationVar(&retryPeriod, "leader-elect-retry-period", 2*time.Second, "How often leader-election clients retry to acquire or renew the lease.")
	flag.StringVar(&leaderNamespace, "leader-elect-namespace", "", "The namespace of the leader-election lease; empty means the manager's own namespace, which only exists in a cluster.")
	flag.BoolVar(&objectLevelIdentity, "enable-object-level-workload-identity", false, "Let ImageConfigs with spec.provider aws, gcp or azure name a ServiceAccount whose identity is used: the manager then creates tokens for ServiceAccounts (serviceaccounts/token create, granted by the object-level-workload-identity kustomize component or the chart's workloadIdentity.objectLevel). Off, such objects are not Ready, with reason ObjectLevelWorkloadIdentityDisabled.")
	flag.StringVar(&userAgent, "user-agent", "imageconfig-operator", "The User-Agent sent to registries.")
	flag.DurationVar(&statusHeartbeat, "status-heartbeat", controllers.DefaultStatusHeartbeat, "How old status.lastCheckedTime may grow while nothing else changes: a re-check that finds the tag unchanged writes no status until then (at least 10 intervals, plus up to 50% per object). 0 writes it on every check, one status write per object per interval.")
	filesOpts := bindFilesFlags(flag.CommandLine) // issue 18
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	gcPercent := setGCPercent(os.LookupEnv)

	// Every reconcile's logger gets the object's values; lazylog applies them
	// only to lines that are written (3,280 -> 672 bytes per reconcile).
	ctrl.SetLogger(lazylog.New(zap.New(zap.UseFlagOptions(&zapOpts))))
	log := ctrl.Log.WithName("setup")

	selector, err := managercache.ParseWatchSelector(watchLabels)
	if err != nil {
		log.Error(err, "Invalid flag")
		os.Exit(2)
	}
	cacheBytes, err := resource.ParseQuantity(contentCacheSize)
	if err != nil || cacheBytes.Sign() < 0 {
		log.Error(fmt.Errorf("--content-cache-size %q is not a size such as 64Mi", contentCacheSize), "Invalid flag")
		os.Exit(2)
	}
	network, err := netpolicy.Parse(allowedRegistries, deniedNetworks)
	if err != nil {
		log.Error(err, "Invalid network policy")
		os.Exit(2)
	}
	filesIndexer, err := filesOpts.indexer() // issue 18: spec.files.index
	if err != nil {
		log.Error(err, "Invalid layer file index flags")
		os.Exit(2)
	}

	cfg := ctrl.GetConfigOrDie()
	cfg.QPS = float32(apiQPS)
	cfg.Burst = apiBurst
	cfg.UserAgent = "imageconfig-operator"

	tlsOpts := tlsOptions(enableHTTP2)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions(metricsAddr, secureMetrics, tlsOpts),
		WebhookServer:           webhook.NewServer(webhook.Options{TLSOpts: tlsOpts}),
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		Cache:                   managercache.CacheOptions(selector),
		LeaderElection:          leaderElect,
		LeaderElectionID:        managercache.LeaderElectionID("imageconfig-operator.images.imageconfig.dev", selector),
		LeaderElectionNamespace: leaderNamespace,
		LeaseDuration:           &leaseDuration,
		RenewDeadline:           &renewDeadline,
		RetryPeriod:             &retryPeriod,
	})
	if err != nil {
		log.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	// Re-checks within half an hour skip the authentication handshake; after that
	// the token has usually expired, and a refresh costs what a handshake does.
	sessions := manifests.NewSessions(30*time.Minute, 1000)

	// The registry metrics are served with controller-runtime's on
	// --metrics-bind-address.
	m, err := controllers.NewMetrics(metrics.Registry)
	if err != nil {
		log.Error(err, "Unable to register the metrics")
		os.Exit(1)
	}
	hooks, err := controllers.NewProviderHooks(metrics.Registry)
	if err != nil {
		log.Error(err, "Unable to register the metrics")
		os.Exit(1)
	}
	r := &controllers.ImageConfigReconciler{
		// One broker for the process: objects with the same identity share a credential.
		CloudAuth:                   cloudauth.NewBroker(cloudauth.Options{Hooks: hooks}),
		ObjectLevelWorkloadIdentity: objectLevelIdentity,
		Client:                      mgr.GetClient(),
		APIReader:                   mgr.GetAPIReader(),
		AllowInsecureRegistries:     insecure,
		UserAgent:                   userAgent,
		Network:                     network,
		Sessions:                    sessions,
		// Objects naming the same image share its registry work.
		Finder:          manifests.NewShared(manifests.SharedOptions{Content: manifests.NewContent(cacheBytes.Value()), Sessions: sessions}),
		Metrics:         m,
		StatusHeartbeat: heartbeatOrEveryCheck(statusHeartbeat),
		FilesIndexer:    filesIndexer,
		// Base images re-checked and attachments listed (docs/supplychain.md).
		SupplyChain: controllers.NewSupplyChain(),
	}
	if err := r.SetupWithManager(mgr, controllers.SetupOptions{MaxConcurrentReconciles: maxConcurrent}); err != nil {
		log.Error(err, "Unable to create the controller", "controller", "ImageConfig")
		os.Exit(1)
	}
	if err := r.RegisterScheduleMetrics(metrics.Registry); err != nil {
		log.Error(err, "Unable to register the metrics")
		os.Exit(1)
	}
	if err := controllers.RegisterSupplyChainMetrics(metrics.Registry, mgr.GetCache()); err != nil {
		log.Error(err, "Unable to register the metrics")
		os.Exit(1)
	}
	if uiAddr != "0" && uiAddr != "" {
		if err := addUI(mgr, uiOptions{Addr: uiAddr, Secure: uiSecure, TLSOpts: tlsOpts, Files: objectFiles{filesIndexer}}); err != nil {
			log.Error(err, "Unable to set up the web UI", "address", uiAddr)
			os.Exit(1)
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}

	log.Info("Starting the manager", "allowInsecureRegistries", insecure, "maxConcurrentReconciles", maxConcurrent, "network", network.String(),
		"watchLabelSelector", watchLabels, "contentCacheBytes", cacheBytes.Value(),
		"metricsSecure", secureMetrics, "enableHTTP2", enableHTTP2, "gcPercent", gcPercent)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "Manager exited")
		os.Exit(1)
	}
}

// heartbeatOrEveryCheck maps --status-heartbeat to the reconciler's field, where
// zero is the default and a negative value writes on every check.
func heartbeatOrEveryCheck(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
