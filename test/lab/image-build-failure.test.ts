// floatip's image cannot be built (here: the Debian mirror for its bases does not answer): the lab
// says which component failed, why, and what to run, before it has started anything.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LabCluster } from "../../lab/cluster.js";
import { Lab } from "../../lab/lab.js";

describe("lab start-up when floatip's image cannot be built", () => {
  const cache = mkdtempSync(join(tmpdir(), "floatip-imagecache-"));

  afterAll(() => rmSync(cache, { recursive: true, force: true }));

  it("fails with the build's own message and the command to run, and starts nothing", async () => {
    // An empty cache (so the build must start with the bases) and a mirror on loopback that refuses.
    process.env.FLOATIP_CACHE = cache;
    process.env.FLOATIP_DEBIAN_MIRROR = "http://127.0.0.1:9/debian";
    const progress: string[] = [];
    await expect(
      LabCluster.create({ nodes: 1, image: {}, progress: (l) => progress.push(l) }),
    ).rejects.toThrow(
      /building floatip's image failed \(exit code 1\); run testenv\/build-image\.sh[^\n]*\n[\s\S]*mmdebstrap could not make the base base-trixie-nft\.tar from http:\/\/127\.0\.0\.1:9\/debian/,
    );
    // The build's own lines were the progress; no API server, namespaces or half-written bases.
    expect(progress.some((l) => l.includes("[build-image] mmdebstrap trixie"))).toBe(true);
    expect(progress.some((l) => l.includes("kube-apiserver"))).toBe(false);
    expect(Lab.existingNamespaces(`fip-${process.pid}-`)).toEqual([]);
    expect(readdirSync(join(cache, "image")).filter((n) => n.endsWith(".tar") || n.endsWith(".tmp"))).toEqual(
      [],
    );
  });
});
