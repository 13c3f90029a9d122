#!/usr/bin/env bash
# Builds the pinned Envoy Gateway controller (github.com/envoyproxy/gateway/cmd/envoy-gateway) from
# Go modules into a cache outside the repo, with the CRDs of the same version (Gateway API standard
# channel and Envoy Gateway's own). Prints the cache directory (bin/envoy-gateway, crds/). Reuses a
# finished build. Its go.mod has no replace directives, so `go install module@version` works.
# Also copies Envoy Gateway's own Helm chart (chart/), whose RBAC the lab gives the controller.
set -euo pipefail

EG_VERSION="${FLOATIP_EG_VERSION:-1.9.1}"
CACHE="${FLOATIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/floatip}"
ROOT="$CACHE/envoy-gateway-v$EG_VERSION"
log() { echo "[build-eg] $*" >&2; }

if [[ -x "$ROOT/bin/envoy-gateway" && -f "$ROOT/crds/done" && -f "$ROOT/chart/values.yaml" ]]; then
  echo "$ROOT"
  exit 0
fi

command -v go >/dev/null || { log "go is not installed"; exit 1; }
mkdir -p "$ROOT/bin" "$ROOT/crds"
started=$(date +%s)
module="github.com/envoyproxy/gateway"

log "resolving $module@v$EG_VERSION"
src=$(go mod download -json "$module@v$EG_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -d "$src" ]] || { log "could not download $module@v$EG_VERSION"; exit 1; }
if grep -q '^replace\|^[[:space:]]*replace' "$src/go.mod"; then
  log "$module@v$EG_VERSION has replace directives: go install cannot build it; use a wrapper module"
  exit 1
fi

# The chart's CRD templates are plain YAML inside one {{- if }} ... {{- end }}: drop those lines.
if [[ ! -f "$ROOT/crds/done" ]]; then
  for f in "$src/charts/gateway-crds-helm/templates/standard-gatewayapi-crds.yaml" \
    "$src"/charts/gateway-crds-helm/templates/generated/*.yaml; do
    sed '/^{{-/d' "$f" >"$ROOT/crds/$(basename "$f")"
  done
  touch "$ROOT/crds/done"
fi

# The gateway-helm chart ships values.tmpl.yaml with the image filled in by EG's release tooling.
if [[ ! -f "$ROOT/chart/values.yaml" ]]; then
  rm -rf "$ROOT/chart.tmp"
  cp -r "$src/charts/gateway-helm" "$ROOT/chart.tmp"
  chmod -R u+w "$ROOT/chart.tmp"
  sed -e "s|\${GatewayImage}|docker.io/envoyproxy/gateway:v$EG_VERSION|" \
    -e 's|\${GatewayImagePullPolicy}|IfNotPresent|' "$ROOT/chart.tmp/values.tmpl.yaml" >"$ROOT/chart.tmp/values.yaml"
  mv "$ROOT/chart.tmp" "$ROOT/chart"
fi

if [[ ! -x "$ROOT/bin/envoy-gateway" ]]; then
  log "building envoy-gateway v$EG_VERSION (the first build takes several minutes)"
  GOBIN="$ROOT/bin.tmp" go install -trimpath \
    -ldflags "-s -w -X $module/internal/cmd/version.envoyGatewayVersion=v$EG_VERSION" \
    "$module/cmd/envoy-gateway@v$EG_VERSION"
  mv "$ROOT/bin.tmp/envoy-gateway" "$ROOT/bin/envoy-gateway"
  rmdir "$ROOT/bin.tmp"
fi

log "done in $(($(date +%s) - started))s"
echo "$ROOT"
