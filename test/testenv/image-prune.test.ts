// What testenv/build-image.sh prunes after a build (testenv/image-prune.ts): only floatip's own
// images and containers, never the layer cache of the current build, children before parents, and
// the most recently used unpacked images.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOwnImage, planPrune, type PruneInput, type StoredImage } from "../../testenv/image-prune.js";

const RUNTIME = "localhost/floatip-base:base-trixie-nft-6fe2e205826d";
const BUILDER = "localhost/floatip-base:build-trixie-6b7f98e83aba";

/** A store as two builds with --layers leave it: bases, build-stage chains, runtime chains, tags. */
function store(): StoredImage[] {
  const img = (id: string, layers: string[], names: string[] = [], baseName?: string): StoredImage => ({
    id,
    names,
    layers,
    history: layers.length,
    baseName,
  });
  return [
    img("runtime", ["r"], [RUNTIME]),
    img("builder", ["b"], [BUILDER]),
    img("old-base", ["o"], ["localhost/floatip-base:base-trixie-6048737e8c23"]),
    // Build stage: npm ci (shared), then the sources of build 1 and of build 2.
    img("npm", ["b", "npm"], [], BUILDER),
    { ...img("npm-env", ["b", "npm"], [], BUILDER), history: 3 },
    img("src1", ["b", "npm", "src1"], [], BUILDER),
    img("tsc1", ["b", "npm", "src1", "tsc1"], ["localhost/floatip-build:key1"], BUILDER),
    img("src2", ["b", "npm", "src2"], [], BUILDER),
    img("tsc2", ["b", "npm", "src2", "tsc2"], ["localhost/floatip-build:key2"], BUILDER),
    // Runtime stage of each build.
    img("app1", ["r", "app1"], ["localhost/floatip:key1"], RUNTIME),
    img("app2", ["r", "app2"], ["localhost/floatip:key2"], RUNTIME),
    // A stage of an old base.
    img("old-stage", ["o", "x"], [], "localhost/floatip-base:base-trixie-6048737e8c23"),
    // Not floatip's: someone else's image, their untagged build images, a mixed tag.
    img("theirs", ["b", "npm", "t"], ["docker.io/library/debian:trixie"]),
    img("their-stage", ["z", "y"], [], "docker.io/library/debian:trixie"),
    img("dangling", ["b", "npm", "d"]),
    img("mixed", ["r", "app1"], ["localhost/floatip:key0", "localhost/mine:1"], RUNTIME),
  ];
}

const input = (over: Partial<PruneInput> = {}): PruneInput => ({
  images: store(),
  containers: [],
  dirs: [],
  keep: ["localhost/floatip:key2", "localhost/floatip-build:key2", RUNTIME, BUILDER],
  currentDir: "floatip-key2",
  keepDirs: 3,
  ...over,
});

describe("pruning floatip's image builds", () => {
  it("removes older builds and bases, keeps this build, its layer cache and everything not floatip's", () => {
    expect(planPrune(input()).images).toEqual(["tsc1", "src1", "app1", "old-stage", "old-base"]);
  });

  it("keeps the npm ci layers an earlier build shares with this one (metadata-only steps too)", () => {
    const removed = planPrune(input()).images;
    for (const id of ["npm", "npm-env", "runtime", "builder"]) expect(removed).not.toContain(id);
  });

  it("keeps the image and build stage (with its layer cache) of every unpacked image that stays", () => {
    const dirs = [
      { name: "floatip-key1", usedAt: 5 },
      { name: "floatip-key2", usedAt: 1 },
    ];
    expect(planPrune(input({ dirs })).images).toEqual(["old-stage", "old-base"]);
    expect(planPrune(input({ dirs, keepDirs: 1 })).images).toEqual([
      "tsc1",
      "src1",
      "app1",
      "old-stage",
      "old-base",
    ]);
  });

  it("owns only images whose every name is floatip's, or untagged ones built on a floatip base", () => {
    const own = store()
      .filter(isOwnImage)
      .map((i) => i.id);
    expect(own).not.toContain("theirs");
    expect(own).not.toContain("their-stage");
    expect(own).not.toContain("dangling");
    expect(own).not.toContain("mixed");
    expect(own).toContain("old-stage");
  });

  it("removes only floatip's containers", () => {
    const containers = [
      { id: "c1", name: "floatip-base-working-container" },
      { id: "c2", name: "floatip-unpack-123" },
      { id: "c3", name: "debian-working-container" },
      { id: "c4", name: "my-floatip-test" },
    ];
    expect(planPrune(input({ containers })).containers).toEqual(["c1", "c2"]);
  });

  it("keeps the current unpacked image and the most recently used others, drops half-unpacked ones", () => {
    const dirs = [
      { name: "floatip-a", usedAt: 5 },
      { name: "floatip-b", usedAt: 9 },
      { name: "floatip-key2", usedAt: 1 },
      { name: "floatip-c", usedAt: 7 },
      { name: "floatip-d.tmp", usedAt: 10 },
    ];
    expect(planPrune(input({ dirs })).dirs).toEqual(["floatip-a", "floatip-d.tmp"]);
    expect(planPrune(input({ dirs, keepDirs: 1 })).dirs).toEqual([
      "floatip-a",
      "floatip-b",
      "floatip-c",
      "floatip-d.tmp",
    ]);
  });

  it("holds for any store: foreign images and the kept chains stay, every other floatip image goes, children first", () => {
    const layer = fc.constantFrom("b", "r", "x", "y", "z");
    const image = fc.record({
      layers: fc.array(layer, { minLength: 1, maxLength: 4 }),
      names: fc.constantFrom<string[]>(
        [],
        ["localhost/floatip:k1"],
        ["localhost/floatip:k2"],
        [RUNTIME],
        ["docker.io/x:1"],
        ["localhost/floatip:k3", "docker.io/x:2"],
      ),
      history: fc.nat(6),
      baseName: fc.constantFrom(undefined, RUNTIME, "docker.io/x:1"),
    });
    fc.assert(
      fc.property(
        fc.array(image, { maxLength: 12 }),
        fc.subarray(["localhost/floatip:k2", RUNTIME]),
        (raw, keep) => {
          const images = raw.map((i, n) => ({ ...i, id: `i${n}` }));
          const plan = planPrune({ images, containers: [], dirs: [], keep, currentDir: "x", keepDirs: 1 });
          const kept = images.filter((i) => isOwnImage(i) && i.names.some((n) => keep.includes(n)));
          const prefixOf = (a: StoredImage, b: StoredImage) =>
            a.layers.length <= b.layers.length && a.layers.every((l, k) => b.layers[k] === l);
          for (const i of images) {
            const expected = isOwnImage(i) && !kept.some((k) => prefixOf(i, k));
            expect(plan.images.includes(i.id)).toBe(expected);
          }
          const at = (id: string) => plan.images.indexOf(id);
          for (const a of images)
            for (const b of images)
              if (at(a.id) >= 0 && at(b.id) >= 0 && prefixOf(a, b) && b.layers.length > a.layers.length)
                expect(at(b.id)).toBeLessThan(at(a.id));
        },
      ),
    );
  });
});
