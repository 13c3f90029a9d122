import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Lab, sweepStaleLabs } from "../../lab/lab.js";
import { run } from "../../lab/sh.js";
import { waitFor } from "../../src/common/wait.js";
import { repoRoot } from "../../testenv/binaries.js";
import { startControlPlane } from "../../testenv/controlplane.js";

describe("a test run that crashes", () => {
  it("leaves no processes, and its temp dirs and namespaces are swept by the next run", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(repoRoot(), "test/testenv/crash-child.ts")],
      {
        cwd: repoRoot(),
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.on("exit", r));
    const made = JSON.parse(out.trim()) as { dir: string; prefix: string };

    // Parent-death signals take the API server and etcd down with the test process.
    await waitFor("control plane processes gone", async () => {
      const ps = await run("ps", ["-eo", "args"]);
      return !ps.includes(made.dir);
    });
    expect(existsSync(made.dir)).toBe(true);
    const leftover = Lab.existingNamespaces(made.prefix);
    expect(leftover.length).toBeGreaterThan(0);

    // The next run sweeps what the dead one left.
    expect(sweepStaleLabs()).toEqual(expect.arrayContaining(leftover));
    expect(Lab.existingNamespaces(made.prefix)).toEqual([]);
    const cp = await startControlPlane();
    await cp.stop();
    expect(existsSync(made.dir)).toBe(false);
    expect(existsSync(cp.dir)).toBe(false);
  });

  it("a lab run stopped with SIGTERM or SIGINT tears its namespaces down before exiting", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(repoRoot(), "test/testenv/signal-child.ts")],
        {
          cwd: repoRoot(),
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const { prefix } = await waitFor(
        "lab up",
        () => {
          try {
            return JSON.parse(out.trim()) as { prefix: string };
          } catch {
            return undefined;
          }
        },
        60_000,
      );
      expect(Lab.existingNamespaces(prefix).length).toBeGreaterThan(0);
      const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
      child.kill(signal);
      expect(await exited).toBe(signal === "SIGTERM" ? 143 : 130);
      expect(Lab.existingNamespaces(prefix)).toEqual([]);
    }
  });

  it("a lab cluster stopped with SIGTERM removes its namespaces and directories, the heartbeat key's included", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(repoRoot(), "test/testenv/signal-cluster-child.ts")],
      { cwd: repoRoot(), stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const made = await waitFor(
      "lab cluster up",
      () => {
        try {
          return JSON.parse(out.trim()) as { prefix: string; key: string; cp: string };
        } catch {
          return undefined;
        }
      },
      120_000,
    );
    expect(existsSync(made.key)).toBe(true);
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(Lab.existingNamespaces(made.prefix)).toEqual([]);
    expect(existsSync(made.key)).toBe(false);
    expect(existsSync(made.cp)).toBe(false);
  }, 180_000);
});
