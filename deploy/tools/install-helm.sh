#!/usr/bin/env bash
# Build helm from the Go module proxy once and keep it in $(go env GOPATH)/bin; later runs only check it
# (≈ 3 min the first time on 2 cores, ≈ 0.1 s after). tests/test_deploy_helm.py runs `helm lint` and
# `helm template` with it; .ci/run calls this script before the tests.
# No Go toolchain: says so and exits 0, so the helm tests skip with that reason instead of failing here.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.16.4}"
# What helm's own Makefile stamps in: the version, and the Kubernetes version `helm template`/`lint` assume
# (a plain `go install` leaves v1.20, older than the chart's kubeVersion). v3.16.x is built on client-go 0.31.
K8S_MAJOR=1
K8S_MINOR=31
BUILD_ID="${HELM_VERSION} k8s ${K8S_MAJOR}.${K8S_MINOR}"

if ! command -v go >/dev/null 2>&1; then
  echo "install-helm: no Go toolchain; helm ${HELM_VERSION} not installed (the helm tests will skip)" >&2
  exit 0
fi
bin="$(go env GOPATH)/bin/helm"
stamp="${bin}.build-id"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$BUILD_ID" ]; then
  echo "$bin"
  exit 0
fi
echo "install-helm: building helm ${HELM_VERSION} with go install (first run: a few minutes)" >&2
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=${K8S_MAJOR} -X ${pkg}.k8sVersionMinor=${K8S_MINOR}"
done
CGO_ENABLED=0 go install -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
"$bin" version --template '{{.Version}}' | grep -qx "${HELM_VERSION}"
echo "$BUILD_ID" > "$stamp"
echo "$bin"
