// Bookkeeping: the logs, metrics and status of a step's effects, written after the step in chunks
// and in order.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { Bookkeeping, type BookkeepingContext } from "../../src/speaker/bookkeeping.js";
import { SpeakerMetrics } from "../../src/speaker/metrics.js";
import type { Effect } from "../../src/speaker/reconcile.js";
import type { StatusWriter } from "../../src/speaker/status.js";
import { clusterView } from "../support/views.js";

const NODES = ["master-0", "master-1", "master-2"];

function setup() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const writes: string[] = [];
  const status = {
    announced: (service: string) => void writes.push(`announced ${service}`),
    withdrawn: (service: string) => void writes.push(`withdrawn ${service}`),
    pending: { status: 7, events: 9 },
  } as unknown as StatusWriter;
  const metrics = new SpeakerMetrics();
  const books = new Bookkeeping({ nodeName: "master-1", log, metrics, status });
  const view = clusterView(NODES);
  const ctx: BookkeepingContext = {
    view,
    previous: view,
    now: 0,
    members: new Map(),
    live: new Set(NODES),
    lastHeard: new Map(),
  };
  return { lines, writes, metrics, books, ctx };
}

const taken = (n: number, from = 0): Effect[] =>
  Array.from(
    { length: n },
    (_, i) =>
      [
        {
          kind: "announce",
          ip: `2001:db8::${(from + i).toString(16)}`,
          service: `ns/s${from + i}`,
          interfaces: ["eth0"],
          took: "owner",
        },
        {
          kind: "status",
          service: `ns/s${from + i}`,
          announced: { ips: [`2001:db8::${(from + i).toString(16)}`], pool: "p", interfaces: ["eth0"] },
        },
      ] as Effect[],
  ).flat();

const turn = () => new Promise<void>((r) => setImmediate(r));

describe("Bookkeeping", () => {
  it("writes nothing during the step, then everything in order over several turns of the event loop", async () => {
    const s = setup();
    s.books.record(taken(250), s.ctx);
    expect(s.writes).toHaveLength(0);
    await turn();
    expect(s.writes.length).toBeGreaterThan(0);
    expect(s.writes.length).toBeLessThan(250); // chunked: a take-all does not hold the loop
    // What is left to write, as a scrape reads it: this backlog, the status writer's and its Events'.
    const pending = await s.metrics.registry.getSingleMetricAsString("floatip_speaker_writes_pending");
    expect(pending).toContain(`floatip_speaker_writes_pending{kind="effects"} ${s.books.backlog}`);
    expect(pending).toContain('floatip_speaker_writes_pending{kind="status"} 7');
    expect(pending).toContain('floatip_speaker_writes_pending{kind="events"} 9');
    while (s.books.backlog > 0) await turn();
    expect(s.writes).toEqual(Array.from({ length: 250 }, (_, i) => `announced ns/s${i}`));
    const announced = s.lines.filter((l) => l.event === "serviceAnnounced").map((l) => l.service);
    expect(announced).toEqual(Array.from({ length: 250 }, (_, i) => `ns/s${i}`));
    expect(await s.metrics.registry.getSingleMetricAsString("floatip_speaker_announced")).toContain(
      'ip="2001:db8::f9"',
    );
  });

  it("keeps the order across steps and writes a shutdown's withdrawals after the backlog", async () => {
    const s = setup();
    s.books.record(taken(150), s.ctx);
    s.books.record(
      [
        { kind: "withdraw", ip: "2001:db8::0", service: "ns/s0", reason: "notOwner" },
        { kind: "status", service: "ns/s0" },
      ] as Effect[],
      s.ctx,
    );
    s.books.withdrawn("2001:db8::1", "ns/s1", "shutdown");
    expect(s.books.backlog).toBe(0);
    expect(s.writes.slice(-1)).toEqual(["withdrawn ns/s0"]);
    const events = s.lines.map((l) => `${String(l.event)} ${String(l.service)}`);
    expect(events.slice(-2)).toEqual(["serviceWithdrawn ns/s0", "serviceWithdrawn ns/s1"]);
  });

  it("times a failover from when the previous owner was last heard, as the step saw it", async () => {
    const s = setup();
    const ip = "2001:db8::1";
    const previous = clusterView(NODES, { "master-0": { announcing: new Set([ip]) } });
    const view = clusterView(NODES, { "master-0": { alive: false } });
    s.books.record(taken(1, 1), {
      ...s.ctx,
      previous,
      view,
      now: 1000,
      lastHeard: new Map([["master-0", 850]]),
    });
    await turn();
    const text = await s.metrics.registry.getSingleMetricAsString("floatip_failover_duration_seconds");
    expect(text).toContain("floatip_failover_duration_seconds_sum 0.15");
    expect(text).toContain("floatip_failover_duration_seconds_count 1");
  });

  it("an effect that cannot be written is logged and the rest still are", async () => {
    const s = setup();
    const broken = {
      kind: "status",
      service: "ns/x",
      announced: { ips: [], pool: "p", interfaces: ["eth0"] },
    } as Effect;
    s.books.record([broken, ...taken(1)], { ...s.ctx, live: undefined as never });
    await turn();
    expect(s.lines.some((l) => l.event === "bookkeepingFailed")).toBe(true);
    expect(s.lines.some((l) => l.event === "serviceAnnounced" && l.service === "ns/s0")).toBe(true);
  });
});
