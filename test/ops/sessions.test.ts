import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { timelineSvg } from "../../src/ops/plot.js";
import {
  classifyError,
  establishedReport,
  formatMoveImpact,
  summarizeSessions,
  type SessionEvent,
  type SessionOutcome,
} from "../../src/ops/sessions.js";

const ev = (
  c: number,
  t: number,
  outcome: SessionOutcome,
  fields: Partial<SessionEvent> = {},
): SessionEvent => ({
  c,
  t,
  ms: 1,
  outcome,
  reused: true,
  proto: "h1",
  ...(outcome === "ok" ? { status: 200, server: "worker-0" } : { error: "ECONNRESET" }),
  ...fields,
});

describe("established-connection sessions", () => {
  it("classifies transport errors: resets, stalls, the rest", () => {
    expect(classifyError("ECONNRESET read ECONNRESET")).toBe("reset");
    expect(classifyError("ECONNRESET socket hang up")).toBe("reset");
    expect(classifyError("ECONNREFUSED connect ECONNREFUSED 203.0.113.50:80")).toBe("error");
    expect(classifyError("no answer within 2000 ms", true)).toBe("stall");
    expect(classifyError("EHOSTUNREACH")).toBe("error");
  });

  it("attributes each loss to the move it followed, by when the request ended", () => {
    const moves = [
      { t: 1000, label: "sigterm master-1" },
      { t: 5000, label: "restore master-1" },
    ];
    const events = [
      ev(0, 900, "ok"),
      ev(1, 900, "ok"),
      // sent before the move, reset after it: the move's
      ev(0, 990, "reset", { ms: 30 }),
      ev(0, 1050, "ok", { reused: false, server: "worker-0" }),
      ev(1, 1200, "stall", { ms: 2000, error: "no answer within 2000 ms" }),
      ev(1, 3300, "error", { reused: false, error: "ECONNREFUSED" }),
      ev(1, 3400, "ok", { reused: false }),
      ev(0, 5100, "reset"),
      ev(0, 5200, "ok", { reused: false }),
      ev(1, 5200, "ok", { closing: true }),
      ev(1, 5300, "ok", { reused: false }),
    ];
    const s = summarizeSessions(events, moves);
    expect(s.connections).toBe(2);
    expect(s.before).toMatchObject({ requests: 2, ok: 2, connectionsLost: 0 });
    expect(s.moves[0]).toMatchObject({
      label: "sigterm master-1",
      resets: 1,
      stalls: 1,
      errors: 1,
      connectionsLost: 2,
      connectionsReset: 1,
      reconnects: 3,
    });
    expect(s.moves[1]).toMatchObject({ resets: 1, connectionsLost: 1, closes: 1, reconnects: 2 });
    expect(s).toMatchObject({ lost: 3, resets: 2, stalls: 1, errors: 1 });
    expect(formatMoveImpact(s.moves[0]!, s.connections)).toBe(
      "sigterm master-1: 2 of 2 connections lost (1 by a reset), 1 requests reset, 1 stalled, 1 other errors, 0 graceful closes, 3 reconnects; answered by worker-0",
    );
  });

  it("does not call a failed first request of a fresh connection a reset of an established one", () => {
    const s = summarizeSessions(
      [ev(0, 0, "ok"), ev(0, 100, "reset", { reused: false })],
      [{ t: 50, label: "crash" }],
    );
    expect(s.moves[0]).toMatchObject({ resets: 0, errors: 1, connectionsLost: 0 });
  });

  it("counts every event once and never more lost connections than clients (property)", () => {
    const event = fc.record({
      c: fc.integer({ min: 0, max: 9 }),
      t: fc.integer({ min: 0, max: 10_000 }),
      ms: fc.integer({ min: 0, max: 3000 }),
      outcome: fc.constantFrom<SessionOutcome>("ok", "reset", "stall", "error"),
      reused: fc.boolean(),
      proto: fc.constantFrom<"h1" | "h2">("h1", "h2"),
      closing: fc.boolean(),
    });
    const move = fc.record({ t: fc.integer({ min: 0, max: 10_000 }), label: fc.string() });
    fc.assert(
      fc.property(
        // One client sends one request at a time: its requests start at distinct times.
        fc.uniqueArray(event, { maxLength: 200, selector: (e) => `${e.c}#${e.t}` }),
        fc.uniqueArray(move, { maxLength: 5, selector: (m) => m.t }),
        (events, moves) => {
          const s = summarizeSessions(events, moves);
          const windows = [s.before, ...s.moves];
          expect(windows).toHaveLength(moves.length + 1);
          expect(windows.reduce((a, w) => a + w.requests, 0)).toBe(events.length);
          for (const w of windows) {
            expect(w.ok + w.resets + w.stalls + w.errors).toBe(w.requests);
            expect(w.connectionsReset).toBeLessThanOrEqual(w.connectionsLost);
            expect(w.connectionsLost).toBeLessThanOrEqual(s.connections);
            expect(Object.values(w.servedBy).reduce((a, n) => a + n, 0)).toBe(w.ok);
          }
          expect(s.connections).toBe(new Set(events.map((e) => e.c)).size);
          // Independent of the order the events arrive in.
          expect(summarizeSessions([...events].reverse(), [...moves].reverse())).toEqual(s);
        },
      ),
    );
  });

  it("draws one row per connection under the probes, with the losses marked", () => {
    const svg = timelineSvg(
      [{ t: 0, ms: 1, ok: true, status: 200, server: "worker-0", body: "worker-0 via master-1" }],
      [{ t: 100, label: "sigterm master-1" }],
      "t",
      [ev(0, 10, "ok"), ev(1, 10, "ok"), ev(1, 150, "reset"), ev(1, 200, "ok", { server: "worker-1" })],
    );
    expect(svg).toContain("established connections (one row each)");
    expect(svg).toContain('fill="#000000"');
    expect(svg).toContain("HTTP 200 from worker-1");
  });
});

describe("established-connection report", () => {
  it("separates losses on planned moves from those a crash caused", () => {
    const events = [
      ev(0, 0, "ok"),
      ev(1, 0, "ok"),
      ev(0, 150, "reset"),
      ev(1, 160, "reset"),
      ev(0, 200, "ok", { reused: false }),
      ev(0, 550, "reset"),
    ];
    const r = establishedReport(events, [
      { t: 100, label: "crash master-1", planned: false },
      { t: 500, label: "return of master-1", planned: true },
    ]);
    expect(r).toMatchObject({
      connections: 2,
      unplannedLost: 2,
      plannedLost: 1,
      lost: 3,
      baselineFailures: 0,
    });
  });
});
