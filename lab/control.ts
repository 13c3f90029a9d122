/**
 * A running lab's control socket: lets other floatip commands (verify, failover-test) find the
 * lab's namespaces and inject faults into its nodes while `floatip-lab up` owns the processes.
 * JSON over HTTP on a Unix socket (root-only file mode); the client and the protocol's types are
 * src/ops/lab-control.ts (the product talks to the lab only through it).
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { FAULT_KINDS, type FaultKind, type LabInfo } from "../src/ops/lab-control.js";
import { injectFault, restoreNode } from "./faults.js";
import type { LabCluster } from "./cluster.js";

export function serveLabControl(cluster: LabCluster, socketPath: string): Promise<Server> {
  const lab = cluster.lab;
  const info: LabInfo = {
    prefix: lab.prefix,
    clientNs: lab.clientNs,
    nodes: lab.nodes.map((n) => ({ name: n.name, ns: n.ns, publicIp: n.publicIp, internalIp: n.internalIp })),
    kubeconfig: cluster.cp.kubeconfigPath,
  };
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      void (async () => {
        try {
          if (req.method === "GET" && req.url === "/info") return reply(res, 200, info);
          const input = body ? (JSON.parse(body) as { node?: string; kind?: string }) : {};
          const node = input.node ? lab.nodes.find((n) => n.name === input.node) : undefined;
          if (!node) return reply(res, 404, { error: `no lab node named ${String(input.node)}` });
          if (req.method === "POST" && req.url === "/fault") {
            if (!FAULT_KINDS.includes(input.kind as FaultKind)) {
              return reply(res, 400, { error: `fault must be one of ${FAULT_KINDS.join(", ")}` });
            }
            await injectFault(lab, node, input.kind as FaultKind);
            return reply(res, 200, { ok: true });
          }
          if (req.method === "POST" && req.url === "/restore") {
            await restoreNode(lab, node);
            return reply(res, 200, { ok: true });
          }
          return reply(res, 404, { error: "unknown request" });
        } catch (err) {
          return reply(res, 500, { error: err instanceof Error ? err.message : String(err) });
        }
      })();
    });
  });
  rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

function reply(res: import("node:http").ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
