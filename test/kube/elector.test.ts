// The leader elector's terms against a scripted API: a renewal that lands after the renew deadline
// (the API server slow after a restart) ends the term callers saw end, and starts a new one.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeApi } from "../../src/kube/api.js";
import { LeaderElector } from "../../src/kube/elector.js";
import { waitFor } from "../controller/support.js";

const TIMINGS = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 5 };

/** Answers the elector's Lease calls; `hold` parks the next write until released. */
function scriptedApi() {
  let rv = 0;
  let lease: Record<string, unknown> | undefined;
  let parked: (() => void) | undefined;
  let holdNext = false;
  const api = {
    request: async (method: string, _path: string, o: { body?: Record<string, unknown> } = {}) => {
      if (method === "GET") {
        if (!lease) throw Object.assign(new Error("not found"), { name: "ApiError" });
        return lease;
      }
      if (holdNext) {
        holdNext = false;
        await new Promise<void>((resolve) => (parked = resolve));
      }
      const meta = (o.body?.metadata ?? {}) as Record<string, unknown>;
      lease = { ...o.body, metadata: { ...meta, resourceVersion: String(++rv) } };
      return lease;
    },
  };
  return {
    api: api as unknown as KubeApi,
    hold: () => (holdNext = true),
    parked: () => parked !== undefined,
    release: () => {
      parked?.();
      parked = undefined;
    },
    start: (body: Record<string, unknown>) =>
      (lease = { ...body, metadata: { name: "l", resourceVersion: "0" } }),
  };
}

describe("LeaderElector terms", () => {
  it("a renewal that lands after the renew deadline ends the term and starts a new one", async () => {
    const s = scriptedApi();
    s.start({ spec: { holderIdentity: undefined } });
    let now = 0;
    const calls: string[] = [];
    const elector = new LeaderElector(s.api, {
      namespace: "ns",
      name: "l",
      identity: "me",
      timings: TIMINGS,
      log: pino({ level: "silent" }),
      now: () => now,
      onStartedLeading: () => calls.push("start"),
      onStoppedLeading: (reason) => calls.push(`stop: ${reason}`),
    });
    await elector.start();
    await waitFor("leading", () => elector.isLeader());
    expect(calls).toEqual(["start"]);

    // The last renewal that landed was sent at 0; the next is sent at 1000 and takes a while.
    s.hold();
    now = 1000;
    await waitFor("a renewal in flight", () => s.parked());
    now = 2000; // the deadline (0 + 1500) passes while it is in flight: callers see no leader
    expect(elector.isLeader()).toBe(false);
    // It lands within the deadline of its own sending (1000 + 1500), but the term callers saw
    // end must not resume silently: a controller that dropped its takeover would never lead again.
    s.release();
    await waitFor("a new term", () => calls.length === 3);
    expect(calls).toEqual(["start", "stop: renew deadline passed", "start"]);
    expect(elector.isLeader()).toBe(true);
    await elector.stop();
  });
});
