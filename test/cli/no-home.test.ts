// A user without a home: HOME unset and a UID with no passwd entry (a container running as an
// arbitrary UID), where os.homedir() throws "uv_os_homedir returned ENOENT". Every command must
// still say what to pass, not crash on the lookup of ~/.kube/config.

import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { homeKubeconfig } from "../../src/kube/connection.js";
import { repoRoot } from "../../testenv/binaries.js";
import type { CliResult } from "../support/cli.js";

/** A UID that has no passwd entry on this machine (checked below). */
const NOBODY = 4242;
const asRoot = process.getuid?.() === 0;

function runHomeless(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(repoRoot(), "src/cli/main.ts"), ...args],
      { cwd: repoRoot(), timeout: 60_000, uid: NOBODY, gid: NOBODY, env: { PATH: process.env.PATH } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("no home directory", () => {
  it("homeKubeconfig: HOME when set, else the passwd entry's home", () => {
    expect(homeKubeconfig({ HOME: "/home/op" })).toBe("/home/op/.kube/config");
    expect(homeKubeconfig({})).toMatch(/\/\.kube\/config$/);
  });

  // Switching to a UID without a passwd entry needs root.
  it.skipIf(!asRoot)(
    "every kind of command gives a usage error (exit 2) instead of uv_os_homedir",
    async () => {
      const probe = await new Promise<string>((resolve) =>
        execFile(
          process.execPath,
          ["-e", "try { require('os').homedir(); console.log('has home') } catch { console.log('no home') }"],
          { uid: NOBODY, gid: NOBODY, env: {} },
          (_err, stdout) => resolve(stdout.trim()),
        ),
      );
      expect(probe, `UID ${NOBODY} must have no passwd entry for this test`).toBe("no home");
      const [doctor, verify, controller, speaker] = await Promise.all([
        runHomeless(["doctor"]),
        runHomeless(["verify"]),
        runHomeless(["controller"]),
        runHomeless(["speaker", "--node-name", "n1"]),
      ]);
      for (const r of [doctor, verify, controller, speaker]) {
        expect(r.stderr).not.toContain("uv_os_homedir");
        expect(r.code, r.stderr).toBe(2);
      }
      expect(doctor.stderr).toContain(
        "no configuration has been provided (no home directory, KUBECONFIG unset",
      );
      expect(verify.stderr).toContain("no configuration has been provided");
      expect(controller.stderr).toContain("no kubeconfig: ~/.kube/config does not exist");
      expect(speaker.stderr).toContain("no kubeconfig");
    },
  );
});
