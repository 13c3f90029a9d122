#!/usr/bin/env bash
# Builds floatip's image from deploy/Containerfile with buildah, on bases made from Debian packages
# (registry images cannot be pulled here), and unpacks its root file system so the lab can run the
# chart's containers from it (lab/image.ts). Prints the unpacked image's directory: rootfs/ and
# config.json (the image's own configuration: entrypoint, user, size).
#
# Caches outside the repo (FLOATIP_CACHE, default ~/.cache/floatip/image):
#   base-trixie-nft.tar  runtime base: Debian trixie (variant apt) + nodejs, nftables, by mmdebstrap
#   build-trixie.tar  build base: the same + npm, libnode-dev (Node headers), python3, make, g++
#   floatip-<key>/    the unpacked image of one source tree (key = hash of every build input)
# Warm (the same sources): prints the directory at once. Sources changed: buildah's layer cache keeps
# `npm ci` unless package*.json changed.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${FLOATIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/floatip}/image"
SUITE=trixie
MIRROR="${FLOATIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { echo "[build-image] $*" >&2; }
mkdir -p "$CACHE"

# Everything the Containerfile copies, plus the Containerfile itself and this script.
inputs=(deploy/Containerfile deploy/image testenv/build-image.sh package.json package-lock.json tsconfig.json native/binding.gyp native/src src lab testenv)
key=$( (git ls-files -z -- "${inputs[@]}" | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
out="$CACHE/floatip-$key"
if [[ -f "$out/config.json" && -x "$out/rootfs/usr/bin/node" ]]; then
  echo "$out"
  exit 0
fi

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { log "$tool is not installed (Debian package $tool; scripts/setup.sh installs it)"; exit 1; }
done
started=$(date +%s)

# One base tarball per package set; mmdebstrap writes to a temporary name so a failed run leaves none.
base() {
  local tar="$CACHE/$1" packages=$2
  if [[ ! -s "$tar" ]]; then
    log "mmdebstrap $SUITE with $packages -> $tar (a few minutes)"
    mmdebstrap --quiet --format=tar --variant=apt --include="$packages" "$SUITE" "$tar.tmp" "$MIRROR" >&2
    mv "$tar.tmp" "$tar"
  fi
  # Import as an image named after the tarball's checksum, so a rebuilt base is a new image.
  local image
  image="localhost/floatip-base:${1%.tar}-$(sha256sum "$tar" | cut -c1-12)"
  if ! buildah inspect --type image "$image" >/dev/null 2>&1; then
    log "importing $tar as $image"
    local ctr
    ctr=$(buildah from scratch)
    buildah add --quiet "$ctr" "$tar" / >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    buildah commit --quiet --rm "$ctr" "$image" >/dev/null
  fi
  echo "$image"
}
runtime=$(base base-trixie-nft.tar ca-certificates,nodejs,nftables)
builder=$(base build-trixie.tar ca-certificates,nodejs,npm,libnode-dev,python3,make,g++)

image="localhost/floatip:$key"
log "buildah bud deploy/Containerfile -> $image"
# The host's CA bundle for the build's own downloads (npm ci), where egress goes through a proxy with
# its own CA; a build-time volume, so it is not in any layer of the image.
cas=()
[[ -f /etc/ssl/certs/ca-certificates.crt ]] && cas=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
# chroot isolation: no OCI runtime or cgroups needed (podman/crun here refuse cgroups v1 hybrid mode).
buildah bud --quiet --isolation chroot --network host --layers --timestamp 0 "${cas[@]}" \
  --build-arg BUILD_IMAGE="$builder" --build-arg RUNTIME_IMAGE="$runtime" --build-arg NODE_HEADERS=/usr \
  -f deploy/Containerfile -t "$image" . >&2

log "unpacking $image -> $out"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
ctr=$(buildah from --pull-never "$image")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
cp -a "$mnt/." "$out.tmp/rootfs"
buildah umount "$ctr" >/dev/null
buildah inspect --type image "$image" >"$out.tmp/config.json"
rm -rf "$out"
mv "$out.tmp" "$out"

# Older unpacked trees and images of earlier sources go; the bases and the layer cache stay.
for old in "$CACHE"/floatip-*; do
  [[ "$old" == "$out" ]] || rm -rf "$old"
done
buildah images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/floatip:' | grep -v ":$key\$" |
  xargs -r buildah rmi >/dev/null 2>&1 || true

log "done in $(($(date +%s) - started))s; image $(buildah images --format '{{.Size}}' "$image")"
echo "$out"
