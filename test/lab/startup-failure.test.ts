// A real component that cannot start: the lab says which one and why, and leaves nothing behind.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LabCluster } from "../../lab/cluster.js";
import { Lab } from "../../lab/lab.js";
import { repoRoot } from "../../testenv/binaries.js";

describe("lab start-up with a kube-proxy that cannot start", () => {
  const bin = mkdtempSync(join(tmpdir(), "floatip-badbin-"));

  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  it("fails with kube-proxy's own message and tears the lab down", async () => {
    // The real binaries (the build script prints their directory; warm: instant), except kube-proxy.
    const real = execFileSync(join(repoRoot(), "testenv", "build-k8s.sh"))
      .toString()
      .trim()
      .split("\n")
      .pop()!;
    for (const name of ["kube-apiserver", "etcd", "kubectl", "helm"])
      symlinkSync(join(real, name), join(bin, name));
    writeFileSync(
      join(bin, "kube-proxy"),
      '#!/bin/sh\necho "F0101 simulated: cannot read config" >&2\nexit 3\n',
    );
    chmodSync(join(bin, "kube-proxy"), 0o755);
    // kubeBinaries() reads this once per process; this file's worker has not called it before.
    process.env.FLOATIP_K8S_BIN = bin;
    await expect(LabCluster.create({ nodes: 1 })).rejects.toThrow(
      /kube-proxy on master-0 exited \(3\) during start-up:\nF0101 simulated: cannot read config/,
    );
    expect(Lab.existingNamespaces(`fip-${process.pid}-`)).toEqual([]);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`floatip-labcluster-${process.pid}-`))).toEqual(
      [],
    );
  });
});
