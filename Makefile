# Image URL to use all building/pushing image targets.
IMG ?= imageconfig-operator:dev

# Versions of the hermetic envtest control plane, built from the Go module proxy by hack/setup-envtest.sh.
ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ETCD_VERSION ?= 3.6.16
# SETUP_ENVTEST builds them once and prints their directory: every target that needs a
# control plane runs assets="$$($(SETUP_ENVTEST))" and passes KUBEBUILDER_ASSETS="$$assets".
SETUP_ENVTEST = ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) ENVTEST_ETCD_VERSION=$(ENVTEST_ETCD_VERSION) ./hack/setup-envtest.sh

# Tool versions.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
HELM_VERSION ?= v3.22.0
GOLANGCI_LINT_VERSION ?= v2.15.0

# make image: the index's platforms, where the OCI layout goes when IMG is not given,
# plain HTTP to the registry (auto: for localhost and loopback only), an optional base
# image such as gcr.io/distroless/static:nonroot (default: none, built from scratch).
IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
IMAGE_LAYOUT ?= bin/image
IMAGE_INSECURE ?= auto
IMAGE_BASE ?=

# make build-installer writes INSTALLER; make deploy and undeploy use KUBECTL.
INSTALLER ?= dist/install.yaml
KUBECTL ?= kubectl

# go test flags; for example GO_TEST_FLAGS="-run TestAPI -v".
GO_TEST_FLAGS ?=

SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.DEFAULT_GOAL := all

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests into config/, and copy them into the Helm chart.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	./hack/sync-chart.sh

.PHONY: generate
generate: controller-gen ## Generate DeepCopy implementations.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: verify-generated
verify-generated: controller-gen ## Fail when regeneration changes a generated file.
	CONTROLLER_GEN="$(CONTROLLER_GEN)" ./hack/verify-generated.sh

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml) on every package, e2e, scale, ui and docs tests included.
	"$(GOLANGCI_LINT)" run --timeout 15m ./...

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply the fixes it can make.
	"$(GOLANGCI_LINT)" run --timeout 15m --fix ./...

.PHONY: envtest
envtest: ## Build (once) and print the kube-apiserver and etcd used by the tests.
	@$(SETUP_ENVTEST)

##@ Test

.PHONY: test
test: verify-generated vet ## Run all tests against a hermetic envtest control plane.
	@assets="$$($(SETUP_ENVTEST))"; \
	echo "KUBEBUILDER_ASSETS=$$assets"; \
	KUBEBUILDER_ASSETS="$$assets" go test -short $(GO_TEST_FLAGS) ./...

# The scenarios that `make test` skips with -short: real intervals and
# thousand-object fleets on envtest (see longScenario in controllers).
LONG_TESTS ?= TestReconciler|TestManager|TestFilesIndexManager|TestRestartMidSteadyState|TestLastCheckedSkew|TestOutageWritesPerStateChange
.PHONY: test-long
test-long: ## Run the long scenarios that make test skips (real intervals, 1,000-object fleets).
	@assets="$$($(SETUP_ENVTEST))"; \
	KUBEBUILDER_ASSETS="$$assets" go test $(GO_TEST_FLAGS) -run '^($(LONG_TESTS))$$' ./controllers/

.PHONY: test-e2e
test-e2e: build ## Run the manager as a process against envtest and drive it with kubectl.
	@assets="$$($(SETUP_ENVTEST))"; \
	KUBEBUILDER_ASSETS="$$assets" MANAGER_BIN="$(CURDIR)/bin/manager" go test -tags e2e -count=1 $(GO_TEST_FLAGS) ./test/e2e/...

.PHONY: test-ui
test-ui: ## Drive the manager's web UI in headless chromium (needs the chromium package); screenshots go to bin/ui-screenshots/.
	@assets="$$($(SETUP_ENVTEST))"; \
	KUBEBUILDER_ASSETS="$$assets" go test -tags ui -count=1 $(GO_TEST_FLAGS) ./test/ui/...

.PHONY: test-docs
test-docs: build ## Run the docs' runnable blocks against make dev's environment, and check their links, make targets and flags.
	@assets="$$($(SETUP_ENVTEST))"; \
	go build -o bin/dev-env ./hack/dev; \
	KUBEBUILDER_ASSETS="$$assets" go test -tags docs -count=1 $(GO_TEST_FLAGS) ./test/docs/...

.PHONY: bench
bench: ## Run the benchmarks and print their figures (time, allocations, registry requests per resolution).
	go test -run '^$$' -bench . -benchmem ./finders/...

# make bench-scale: N ImageConfigs over M distinct two-platform tags, re-checked every INTERVAL.
N ?= 10000
M ?= 1000
INTERVAL ?= 60s
# Extra manager flags, for example MANAGER_ARGS="--pprof-bind-address=127.0.0.1:6060"; SCALE_PPROF=bin/cpu.pprof saves a profile.
MANAGER_ARGS ?=
.PHONY: bench-scale
bench-scale: build ## Fleet benchmark (not in make test): N objects over M tags, manager as a process; prints one summary line.
	@assets="$$($(SETUP_ENVTEST))"; \
	KUBEBUILDER_ASSETS="$$assets" MANAGER_BIN="$${MANAGER_BIN:-$(CURDIR)/bin/manager}" MANAGER_ARGS="$(MANAGER_ARGS)" \
	SCALE_N=$(N) SCALE_M=$(M) SCALE_INTERVAL=$(INTERVAL) \
	go test -tags scale -count=1 -timeout 3h -run TestScale -v $(GO_TEST_FLAGS) ./test/scale/ | grep --line-buffered -E '^bench-scale|FAIL|scale_test.go|apiserver.go'

FUZZTIME ?= 20s
FUZZ_PACKAGES ?= ./finders/manifests ./finders/auth ./finders/platforms ./finders/compare ./finders/files ./finders/supplychain
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME.
	@for p in $(FUZZ_PACKAGES); do \
		for t in $$(go test -list '^Fuzz' $$p | grep '^Fuzz'); do \
			echo "fuzzing $$p $$t for $(FUZZTIME)"; \
			go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
		done; \
	done

##@ Build

.PHONY: all
all: build ## The default goal: make build.

.PHONY: build
build: ## Build bin/manager and bin/imageconfig.
	go build -o bin/manager ./cmd/manager
	go build -o bin/imageconfig ./cmd/imageconfig

.PHONY: dev
dev: build ## Run the operator locally on an embedded control plane with a demo registry.
	@assets="$$($(SETUP_ENVTEST))"; \
	go build -o bin/dev-env ./hack/dev; \
	KUBEBUILDER_ASSETS="$$assets" exec bin/dev-env --manager "$(CURDIR)/bin/manager" --write-kubeconfig "$(CURDIR)/bin/dev/kubeconfig" --crds "$(CURDIR)/config/crd/bases"

.PHONY: image
image: ## Build the manager's multi-platform image without Docker: push it to IMG if given, else write an OCI layout to IMAGE_LAYOUT.
	go run ./hack/image --platforms="$(IMAGE_PLATFORMS)" --insecure="$(IMAGE_INSECURE)" $(if $(IMAGE_BASE),--base="$(IMAGE_BASE)") \
		$(if $(filter file default,$(origin IMG)),--layout="$(IMAGE_LAYOUT)",--image="$(IMG)")

.PHONY: docker-build
docker-build: ## Build the manager's container image (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml (CRDs, namespace, RBAC, the Deployment with IMG).
	@mkdir -p "$(dir $(INSTALLER))"
	$(call installer-overlay)
	"$(KUSTOMIZE)" build bin/installer > "$(INSTALLER)"
	@echo "wrote $(INSTALLER) with image $(IMG)"

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: deploy
deploy: manifests kustomize ## Install the operator with IMG into the cluster of the current kubeconfig.
	$(call installer-overlay)
	"$(KUSTOMIZE)" build bin/installer | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator and its CRD from the cluster. Call with ignore-not-found=true to ignore missing resources.
	"$(KUSTOMIZE)" build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: helm-lint
helm-lint: helm ## Lint the Helm chart in dist/chart.
	"$(HELM)" lint dist/chart
	"$(HELM)" lint dist/chart --set prometheus.enable=true --set ui.enable=true

.PHONY: helm-template
helm-template: helm ## Render the Helm chart into bin/chart.yaml (defaults) and bin/chart-all.yaml (ServiceMonitor and UI on).
	@mkdir -p bin
	"$(HELM)" template imageconfig-operator dist/chart --namespace imageconfig-system --set manager.image.tag=dev > bin/chart.yaml
	"$(HELM)" template imageconfig-operator dist/chart --namespace imageconfig-system --set prometheus.enable=true --set ui.enable=true > bin/chart-all.yaml
	@echo "rendered bin/chart.yaml and bin/chart-all.yaml"

# installer-overlay writes a kustomization under bin/installer that sets IMG on
# config/default, so the checked-in config/manager/kustomization.yaml never changes.
define installer-overlay
@rm -rf bin/installer && mkdir -p bin/installer
@printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../config/default\n' > bin/installer/kustomization.yaml
@cd bin/installer && "$(KUSTOMIZE)" edit set image imageconfig-operator="$(IMG)"
endef

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
HELM ?= $(LOCALBIN)/helm
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint from the Go module proxy if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

.PHONY: helm
helm: $(HELM) ## Build helm from the Go module proxy if necessary.
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef
