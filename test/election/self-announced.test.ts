import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { announcedDigest } from "../../src/election/heartbeat.js";
import { SelfAnnounced } from "../../src/election/self-announced.js";

describe("SelfAnnounced", () => {
  it("dates each IP when it is first announced and keeps the date while it stays", () => {
    const s = new SelfAnnounced();
    s.set(new Set(["a", "b"]), 100);
    s.set(new Set(["b", "c"]), 200);
    expect([...s.times]).toEqual([
      ["b", 100],
      ["c", 200],
    ]);
    expect(s.sorted).toEqual(["b", "c"]);
    expect(s.digest).toBe(announcedDigest(["b", "c"]));
  });

  it("hands views the same set object until the IPs change", () => {
    const s = new SelfAnnounced();
    s.set(new Set(["a"]), 0);
    const first = s.ips();
    s.set(new Set(["a"]), 10); // equal content, new object
    expect(s.ips()).toBe(first);
    s.set(new Set(["a", "b"]), 20);
    expect(s.ips()).not.toBe(first);
    expect([...s.ips()]).toEqual(["a", "b"]);
  });

  it("lists what was taken within the TTL, as a pass over every IP would", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.subarray(["a", "b", "c", "d", "e"]), fc.integer({ min: 0, max: 3000 })), {
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 4000 }),
        (steps, ttl) => {
          const s = new SelfAnnounced();
          let now = 0;
          for (const [ips, dt] of steps) {
            now += dt;
            s.set(new Set(ips), now);
            const brute = [...s.times].filter(([, at]) => now - at <= ttl).map(([ip]) => ip);
            expect(s.acquired(now, ttl)).toEqual(brute);
            expect(s.acquired(now + ttl + 1, ttl)).toEqual([]);
          }
        },
      ),
    );
  });
});
