// Refusals are visible: a log line and a metric on every speaker, one Event per refusal from one speaker.
import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Refusal, RefusalCode } from "../../src/speaker/limits.js";
import { eventPoster, RefusalReporter } from "../../src/speaker/refusals.js";

function reporter(self: string, alive: string[], current: Map<string, string>) {
  const lines: Record<string, unknown>[] = [];
  const counted: RefusalCode[] = [];
  const events: [string, string][] = [];
  const log = pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const r = new RefusalReporter({
    self,
    log,
    count: (code) => counted.push(code),
    postEvent: (service, message) => events.push([service, message]),
    current: () => current,
    alive: () => alive,
    delayMs: 60_000,
  });
  return { r, lines, counted, events };
}

const wide: Refusal = { service: "ns/wide", code: "tooManyIPs", reason: "lists 1000 IPs; …" };

describe("RefusalReporter", () => {
  it("logs and counts at once, by reason code, with the Service and the reason", () => {
    const t = reporter("n1", ["n1"], new Map([[wide.service, wide.reason]]));
    t.r.report(wide);
    expect(t.counted).toEqual(["tooManyIPs"]);
    expect(t.lines).toMatchObject([
      { event: "serviceRefused", service: "ns/wide", code: "tooManyIPs", reason: wide.reason },
    ]);
    t.r.stop();
  });

  it("posts the Event from exactly one of the speakers that see the same members", () => {
    const nodes = ["n1", "n2", "n3", "n4", "n5"];
    const current = new Map([[wide.service, wide.reason]]);
    const all = nodes.map((n) => reporter(n, nodes, current));
    for (const t of all) {
      t.r.report(wide);
      t.r.postEvents();
    }
    expect(all.flatMap((t) => t.events)).toEqual([["ns/wide", wide.reason]]);
  });

  it("posts nothing for a refusal lifted (or changed) before the Event was due", () => {
    const current = new Map<string, string>();
    const t = reporter("n1", ["n1"], current);
    t.r.report(wide);
    t.r.postEvents();
    expect(t.events).toEqual([]);
    current.set(wide.service, "another reason");
    t.r.report(wide);
    t.r.postEvents();
    expect(t.events).toEqual([]);
  });

  it("eventPoster: one member of the set, the same whatever the order", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 20 }),
        fc.string(),
        (nodes, service) => {
          const poster = eventPoster(service, nodes);
          expect(nodes).toContain(poster);
          expect(eventPoster(service, [...nodes].reverse())).toBe(poster);
        },
      ),
    );
  });
});
