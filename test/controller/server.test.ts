import type { Server } from "node:http";
import { Counter, Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveProbes } from "../../src/controller/server.js";

describe("probe server", () => {
  let server: Server;
  let base: string;
  let healthy = true;
  let ready = { ok: false, detail: "caches not synced yet" };

  beforeAll(async () => {
    const registry = new Registry();
    new Counter({ name: "floatip_test_total", help: "test", registers: [registry] }).inc(3);
    server = await serveProbes("127.0.0.1:0", { registry, healthy: () => healthy, ready: () => ready });
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("serves Prometheus metrics", async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("floatip_test_total 3");
  });

  it("reports liveness and readiness with a reason", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe("caches not synced yet\n");
    ready = { ok: true, detail: "standby" };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    healthy = false;
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
