// The seed's setup in a lab with its control socket served, as `floatip-lab up` does: what the
// runbook commands' `--lab <socket>` tests start from. destroy() tears it all down.
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VIP } from "../../lab/addresses.js";
import { LabCluster } from "../../lab/cluster.js";
import { serveLabControl } from "../../lab/control.js";
import { setupSeed } from "../../lab/demo.js";

export interface ControlledLab {
  c: LabCluster;
  /** A scratch directory (plots); the socket lives in it. */
  dir: string;
  socket: string;
  destroy(): Promise<void>;
}

export async function seededLabWithControl(prefix: string): Promise<ControlledLab> {
  const c = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb" });
  let dir: string | undefined;
  let server: Server | undefined;
  const destroy = async () => {
    server?.close();
    await c.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await setupSeed(
      c,
      VIP,
      () => {},
      () => {},
    );
    dir = mkdtempSync(join(tmpdir(), prefix));
    const socket = join(dir, "lab.sock");
    server = await serveLabControl(c, socket);
    return { c, dir, socket, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
