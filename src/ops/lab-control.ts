/**
 * The client side of a running lab's control socket (`floatip-lab up` serves it, lab/control.ts):
 * how verify, failover-test and migrate find the lab's client namespace and kubeconfig and inject
 * its faults with `--lab <socket>`. Only the protocol lives here, so the product never loads lab/.
 * JSON over HTTP on a Unix socket (root-only file mode).
 */
import { request } from "node:http";

/** Faults a lab node can suffer (lab/faults.ts does them). */
export type FaultKind = "crash" | "freeze" | "public-link-down" | "partition" | "sigterm";
export const FAULT_KINDS: readonly FaultKind[] = [
  "crash",
  "freeze",
  "public-link-down",
  "partition",
  "sigterm",
];

/** GET /info. */
export interface LabInfo {
  prefix: string;
  clientNs: string;
  nodes: { name: string; ns: string; publicIp: string; internalIp: string }[];
  kubeconfig: string;
}

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
            `cannot reach the lab at ${this.socketPath} (is 'floatip-lab up' running?): ${err.message}`,
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
