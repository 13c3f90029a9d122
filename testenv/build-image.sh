#!/usr/bin/env bash
# Builds floatip's image from deploy/Containerfile with buildah, on bases made from Debian packages
# (registry images cannot be pulled here), and unpacks its root file system so the lab can run the
# chart's containers from it (lab/image.ts). Prints the unpacked image's directory: rootfs/ and
# config.json (the image's own configuration: entrypoint, user, size).
#
# Caches outside the repo (FLOATIP_CACHE, default ~/.cache/floatip/image):
#   base-trixie-nft.tar  runtime base: Debian trixie (variant apt) + nodejs, nftables, by mmdebstrap
#   build-trixie.tar  build base: the same + npm, libnode-dev (Node headers), python3, make, g++
#   floatip-<key>/    the unpacked image of one source tree (key = hash of every build input); the
#                     FLOATIP_IMAGE_KEEP (default 3) most recently used stay, older ones are pruned
#   build.log         the last build's full output (progress shows its STEP lines)
# Warm (the same sources): prints the directory at once. Sources changed: buildah's layer cache keeps
# `npm ci` unless package*.json changed. After a build, floatip's images and containers that the next
# build cannot reuse are removed from the container storage (testenv/image-prune.ts says which; never
# anything floatip's build did not make). One build at a time (a lock in the cache directory).
set -euo pipefail
# base() runs in $(...): without this a failed mmdebstrap there went unnoticed (an empty base).
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

CACHE="${FLOATIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/floatip}/image"
SUITE=trixie
MIRROR="${FLOATIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { echo "[build-image] $*" >&2; }
mkdir -p "$CACHE"

# Everything the Containerfile copies, plus the Containerfile itself and this script (not lab/ or
# testenv/: they are never in the image, so editing them rebuilds nothing).
inputs=(deploy/Containerfile deploy/Containerfile.dockerignore deploy/image testenv/build-image.sh package.json package-lock.json tsconfig.json native/binding.gyp native/src src)
key=$( (git ls-files -z -- "${inputs[@]}" | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
out="$CACHE/floatip-$key"
warm() {
  [[ -f "$out/config.json" && -x "$out/rootfs/usr/bin/node" ]] || return 1
  touch "$out" # last use: pruning keeps the most recently used unpacked images
  echo "$out"
}
warm && exit 0

exec 9>"$CACHE/build.lock"
if ! flock -n 9; then
  log "waiting for another build of floatip's image to finish ($CACHE/build.lock)"
  flock 9
fi
warm && exit 0

for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null || { log "$tool is not installed (Debian package $tool; scripts/setup.sh installs it)"; exit 1; }
done
started=$(date +%s)

# One base tarball per package set; mmdebstrap writes to a temporary name so a failed run leaves none.
base() {
  local tar="$CACHE/$1" packages=$2
  if [[ ! -s "$tar" ]]; then
    log "mmdebstrap $SUITE with $packages -> $tar (a few minutes)"
    rm -f "$tar.tmp"
    if ! mmdebstrap --quiet --format=tar --variant=apt --include="$packages" "$SUITE" "$tar.tmp" "$MIRROR" >&2 ||
      [[ ! -s "$tar.tmp" ]]; then
      rm -f "$tar.tmp"
      log "mmdebstrap could not make the base $1 from $MIRROR (FLOATIP_DEBIAN_MIRROR); its messages are above"
      exit 1
    fi
    mv "$tar.tmp" "$tar"
  fi
  # Import as an image named after the tarball's checksum, so a rebuilt base is a new image.
  local image
  image="localhost/floatip-base:${1%.tar}-$(sha256sum "$tar" | cut -c1-12)"
  if ! buildah inspect --type image "$image" >/dev/null 2>&1; then
    log "importing $tar as $image"
    local ctr
    ctr=$(buildah from --name "floatip-import-$$" scratch)
    buildah add --quiet "$ctr" "$tar" / >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$ctr"
    buildah commit --quiet --rm "$ctr" "$image" >/dev/null
  fi
  echo "$image"
}
runtime=$(base base-trixie-nft.tar ca-certificates,nodejs,nftables)
builder=$(base build-trixie.tar ca-certificates,nodejs,npm,libnode-dev,python3,make,g++)

image="localhost/floatip:$key"
stage="localhost/floatip-build:$key"
buildlog="$CACHE/build.log"
: >"$buildlog"
# The build's full output goes to build.log; its STEP lines are the progress on stderr.
bud() {
  local status=0
  buildah bud "$@" 2>&1 | tee -a "$buildlog" | { grep --line-buffered -E '^(\[[0-9]+/[0-9]+\] )?STEP [0-9]+/[0-9]+:' || true; } >&2 || status=$?
  if ((status)); then
    log "buildah bud failed (exit $status); the end of $buildlog:"
    tail -n 40 "$buildlog" >&2
    exit "$status"
  fi
}
# The host's CA bundle for the build's own downloads (npm ci), where egress goes through a proxy with
# its own CA; a build-time volume, so it is not in any layer of the image.
cas=()
[[ -f /etc/ssl/certs/ca-certificates.crt ]] && cas=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
# chroot isolation: no OCI runtime or cgroups needed (podman/crun here refuse cgroups v1 hybrid mode).
# --force-rm: a failed step's container goes too.
opts=(--isolation chroot --network host --layers --force-rm --timestamp 0 "${cas[@]}"
  --build-arg BUILD_IMAGE="$builder" --build-arg RUNTIME_IMAGE="$runtime" --build-arg NODE_HEADERS=/usr
  -f deploy/Containerfile)
# The build stage gets a name of its own: its layers (npm ci above all) are the cache pruning keeps.
log "buildah bud --target build -> $stage"
bud "${opts[@]}" --target build -t "$stage" .
log "buildah bud deploy/Containerfile -> $image"
bud "${opts[@]}" -t "$image" .

log "unpacking $image -> $out"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
ctr=$(buildah from --name "floatip-unpack-$$" --pull-never "$image")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
cp -a "$mnt/." "$out.tmp/rootfs"
buildah umount "$ctr" >/dev/null
buildah inspect --type image "$image" >"$out.tmp/config.json"
rm -rf "$out"
mv "$out.tmp" "$out"

buildah rm "$ctr" >/dev/null
trap - EXIT

# What this build makes stale: older builds' stages and images, old bases, leftover containers, and
# unpacked images beyond the most recently used few. The bases, this image and its stage stay.
node --import tsx testenv/prune-image-cache.ts "$CACHE" "floatip-$key" "${FLOATIP_IMAGE_KEEP:-3}" \
  "$image" "$stage" "$runtime" "$builder" || log "pruning failed (the image is fine)"

log "done in $(($(date +%s) - started))s; image $(buildah images --format '{{.Size}}' "$image" | head -n 1)"
echo "$out"
