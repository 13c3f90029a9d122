/**
 * A running lab's control socket: lets other floatip commands (verify, failover-test) find the
 * lab's namespaces and inject faults into its nodes while `floatip lab up` owns the processes.
 * JSON over HTTP on a Unix socket (root-only file mode).
 */
import { chmodSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { FAULT_KINDS, injectFault, restoreNode, type FaultKind } from "./faults.js";
import type { LabCluster } from "./cluster.js";

export interface LabInfo {
  prefix: string;
  clientNs: string;
  nodes: { name: string; ns: string; publicIp: string; internalIp: string }[];
  kubeconfig: string;
}

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

/** Client side, used by the CLI commands. */
export class LabControl {
  constructor(private readonly socketPath: string) {}

  private call<T>(method: string, path: string, body?: object): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          headers: { "content-type": "application/json" },
          timeout: 60_000,
        },
        (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => {
            const parsed = text
              ? (JSON.parse(text) as T & { error?: string })
              : ({} as T & { error?: string });
            if ((res.statusCode ?? 500) >= 400) reject(new Error(`lab: ${parsed.error ?? res.statusCode}`));
            else resolve(parsed);
          });
        },
      );
      req.on("error", (err) =>
        reject(
          new Error(
            `cannot reach the lab at ${this.socketPath} (is 'floatip lab up' running?): ${err.message}`,
          ),
        ),
      );
      req.end(body ? JSON.stringify(body) : undefined);
    });
  }

  info(): Promise<LabInfo> {
    return this.call("GET", "/info");
  }

  fault(node: string, kind: FaultKind): Promise<void> {
    return this.call("POST", "/fault", { node, kind });
  }

  restore(node: string): Promise<void> {
    return this.call("POST", "/restore", { node });
  }
}
