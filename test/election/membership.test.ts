import { describe, expect, it } from "vitest";
import { Membership } from "../../src/election/membership.js";
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from "../../src/election/heartbeat.js";

const key = Buffer.from("k");
const NODES = ["a", "b", "c"];

function member(self: string, boot: string, now = 0): Membership {
  const m = new Membership(
    {
      self,
      boot,
      heartbeatIntervalMs: 40,
      suspectAfterMs: 200,
      maxSuspectAfterMs: 1000,
      rejoinAfterMs: 1000,
      acquiredTtlMs: 4000,
    },
    now,
  );
  for (const peer of NODES)
    if (peer !== self) m.observeLease(peer, { observedRenewAt: now, durationMs: 6000 });
  return m;
}

/** One round at `now`: every member sends to every other unless `drop(from, to)`. */
function round(
  ms: Map<string, Membership>,
  now: number,
  drop: (from: string, to: string) => boolean = () => false,
  afterObserve: (hb: Heartbeat) => void = () => {},
) {
  const results: string[] = [];
  for (const [from, m] of ms) {
    m.advance(now);
    m.beginRound(now);
    for (const to of ms.keys()) {
      if (to === from || drop(from, to)) continue;
      const decoded = decodeHeartbeat(encodeHeartbeat(m.heartbeatFor(to, now), key), key);
      if (!decoded.ok) continue;
      results.push(ms.get(to)!.observeHeartbeat(decoded.heartbeat, now + 1));
      afterObserve(decoded.heartbeat);
    }
  }
  return results;
}

function cluster(): Map<string, Membership> {
  return new Map(NODES.map((n, i) => [n, member(n, `${i}`.repeat(16))]));
}

describe("a kept heartbeat is read for its content only", () => {
  it("overwriting an observed heartbeat's sequence, echo and ages later changes nothing (the transport's repeatInto)", () => {
    const run = (scribble: boolean) => {
      const ms = cluster();
      const out = [];
      const overwrite = (hb: Heartbeat) => {
        if (!scribble) return;
        hb.seq = 0;
        if (hb.echo) hb.echo.seq = 0;
        for (const p of hb.peers) p.ageMs = 0xffff;
      };
      for (let t = 0; t <= 2000; t += 40) {
        round(ms, t, (from, to) => t >= 400 && t <= 1000 && (from === "b" || to === "b"), overwrite);
        out.push(ms.get("a")!.view(t), ms.get("a")!.heartbeatFor("c", t));
      }
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });
});

describe("view() is a query, advance() the update", () => {
  it("two identical clusters stay identical when one of them is asked for views in between", () => {
    const run = (peek: boolean) => {
      const ms = cluster();
      const views = [];
      for (let t = 0; t <= 2000; t += 40) {
        // b is cut off from 400 to 1000 ms: declared dead, then rejoining.
        round(ms, t, (from, to) => t >= 400 && t <= 1000 && (from === "b" || to === "b"));
        if (peek) for (const dt of [0, 7, 500, 5000]) ms.get("a")!.view(t + dt);
        views.push(ms.get("a")!.view(t));
      }
      return views;
    };
    const quiet = run(false);
    expect(run(true)).toEqual(quiet);
    // ... and the update did its job: b was declared dead and had to rejoin.
    expect(quiet.some((v) => v.members.get("b")!.reason.startsWith("rejoining"))).toBe(true);
  });

  it("a fresh member's view, asked for many times, leaves its heartbeat unchanged", () => {
    const ms = cluster();
    for (let t = 0; t <= 200; t += 40) round(ms, t);
    const a = ms.get("a")!;
    const before = a.heartbeatFor("b", 200);
    for (let i = 0; i < 5; i++) a.view(10_000 + i);
    expect(a.heartbeatFor("b", 200)).toEqual(before);
  });
});

describe("liveness", () => {
  it("counts a heartbeat only once it echoes one of ours (mutual contact)", () => {
    const ms = cluster();
    expect(round(ms, 0)).toContain("stale-echo");
    expect(round(ms, 40).every((r) => r === "accepted")).toBe(true);
  });

  it("a replayed stream after a receiver restart proves nothing", () => {
    const ms = cluster();
    const recorded: Buffer[] = [];
    for (let t = 0; t <= 400; t += 40) {
      round(ms, t);
      recorded.push(encodeHeartbeat(ms.get("b")!.heartbeatFor("a", t), key));
    }
    const restarted = member("a", "ffffffffffffffff", 1000);
    for (const packet of recorded) {
      const d = decodeHeartbeat(packet, key);
      expect(d.ok && restarted.observeHeartbeat(d.heartbeat, 1000)).toBe("stale-echo");
    }
    expect(restarted.advance(1000).members.get("b")?.alive).toBe(false);
  });

  it("drops duplicates and reordered packets of the same process", () => {
    const ms = cluster();
    round(ms, 0);
    round(ms, 40);
    const b = ms.get("b")!;
    const packet = decodeHeartbeat(encodeHeartbeat(b.heartbeatFor("a", 40), key), key);
    if (!packet.ok) throw new Error("decode");
    expect(ms.get("a")!.observeHeartbeat(packet.heartbeat, 50)).toBe("replayed");
  });

  it("a node whose outgoing heartbeats are lost loses its quorum before peers call it dead", () => {
    const ms = cluster();
    for (let t = 0; t <= 1200; t += 40) round(ms, t);
    expect(ms.get("a")!.advance(1200).quorum.quorum).toBe(true);
    let lostAt: number | undefined;
    let deadAt: number | undefined;
    for (let t = 1240; t <= 2000; t += 40) {
      round(ms, t, (from) => from === "a");
      if (lostAt === undefined && ms.get("a")!.advance(t).isolated) lostAt = t;
      if (deadAt === undefined && !ms.get("b")!.advance(t).members.get("a")!.alive) deadAt = t;
    }
    expect(lostAt).toBeDefined();
    expect(deadAt).toBeDefined();
    expect(lostAt!).toBeLessThan(deadAt!);
  });

  it("one-way loss between two peers moves nothing (the third relays)", () => {
    const ms = cluster();
    for (let t = 0; t <= 3000; t += 40) round(ms, t, (from, to) => t > 1200 && from === "a" && to === "b");
    for (const m of ms.values()) {
      const view = m.advance(3000);
      expect(view.quorum.quorum).toBe(true);
      expect([...view.members.values()].every((v) => v.eligible)).toBe(true);
    }
  });

  it("a node that hears nobody has no quorum without the API server", () => {
    const a = member("a", "a".repeat(16));
    expect(a.advance(2000).isolated).toBe(true);
    a.setApiHealthy(true);
    expect(a.advance(2000).isolated).toBe(true); // 1 of 3 is a minority even with the API server
  });

  it("a peer heard only through others has the carrier it told them, not the one it last told us", () => {
    const ms = cluster();
    const carrier = new Map(NODES.map((n) => [n, true]));
    const step = (t: number, drop: (from: string, to: string) => boolean = () => false) => {
      for (const [n, m] of ms) m.setSelfCarrier({ eth1: carrier.get(n)! });
      round(ms, t, drop);
    };
    for (let t = 0; t <= 1200; t += 40) step(t);
    // b loses carrier, then a stops hearing b; b's carrier comes back while a hears it via c only.
    carrier.set("b", false);
    for (let t = 1240; t <= 1600; t += 40) step(t);
    expect(ms.get("a")!.advance(1600).members.get("b")!.carrier).toEqual({ eth1: false });
    const bToA = (from: string, to: string) => from === "b" && to === "a";
    for (let t = 1640; t <= 2000; t += 40) step(t, bToA);
    carrier.set("b", true);
    for (let t = 2040; t <= 2400; t += 40) step(t, bToA);
    const b = ms.get("a")!.advance(2400).members.get("b")!;
    expect(b.reason).toBe("heartbeat via peer");
    expect(b.carrier).toEqual({ eth1: true });
    // And the other way: carrier lost while heard only through c.
    carrier.set("b", false);
    for (let t = 2440; t <= 2800; t += 40) step(t, bToA);
    expect(ms.get("a")!.advance(2800).members.get("b")!.carrier).toEqual({ eth1: false });
  });
});
