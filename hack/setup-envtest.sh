#!/usr/bin/env bash
# setup-envtest.sh prints a directory that holds kube-apiserver and etcd for
# controller-runtime's envtest.
#
# With internet access it uses the normal setup-envtest download (seconds). It
# first probes setup-envtest's release index with a short connect timeout; when
# that is unreachable, as on machines that only see the Go module proxy, or the
# download fails, both binaries are built from source through the proxy
# (about 9 minutes on 2 cores). Either way they are cached outside the
# repository, keyed by version, and a second run returns at once.
#
# Environment:
#   KUBEBUILDER_ASSETS  if it names a directory holding both binaries, it is used as is.
#   ENVTEST_K8S_VERSION kube-apiserver version to build (default 1.37.2).
#   ENVTEST_ETCD_VERSION etcd version to build (default 3.6.16).
#   ENVTEST_CACHE_DIR   cache root (default ${XDG_DATA_HOME:-$HOME/.local/share}/imageconfig-operator/envtest).
#   ENVTEST_DOWNLOAD    auto (default): try the download first; never: always build from source.
#   ENVTEST_INDEX_URL   the release index setup-envtest reads, probed before downloading.
#   SETUP_ENVTEST_VERSION the setup-envtest version (default: release-<minor> of go.mod's controller-runtime).
#
# Progress goes to stderr; only the directory is printed on stdout.
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.16}"
CACHE_ROOT="${ENVTEST_CACHE_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/imageconfig-operator/envtest}"
GO="${GO:-go}"

log() { echo "setup-envtest: $*" >&2; }

has_both() { [[ -x "$1/kube-apiserver" && -x "$1/etcd" ]]; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]] && has_both "${KUBEBUILDER_ASSETS}"; then
  echo "${KUBEBUILDER_ASSETS}"
  exit 0
fi

# The staging modules are versioned v0.<minor>.<patch> for kubernetes v1.<minor>.<patch>.
STAGING_VERSION="v0.${K8S_VERSION#*.}"
BIN_DIR="${CACHE_ROOT}/${K8S_VERSION}-etcd${ETCD_VERSION}"

if has_both "${BIN_DIR}"; then
  echo "${BIN_DIR}"
  exit 0
fi

mkdir -p "${BIN_DIR}"
# Serialise concurrent callers (parallel make targets, two terminals).
exec 9>"${BIN_DIR}.lock"
flock 9
if has_both "${BIN_DIR}"; then
  echo "${BIN_DIR}"
  exit 0
fi

# try_download prints the directory of setup-envtest's download of K8S_VERSION,
# or fails quickly when its release index cannot be reached.
try_download() {
  [[ "${ENVTEST_DOWNLOAD:-auto}" != never ]] || return 1
  local index="${ENVTEST_INDEX_URL:-https://raw.githubusercontent.com/kubernetes-sigs/controller-tools/HEAD/envtest-releases.yaml}"
  command -v curl >/dev/null || { log "no curl to probe the envtest download; building from source"; return 1; }
  if ! curl -fsS --connect-timeout 3 --max-time 15 -o /dev/null "${index}" 2>/dev/null; then
    log "the envtest download (${index}) is unreachable; building from the Go module proxy instead"
    return 1
  fi
  local version="${SETUP_ENVTEST_VERSION:-}"
  if [[ -z "${version}" ]]; then
    version="$(cd "$(dirname "$0")/.." && "${GO}" list -m -f '{{ .Version }}' sigs.k8s.io/controller-runtime 2>/dev/null | awk -F'[v.]' '{printf "release-%d.%d", $2, $3}')"
  fi
  [[ -n "${version}" ]] || return 1
  local tools="${CACHE_ROOT}/tools/setup-envtest-${version}"
  if [[ ! -x "${tools}/setup-envtest" ]]; then
    log "installing setup-envtest@${version}"
    GOBIN="${tools}" GOFLAGS= GOWORK=off "${GO}" install "sigs.k8s.io/controller-runtime/tools/setup-envtest@${version}" >&2 || return 1
  fi
  local dir
  dir="$("${tools}/setup-envtest" use "${K8S_VERSION}" --bin-dir "${CACHE_ROOT}/downloads" -p path)" || {
    log "setup-envtest has no ${K8S_VERSION} to download; building from the Go module proxy instead"
    return 1
  }
  has_both "${dir}" || return 1
  echo "${dir}"
}

if dir="$(try_download)"; then
  log "using setup-envtest's download in ${dir}"
  # Later runs find the binaries without probing the network.
  ln -sf "${dir}/kube-apiserver" "${BIN_DIR}/kube-apiserver"
  ln -sf "${dir}/etcd" "${BIN_DIR}/etcd"
  echo "${BIN_DIR}"
  exit 0
fi

# Builds do not need cgo, and a static binary survives a changed libc.
export CGO_ENABLED=0 GOFLAGS="-mod=mod" GOWORK=off

build_etcd() {
  local mod="${CACHE_ROOT}/src/etcd-${ETCD_VERSION}"
  log "building etcd v${ETCD_VERSION} (about 45 s on 2 cores)"
  rm -rf "${mod}" && mkdir -p "${mod}"
  cat >"${mod}/main.go" <<'GO'
// Command etcd is etcd's server entry point, built from the module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (
    cd "${mod}"
    "${GO}" mod init envtest.local/etcd >/dev/null 2>&1
    "${GO}" get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >&2
    "${GO}" mod tidy >&2
    "${GO}" build -trimpath -ldflags "-s -w" -o "${BIN_DIR}/etcd.tmp" . >&2
  )
  mv "${BIN_DIR}/etcd.tmp" "${BIN_DIR}/etcd"
}

build_kube_apiserver() {
  local mod="${CACHE_ROOT}/src/kubernetes-${K8S_VERSION}"
  log "building kube-apiserver v${K8S_VERSION} (about 8 minutes on 2 cores)"
  rm -rf "${mod}" && mkdir -p "${mod}"
  (
    cd "${mod}"
    "${GO}" mod init envtest.local/kube-apiserver >/dev/null 2>&1
    # k8s.io/kubernetes replaces its staging modules with local paths, so a
    # consumer must pin each of them itself. Read the list from its go.mod.
    local gomod
    gomod="$("${GO}" mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
    [[ -f "${gomod}" ]] || { log "cannot read go.mod of k8s.io/kubernetes@v${K8S_VERSION}"; exit 1; }
    local staging
    staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9./-]*\) => \./staging/src/.*#\1#p' "${gomod}" | sort -u)"
    [[ -n "${staging}" ]] || { log "no staging modules found in ${gomod}"; exit 1; }
    local m
    for m in ${staging}; do
      "${GO}" mod edit -replace "${m}=${m}@${STAGING_VERSION}"
    done
    "${GO}" mod edit -require "k8s.io/kubernetes@v${K8S_VERSION}"
    "${GO}" get "k8s.io/kubernetes/cmd/kube-apiserver@v${K8S_VERSION}" >&2
    local minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
    local ldflags="-s -w"
    local pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X ${pkg}.gitVersion=v${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean"
    done
    "${GO}" build -trimpath -ldflags "${ldflags}" -o "${BIN_DIR}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver >&2
  )
  mv "${BIN_DIR}/kube-apiserver.tmp" "${BIN_DIR}/kube-apiserver"
}

[[ -x "${BIN_DIR}/etcd" ]] || build_etcd
[[ -x "${BIN_DIR}/kube-apiserver" ]] || build_kube_apiserver

has_both "${BIN_DIR}" || { log "build finished without both binaries in ${BIN_DIR}"; exit 1; }
log "control plane binaries ready in ${BIN_DIR}"
echo "${BIN_DIR}"
