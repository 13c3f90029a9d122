import { join } from "node:path";
import { repoRoot } from "../testenv/binaries.js";
import { BACKEND_PORT } from "./addresses.js";
import type { Lab, LabNode } from "./lab.js";
import { nsRun } from "./sh.js";
import { waitFor } from "../src/common/wait.js";

/** One Envoy stand-in: what an EndpointSlice lists for an Envoy pod. */
export interface LabEndpoint {
  node: string;
  ip: string;
  ip6: string;
  port: number;
}

/**
 * Starts the Envoy stand-in (lab/backend.ts) on the given nodes and waits until each answers
 * locally; `env` tunes it (DRAIN_LIMIT_MS, DRAIN_IDLE_MS).
 */
export async function startBackends(
  lab: Lab,
  nodes: LabNode[],
  env: Record<string, string> = {},
): Promise<LabEndpoint[]> {
  const script = join(repoRoot(), "lab", "backend.ts");
  for (const node of nodes) {
    lab.startOnNode(node, `backend-${node.name}`, process.execPath, ["--import", "tsx", script], {
      ...process.env,
      NODE_NAME: node.name,
      NODE_MAP: lab.nodes
        .flatMap((n) => [`${n.internalIp}=${n.name}`, `${n.internalIp6}=${n.name}`])
        .join(","),
      PORT: String(BACKEND_PORT),
      ...env,
    });
  }
  // Long: several backends starting through tsx at once take a while on a loaded machine.
  for (const node of nodes) {
    await waitFor(
      `backend on ${node.name}`,
      async () => {
        const body = await nsRun(node.ns, "curl", [
          "-sS",
          "-m",
          "1",
          `http://${node.internalIp}:${BACKEND_PORT}/`,
        ]);
        return body.trim().startsWith(node.name);
      },
      60_000,
    );
  }
  return nodes.map((n) => ({ node: n.name, ip: n.internalIp, ip6: n.internalIp6, port: BACKEND_PORT }));
}
