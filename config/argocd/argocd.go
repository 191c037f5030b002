// Package argocd holds the Argo CD health check for ImageConfigs. Argo CD does
// not judge custom resources by kstatus; it runs the Lua script of
// resource.customizations.health.images.imageconfig.dev_ImageConfig in its
// argocd-cm ConfigMap. argocd-cm.yaml is that snippet.
package argocd

import _ "embed"

// HealthLua is the health check script, health.lua.
//
//go:embed health.lua
var HealthLua string

// ConfigMapYAML is argocd-cm.yaml, the argocd-cm snippet that enables the script.
//
//go:embed argocd-cm.yaml
var ConfigMapYAML string
