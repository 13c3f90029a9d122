/**
 * testenv/build-image.sh's last step: removes what testenv/image-prune.ts selects (floatip's stale
 * build images and leftover containers in the container storage, unpacked images of old sources in
 * the cache directory). Runs under the build's lock; a failure to remove one thing is logged and
 * skipped, never fails the build.
 *
 *   node --import tsx testenv/prune-image-cache.ts <cache dir> <current dir name> <keep dirs> <image>...
 *
 * FLOATIP_PRUNE_DRY_RUN=1 prints what it would remove (image IDs with their names) and removes nothing.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { planPrune, type StoredContainer, type StoredImage, type UnpackedImage } from "./image-prune.js";

const log = (line: string) => console.error(`[build-image] ${line}`);

function buildah(args: string[]): string {
  return execFileSync("buildah", args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

interface ImageInspect {
  OCIv1?: { rootfs?: { diff_ids?: string[] }; history?: unknown[] };
  ImageAnnotations?: Record<string, string> | null;
}

function storedImages(): StoredImage[] {
  const list = (JSON.parse(buildah(["images", "--all", "--no-trunc", "--json"]) || "null") ?? []) as {
    id: string;
    names: string[] | null;
  }[];
  return list.map(({ id, names }) => {
    const inspect = JSON.parse(buildah(["inspect", "--type", "image", id])) as ImageInspect;
    return {
      id,
      names: names ?? [],
      layers: inspect.OCIv1?.rootfs?.diff_ids ?? [],
      history: inspect.OCIv1?.history?.length ?? 0,
      baseName: inspect.ImageAnnotations?.["org.opencontainers.image.base.name"],
    };
  });
}

function storedContainers(): StoredContainer[] {
  const list = (JSON.parse(buildah(["containers", "--all", "--json"]) || "null") ?? []) as {
    id: string;
    containername: string;
  }[];
  return list.map((c) => ({ id: c.id, name: c.containername }));
}

function unpackedImages(cache: string): UnpackedImage[] {
  return readdirSync(cache)
    .filter((n) => /^floatip-[0-9a-f]+(\.tmp)?$/.test(n))
    .map((name) => ({ name, usedAt: statSync(join(cache, name)).mtimeMs }));
}

function tryEach(what: string, items: string[], remove: (item: string) => void): number {
  let done = 0;
  for (const item of items) {
    try {
      remove(item);
      done++;
    } catch (err) {
      log(`could not remove ${what} ${item}: ${(err as Error).message.trim().split("\n").pop()}`);
    }
  }
  return done;
}

function main(argv: string[]): void {
  const [cache, currentDir, keepDirs, ...keep] = argv;
  if (!cache || !currentDir || !keepDirs || keep.length === 0)
    throw new Error("usage: prune-image-cache.ts <cache dir> <current dir name> <keep dirs> <image>...");
  const stored = storedImages();
  const plan = planPrune({
    images: stored,
    containers: storedContainers(),
    dirs: unpackedImages(cache),
    keep,
    currentDir,
    keepDirs: Math.max(1, Number(keepDirs) || 1),
  });
  if (process.env.FLOATIP_PRUNE_DRY_RUN) {
    console.log(JSON.stringify(plan, null, 1));
    return;
  }
  const containers = tryEach("container", plan.containers, (id) => buildah(["rm", id]));
  // rmi also deletes the untagged parents its removal leaves dangling: those are gone already.
  const images = tryEach("image", plan.images, (id) => {
    try {
      // By its names when it has any: buildah refuses to remove an image with several tags by ID.
      const names = stored.find((i) => i.id === id)?.names ?? [];
      buildah(["rmi", ...(names.length > 0 ? names : [id])]);
    } catch (err) {
      if (!/image not known/.test((err as Error).message)) throw err;
    }
  });
  const dirs = tryEach("directory", plan.dirs, (name) =>
    rmSync(join(cache, name), { recursive: true, force: true }),
  );
  log(
    `pruned ${images} of floatip's build images, ${containers} leftover containers, ${dirs} unpacked images of older sources`,
  );
}

main(process.argv.slice(2));
