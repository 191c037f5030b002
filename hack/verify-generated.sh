#!/usr/bin/env bash
# verify-generated.sh regenerates the CRD, RBAC and deepcopy code
# and the Helm chart's copies of the CRD and role (hack/sync-chart.sh), and fails
# when that changed any file, so a stale generated file never passes `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

generated() {
  find config/crd/bases config/rbac dist/chart/templates/crd -name '*.yaml' -print0 2>/dev/null
  printf '%s\0' dist/chart/templates/rbac/{manager-role,metrics-auth-role,metrics-reader}.yaml
  find api -name 'zz_generated.*.go' -print0
}
snapshot() { generated | sort -z | xargs -0 sha256sum; }

before="$(snapshot)"
if [[ -z "${before}" ]]; then
  echo "verify-generated: found no generated files to compare; is sha256sum installed?" >&2
  exit 1
fi
make --no-print-directory -s manifests generate CONTROLLER_GEN="${CONTROLLER_GEN:-bin/controller-gen}" >/dev/null
after="$(snapshot)"

if [[ "${before}" != "${after}" ]]; then
  echo "verify-generated: generated files were stale and have been regenerated:" >&2
  diff <(echo "${before}") <(echo "${after}") >&2 || true
  echo "verify-generated: review and commit them (make manifests generate)." >&2
  exit 1
fi
echo "verify-generated: CRD, RBAC, deepcopy and the chart's copies are up to date."
