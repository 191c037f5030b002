package main

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
	"github.com/imageconfig/imageconfig-operator/internal/ui/clustersource"
)

// addUI serves the read-only web UI on addr from the manager's informer cache,
// on every replica: it needs no leader election.
func addUI(mgr ctrl.Manager, addr string) error {
	h, err := ui.New(ui.Options{
		Source:      clustersource.Source{Reader: mgr.GetCache()},
		Instruction: manifests.DockerfileLine,
	})
	if err != nil {
		return err
	}
	log := ctrl.Log.WithName("ui")
	return mgr.Add(&ui.Server{Addr: addr, Handler: h, Listening: func(bound string) {
		log.Info("Serving the web UI", "address", bound, "url", "http://"+bound+"/")
	}})
}
