#!/usr/bin/env bash
# Build a real Kubernetes API server for the tests (tests/kubeapi.py starts it): kube-apiserver + kubectl and
# etcd + etcdctl at pinned versions, from the Go module proxy, cached under ~/.cache/aetherius/<name>-<version>/.
# Idempotent: a second run only checks the stamps (< 1 s). Cold: 8-14 min of both cores, ~2.3 GB RSS at link,
# ~1 GB module cache + ~3 GB build cache; warm Go caches (binaries deleted): ~15-30 s.
#
# Why not `go install k8s.io/kubernetes/cmd/kube-apiserver@v1.37.2`: k8s.io/kubernetes's go.mod replaces its 31
# staging modules (k8s.io/api, ...) with ./staging/src/..., which `go install pkg@version` refuses. So each pair
# is built from a tiny local module that requires the upstream module and replaces every staging module with its
# published twin (k8s.io/api => k8s.io/api v0.37.2), the list read from the downloaded go.mod. etcd's go.mod has
# local replaces too; same trick.
#
# Go: this machine kind ships Go 1.26 in /usr/local/go. Debian bookworm's golang-go (1.19) is too old for these
# modules and cannot fetch a newer toolchain. Where Go is missing (as root on Debian 12) this script installs
# golang-1.23-go from bookworm-backports and sets GOTOOLCHAIN=go1.27.3: that go command fetches the Go 1.27.3
# toolchain from the module proxy itself (~76 MB, golang.org/toolchain). Anywhere else without Go it says so and
# exits 0: the real-API-server tests then skip with that reason, and the rest of the suite runs.
#
# Usage: install-kube-apiserver.sh [--print-dirs]   (prints the two binary directories, kube's first)
set -euo pipefail

KUBE_VERSION="${AETHERIUS_KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${AETHERIUS_ETCD_VERSION:-v3.7.3}"
CACHE="${AETHERIUS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aetherius}"
KUBE_DIR="$CACHE/kube-apiserver-$KUBE_VERSION"
ETCD_DIR="$CACHE/etcd-$ETCD_VERSION"
BUILD_ID_KUBE="kube-apiserver kubectl $KUBE_VERSION trimpath cgo0 1"
BUILD_ID_ETCD="etcd etcdctl $ETCD_VERSION trimpath cgo0 1"

say() { echo "install-kube-apiserver: $*" >&2; }
done_already() { [ "$(cat "$1/.build-id" 2>/dev/null)" = "$2" ] && for b in "${@:3}"; do [ -x "$1/$b" ] || return 1; done; }

if done_already "$KUBE_DIR" "$BUILD_ID_KUBE" kube-apiserver kubectl \
   && done_already "$ETCD_DIR" "$BUILD_ID_ETCD" etcd etcdctl; then
  [ "${1:-}" = "--print-dirs" ] && printf '%s\n%s\n' "$KUBE_DIR" "$ETCD_DIR"
  exit 0
fi

GO="$(command -v go || true)"
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
if [ -z "$GO" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
   && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
  # Debian 12's own golang (1.19) predates toolchain switching; bookworm-backports' golang-1.23 has it, and then
  # fetches the Go this build wants from the module proxy (GOTOOLCHAIN below).
  say "no Go: installing golang-1.23-go from bookworm-backports, then Go ${GO_TOOLCHAIN:-go1.27.3} via the module proxy"
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-1.23-go >/dev/null \
    && GO=/usr/lib/go-1.23/bin/go && export GOTOOLCHAIN="${GO_TOOLCHAIN:-go1.27.3}"
fi
if [ -z "$GO" ]; then
  say "no Go toolchain: kube-apiserver $KUBE_VERSION / etcd $ETCD_VERSION not built (the real API server tests skip)."
  say "install Go >= 1.21 and set GOTOOLCHAIN=go1.27.3 (see the comment at the top of this script)"
  exit 0
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
GOPROXY="$("$GO" env GOPROXY)"; export GOPROXY

# A tiny module requiring $2@$3, every local (./...) replace of the upstream go.mod redirected to the published
# module of the same path at $4, its tools listed; then `go mod tidy`. $1: the work dir.
make_module() {
  local dir="$1" mod="$2" version="$3" twin="$4"; shift 4
  mkdir -p "$dir"
  local upstream
  upstream="$(cd "$dir" && "$GO" mod download -json "$mod@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [ -f "$upstream" ] || { say "could not download $mod@$version's go.mod"; exit 1; }
  {
    echo "module aetherius.local/build/$(basename "$dir")"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$upstream" | head -1
    echo
    echo "require $mod $version"
    for r in ${EXTRA_REQUIRE:-}; do echo "require ${r%@*} ${r#*@}"; done
    echo
    for t in "$@"; do echo "tool $t"; done
    echo
    # `replace ( a => ./x ... )` blocks and one-line `replace a => ./x`: only the local ones, each to its twin.
    awk '/^replace \($/ {inb=1; next} inb && /^\)/ {inb=0; next}
         inb {print} /^replace [^(]/ {sub(/^replace /, ""); print}' "$upstream" \
      | awk -v twin="$twin" '$3 ~ /^\.\.?\// {print "replace " $1 " => " $1 " " twin}'
  } > "$dir/go.mod"
  (cd "$dir" && "$GO" mod tidy)
}

build_kube() {
  local dir="$CACHE/build/kube-$KUBE_VERSION" twin="v0${KUBE_VERSION#v1}"
  say "building kube-apiserver + kubectl $KUBE_VERSION (first run: 8-14 min on 2 cores)"
  make_module "$dir" k8s.io/kubernetes "$KUBE_VERSION" "$twin" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  # What hack/lib/version.sh stamps in; without it /version says v0.0.0-master.
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local ld="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$KUBE_DIR"
  (cd "$dir" && "$GO" build -trimpath -ldflags "$ld" -o "$KUBE_DIR/" \
     k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
  "$KUBE_DIR/kube-apiserver" --version | grep -q "$KUBE_VERSION" || { say "kube-apiserver reports the wrong version"; exit 1; }
  echo "$BUILD_ID_KUBE" > "$KUBE_DIR/.build-id"
}

build_etcd() {
  local dir="$CACHE/build/etcd-$ETCD_VERSION"
  say "building etcd + etcdctl $ETCD_VERSION"
  # The server module's go.mod names no etcdctl: require it at the same version (tidy would take the newest).
  EXTRA_REQUIRE="go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" make_module "$dir" go.etcd.io/etcd/server/v3 \
    "$ETCD_VERSION" "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3
  mkdir -p "$ETCD_DIR"
  (cd "$dir" && "$GO" build -trimpath -ldflags "-s -w" -o "$ETCD_DIR/etcd" go.etcd.io/etcd/server/v3 \
     && "$GO" build -trimpath -ldflags "-s -w" -o "$ETCD_DIR/etcdctl" go.etcd.io/etcd/etcdctl/v3)
  "$ETCD_DIR/etcd" --version | grep -q "${ETCD_VERSION#v}" || { say "etcd reports the wrong version"; exit 1; }
  echo "$BUILD_ID_ETCD" > "$ETCD_DIR/.build-id"
}

done_already "$ETCD_DIR" "$BUILD_ID_ETCD" etcd etcdctl || build_etcd
done_already "$KUBE_DIR" "$BUILD_ID_KUBE" kube-apiserver kubectl || build_kube
say "ready: $KUBE_DIR $ETCD_DIR"
[ "${1:-}" = "--print-dirs" ] && printf '%s\n%s\n' "$KUBE_DIR" "$ETCD_DIR"
exit 0
