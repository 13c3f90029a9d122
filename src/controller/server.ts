/** /metrics, /healthz, /readyz (and optional JSON pages) on one small HTTP server. */
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Probes {
  registry: Registry;
  healthy: () => boolean;
  ready: () => { ok: boolean; detail: string };
  /** Called before each /metrics scrape (e.g. to set gauges that summarise an interval). */
  beforeMetrics?: () => void;
  /** Extra read-only JSON pages, path → body. */
  json?: Record<string, () => unknown>;
}

/** Splits "host:port", "[v6]:port" or ":port" (all interfaces). */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new Error(`invalid listen address ${JSON.stringify(address)}; use host:port, e.g. 0.0.0.0:7473`);
  }
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export async function serveProbes(address: string, probes: Probes): Promise<Server> {
  const { host, port } = parseListenAddress(address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      probes.beforeMetrics?.();
      probes.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "Content-Type": probes.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (path === "/healthz") {
      const ok = probes.healthy();
      res.writeHead(ok ? 200 : 503, { "Content-Type": "text/plain" });
      res.end(ok ? "ok\n" : "unhealthy\n");
      return;
    }
    if (path === "/readyz") {
      const r = probes.ready();
      res.writeHead(r.ok ? 200 : 503, { "Content-Type": "text/plain" });
      res.end(`${r.detail}\n`);
      return;
    }
    const page =
      path !== undefined && probes.json && Object.hasOwn(probes.json, path) ? probes.json[path] : undefined;
    if (page) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(page()));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}
