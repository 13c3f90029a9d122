#!/usr/bin/env bash
# Builds pinned kube-apiserver, kube-proxy, kubectl, etcd and helm from Go modules (no binary
# downloads), into a cache outside the repo. Prints the bin directory. Reuses finished binaries and
# builds only the missing ones (a cache from before kube-proxy was added builds just kube-proxy).
#
# k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces every staging module
# (k8s.io/api, ...) with a local path. A small wrapper module requires it and replaces
# each staging module with the published v0.<minor>.<patch> instead. etcd's server is
# already in that module graph, so the same wrapper builds etcd through etcdmain.
set -euo pipefail

K8S_VERSION="${FLOATIP_K8S_VERSION:-1.36.3}"
HELM_VERSION="${FLOATIP_HELM_VERSION:-3.19.5}"
CACHE="${FLOATIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/floatip}"
ROOT="$CACHE/k8s-v$K8S_VERSION-helm-v$HELM_VERSION"
BIN="$ROOT/bin"
SRC="$ROOT/src"
log() { echo "[build-k8s] $*" >&2; }

K8S_CMDS=(kube-apiserver kube-proxy kubectl)
missing=()
for b in "${K8S_CMDS[@]}" etcd helm; do [[ -x "$BIN/$b" ]] || missing+=("$b"); done
if ((${#missing[@]} == 0)); then
  echo "$BIN"
  exit 0
fi
needs() { [[ " ${missing[*]} " == *" $1 "* ]]; }

command -v go >/dev/null || { log "go is not installed"; exit 1; }
mkdir -p "$BIN" "$SRC/etcd"
cd "$SRC"
started=$(date +%s)

log "resolving k8s.io/kubernetes@v$K8S_VERSION"
modfile=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[[ -f "$modfile" ]] || { log "could not download k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
goline=$(grep -m1 '^go ' "$modfile")
staging_version="v0.${K8S_VERSION#*.}"

{
  echo "module floatip.local/k8sbin"
  echo
  echo "$goline"
  echo
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  echo
  # Every v0.0.0 requirement of k8s.io/kubernetes is a staging module.
  grep -E '^[[:space:]]+k8s\.io/[^ ]+ v0\.0\.0$' "$modfile" | awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  echo
  echo "tool ("
  for cmd in "${K8S_CMDS[@]}"; do echo "  k8s.io/kubernetes/cmd/$cmd"; done
  echo ")"
} > go.mod

cat > etcd/main.go <<'GO'
// etcd built from the same module graph as kube-apiserver.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO

log "go mod tidy"
go mod tidy

minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

for cmd in "${K8S_CMDS[@]}"; do
  needs "$cmd" || continue
  log "building $cmd (the first build takes several minutes)"
  go build -trimpath -ldflags "$ldflags" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$BIN/$cmd.tmp" "$BIN/$cmd"
done
if needs etcd; then
  log "building etcd"
  go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" ./etcd
  mv "$BIN/etcd.tmp" "$BIN/etcd"
fi

if needs helm; then
  log "building helm v$HELM_VERSION"
  GOBIN="$SRC/helm-bin" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  mv "$SRC/helm-bin/helm" "$BIN/helm"
fi

log "done in $(( $(date +%s) - started ))s"
echo "$BIN"
