#!/usr/bin/env bash
# Everything floatip's tests and lab need, from a fresh clone. Idempotent; fast when warm.
# Needs root (network namespaces, raw sockets) and reaches only the package registries.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[setup] $*" >&2; }

[[ $(id -u) -eq 0 ]] || { log "run as root: the lab creates network namespaces and raw sockets"; exit 1; }

# Debian packages: namespaces/links (iproute2), kube-proxy's nftables and iptables modes (nftables,
# iptables), the API relay (socat), certificates (openssl), parent-death signals (util-linux
# setpriv), probes (curl, ping, arping), the keepalived baseline of the failover benchmark, and
# floatip's image built from Debian packages (buildah, mmdebstrap).
packages=(iproute2 nftables iptables socat openssl util-linux curl iputils-ping iputils-arping keepalived make g++ python3 buildah mmdebstrap)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi

# Rebuilt when an addon is missing or a source (or binding.gyp) is newer than it.
native_stale=""
for addon in floatip_rawsocket floatip_pump; do
  built="native/build/Release/${addon}.node"
  if [[ ! -f "$built" ]] || [[ -n "$(find native/src native/binding.gyp -newer "$built" 2>/dev/null)" ]]; then
    native_stale=1
  fi
done
if [[ -n "$native_stale" ]]; then
  log "building the native addons (raw socket, heartbeat pump) against the local Node headers"
  npm_config_nodedir=/usr npx node-gyp rebuild --directory native --loglevel=warn >/dev/null
fi

log "kube-apiserver, kube-proxy, etcd, kubectl, helm (built from Go modules into the cache on first use)"
testenv/build-k8s.sh >/dev/null
log "the Envoy Gateway controller and its CRDs (built from Go modules into the cache on first use)"
testenv/build-eg.sh >/dev/null

if [[ -z "${FLOATIP_SKIP_IMAGE:-}" ]]; then
  log "floatip's image from deploy/Containerfile (Debian bases built and cached on first use; FLOATIP_SKIP_IMAGE=1 skips)"
  testenv/build-image.sh >/dev/null
fi

log "compiling TypeScript"
npx tsc -p tsconfig.json
# `floatip` and `floatip-lab` on PATH: the built CLIs (node shebang), linked so a rebuild needs no
# new link. floatip-lab (the lab's own entry point) exists only in a source tree, never in the image.
chmod +x dist/src/cli/main.js dist/lab/cli.js
ln -sfn "$PWD/dist/src/cli/main.js" /usr/local/bin/floatip
ln -sfn "$PWD/dist/lab/cli.js" /usr/local/bin/floatip-lab
log "floatip -> $(readlink /usr/local/bin/floatip), floatip-lab -> $(readlink /usr/local/bin/floatip-lab)"
log "ready"
