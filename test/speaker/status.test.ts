// The status writer against a scripted API: a withdraw and a re-announce that overlap (an
// ownership flap under load) end with the ServiceL2Status written, not lost.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeApi } from "../../src/kube/api.js";
import { StatusWriter } from "../../src/speaker/status.js";
import { waitFor } from "../controller/support.js";

function scriptedApi() {
  const calls: string[] = [];
  let parked: (() => void) | undefined;
  let holdDelete = false;
  let n = 0;
  const api = {
    get: async () => ({ items: [] }),
    request: async (method: string, path: string) => {
      const what = path.includes("/events") ? "event" : "status";
      if (method === "DELETE" && holdDelete) {
        holdDelete = false;
        await new Promise<void>((resolve) => (parked = resolve));
      }
      calls.push(`${method} ${what}`);
      return method === "POST" ? { metadata: { name: `l2-${++n}` } } : {};
    },
  };
  return {
    api: api as unknown as KubeApi,
    calls,
    holdDelete: () => (holdDelete = true),
    parked: () => parked !== undefined,
    release: () => parked?.(),
  };
}

describe("StatusWriter", () => {
  it("writes the status again when re-announced while the withdrawal's delete is under way", async () => {
    const s = scriptedApi();
    const writer = new StatusWriter(
      s.api,
      { nodeName: "n1", namespace: "metallb-system" },
      () => ({ metadata: { name: "a", namespace: "ns", uid: "u1" } }) as never,
      pino({ level: "silent" }),
    );
    const live = new Set(["n1"]);
    writer.announced("ns/a", ["eth0"], ["192.0.2.1"], live);
    await waitFor("status written", () => s.calls.includes("PATCH status"));
    s.holdDelete();
    writer.withdrawn("ns/a");
    await waitFor("delete under way", () => s.parked());
    writer.announced("ns/a", ["eth0"], ["192.0.2.1"], live);
    s.release();
    await waitFor("status written again", () => s.calls.filter((c) => c === "PATCH status").length === 2);
    expect(s.calls.filter((c) => c.endsWith("status"))).toEqual([
      "POST status",
      "PATCH status",
      "DELETE status",
      "POST status",
      "PATCH status",
    ]);
    await writer.flush(100);
  });

  it("posts a refusal as a Warning Event announceFailed on the Service", async () => {
    const bodies: Record<string, unknown>[] = [];
    const api = {
      get: async () => ({ items: [] }),
      request: async (_method: string, path: string, opts?: { body?: Record<string, unknown> }) => {
        if (path.includes("/events") && opts?.body) bodies.push(opts.body);
        return {};
      },
    } as unknown as KubeApi;
    const writer = new StatusWriter(
      api,
      { nodeName: "n1", namespace: "metallb-system" },
      () => ({ metadata: { name: "wide", namespace: "ns", uid: "u1" } }) as never,
      pino({ level: "silent" }),
    );
    writer.refused("ns/wide", "status.loadBalancer.ingress lists 1000 IPs; …");
    await waitFor("Event posted", () => bodies.length === 1);
    expect(bodies[0]).toMatchObject({
      type: "Warning",
      reason: "announceFailed",
      message: "not announced by floatip: status.loadBalancer.ingress lists 1000 IPs; …",
      involvedObject: { kind: "Service", namespace: "ns", name: "wide", uid: "u1" },
    });
    await writer.flush(100);
  });
});
