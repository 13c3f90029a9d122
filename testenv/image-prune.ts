/**
 * What testenv/build-image.sh may delete after a build: floatip's own images and containers in the
 * shared container storage that the next build cannot reuse, and unpacked images nobody used lately.
 * Pure: testenv/prune-image-cache.ts reads the storage and the cache directory and does the deleting.
 *
 * Ownership, so nothing else in the storage is ever touched:
 * - an image is floatip's when every name it has is one floatip's build gives (localhost/floatip:*,
 *   localhost/floatip-build:*, localhost/floatip-base:*), or when it has no name and buildah recorded
 *   a floatip base as its base (the org.opencontainers.image.base.name annotation every layer of a
 *   build stage carries): the untagged build-stage images `buildah bud --layers` leaves;
 * - a container is floatip's when its name starts with "floatip-": bud names its working containers
 *   after the stage's base (floatip-base-working-container…), the script names its own.
 * Kept: the images named in `keep` (this build's image, its build stage, its two bases), the image
 * and build stage of every unpacked image that stays (localhost/floatip:<key>,
 * localhost/floatip-build:<key> for floatip-<key>/), and every floatip image whose layers are a
 * prefix of theirs (the layer cache the next build reuses: `npm ci` stays cached across source
 * changes, also when a worktree with other sources builds next). Everything else of floatip's goes:
 * older builds' stages and images, old bases, leftover containers (the caller holds the build lock,
 * so no build is running).
 */

const OWN_NAME = /^localhost\/floatip(-build|-base)?:/;
const OWN_BASE = /^localhost\/floatip-base:/;
const OWN_CONTAINER = /^floatip-/;

export interface StoredImage {
  id: string;
  names: string[];
  /** The image's layers (diff IDs), base first. */
  layers: string[];
  /** Entries in the image's history (metadata-only steps add one but no layer). */
  history: number;
  /** The base name buildah recorded when it built the image from one (undefined: none). */
  baseName?: string;
}

export interface StoredContainer {
  id: string;
  name: string;
}

export interface UnpackedImage {
  /** Directory name in the cache: floatip-<key> (or floatip-<key>.tmp, a build that died unpacking). */
  name: string;
  /** Last use (ms since the epoch): the build script touches the directory on every hit. */
  usedAt: number;
}

export interface PruneInput {
  images: StoredImage[];
  containers: StoredContainer[];
  dirs: UnpackedImage[];
  /** Image names to keep with their layer ancestors. */
  keep: string[];
  /** This build's unpacked image, always kept. */
  currentDir: string;
  /** How many unpacked images to keep in all, the current one included (at least 1). */
  keepDirs: number;
}

export interface PrunePlan {
  containers: string[];
  /** Image IDs, children before their parents (buildah refuses to remove an image with children). */
  images: string[];
  dirs: string[];
}

export function isOwnImage(image: StoredImage): boolean {
  if (image.names.length > 0) return image.names.every((n) => OWN_NAME.test(n));
  return image.baseName !== undefined && OWN_BASE.test(image.baseName);
}

function isPrefix(prefix: string[], of: string[]): boolean {
  return prefix.length <= of.length && prefix.every((layer, i) => of[i] === layer);
}

export function planPrune(input: PruneInput): PrunePlan {
  const complete = input.dirs
    .filter((d) => d.name !== input.currentDir && !d.name.endsWith(".tmp"))
    .sort((a, b) => b.usedAt - a.usedAt || a.name.localeCompare(b.name));
  const keptDirs = new Set([
    input.currentDir,
    ...complete.slice(0, Math.max(0, input.keepDirs - 1)).map((d) => d.name),
  ]);
  const keep = new Set(input.keep);
  for (const dir of keptDirs) {
    const key = dir.replace(/^floatip-/, "");
    keep.add(`localhost/floatip:${key}`).add(`localhost/floatip-build:${key}`);
  }

  const own = input.images.filter(isOwnImage);
  const kept = own.filter((i) => i.names.some((n) => keep.has(n)));
  const removable = own.filter((i) => !kept.some((k) => isPrefix(i.layers, k.layers)));
  removable.sort(
    (a, b) => b.layers.length - a.layers.length || b.history - a.history || a.id.localeCompare(b.id),
  );

  return {
    containers: input.containers.filter((c) => OWN_CONTAINER.test(c.name)).map((c) => c.id),
    images: removable.map((i) => i.id),
    dirs: input.dirs
      .filter((d) => !keptDirs.has(d.name))
      .map((d) => d.name)
      .sort(),
  };
}
