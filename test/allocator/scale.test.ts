// Scale: 10,000 Services and pools far too large to enumerate must stay fast.

import { describe, it, expect } from "vitest";
import { Allocator } from "../../src/allocator/allocator.js";
import { dual, pool, req } from "./helpers.js";

const N = 10_000;

describe("scale", () => {
  it("assigns 10,000 dual-stack Services from a /16 + /64 and churns quickly", () => {
    const a = new Allocator();
    a.setPools([pool("big", { addresses: ["198.51.0.0/16", "2001:db8::/64"], avoidBuggyIPs: true })]);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const r = a.assign(dual("ns", `s${i}`));
      if (!r.ok) throw new Error(r.message);
    }
    // Free every third Service and refill: first-free must find the holes.
    for (let i = 0; i < N; i += 3) a.release(`ns/s${i}`);
    for (let i = 0; i < N; i += 3) expect(a.assign(dual("ns", `r${i}`)).ok).toBe(true);
    // Idempotent pass over everything.
    for (let i = 1; i < N; i += 3) expect(a.assign(dual("ns", `s${i}`))).toMatchObject({ changed: false });
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(15_000);

    const stats = a.poolStats("big")!;
    expect(stats.assignedIPv4).toBe(N);
    expect(stats.assignedIPv6).toBe(N);
    expect(stats.availableIPv4).toBe(65536 - 512 - N);
    expect(stats.availableIPv6).toBe(Number.MAX_SAFE_INTEGER);
    // No .0/.255 handed out, addresses unique.
    const v4 = a.assignments().map((x) => x.ips[0]!);
    expect(new Set(v4).size).toBe(N);
    expect(v4.some((ip) => ip.endsWith(".0") || ip.endsWith(".255"))).toBe(false);
  });

  it("rebuilds 10,000 assignments with restore() and re-applies pools quickly", () => {
    const a = new Allocator();
    const pools = [pool("big", { addresses: ["198.51.0.0/16"] })];
    a.setPools(pools);
    for (let i = 0; i < N; i++) a.assign(req(`ns${i % 50}`, `s${i}`));
    const t0 = performance.now();
    const b = new Allocator();
    b.setPools(pools);
    for (const asg of a.assignments()) {
      expect(b.restore(req(asg.namespace, asg.name), asg.ips).ok).toBe(true);
    }
    expect(b.setPools(pools).invalidated).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(b.assignments()).toEqual(a.assignments());
  });

  it("reuses a freed low address in a busy /16 without walking the used ones", () => {
    const a = new Allocator();
    a.setPools([pool("p", { addresses: ["198.51.0.0/16"] })]);
    for (let i = 0; i < 5000; i++) a.assign(req("ns", `s${i}`));
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      a.release("ns/s0");
      expect(a.assign(req("ns", "s0"))).toMatchObject({ ips: ["198.51.0.0"] });
    }
    expect(a.assign(req("ns", "next"))).toMatchObject({ ips: ["198.51.19.136"] });
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});
