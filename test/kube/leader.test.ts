import { describe, expect, it } from "vitest";
import {
  decideLease,
  DEFAULT_LEASE_TIMINGS,
  observe,
  stillLeading,
  validateTimings,
  type LeaseState,
} from "../../src/kube/leader.js";
import { microTime } from "../../src/kube/elector.js";

const t = DEFAULT_LEASE_TIMINGS;
const held = (holder: string | undefined, rv = "10", durationSeconds = 15): LeaseState => ({
  holder,
  durationSeconds,
  resourceVersion: rv,
});

describe("decideLease", () => {
  it("creates a missing Lease and renews its own", () => {
    expect(decideLease(undefined, undefined, "a", 0, t)).toEqual({ kind: "create" });
    expect(decideLease(held("a"), undefined, "a", 0, t)).toEqual({ kind: "renew" });
  });

  it("takes a released Lease at once", () => {
    expect(decideLease(held(undefined), undefined, "a", 0, t)).toEqual({ kind: "acquire", why: "released" });
  });

  it("waits out another holder, counting from when it last saw the Lease change", () => {
    const lease = held("b", "10");
    const seen = observe(lease, undefined, 1_000);
    expect(decideLease(lease, seen, "a", 1_000, t)).toEqual({
      kind: "wait",
      holder: "b",
      expiresInMs: 15_000,
    });
    expect(decideLease(lease, seen, "a", 15_999, t)).toMatchObject({ kind: "wait", expiresInMs: 1 });
    expect(decideLease(lease, seen, "a", 16_000, t)).toEqual({ kind: "acquire", why: "expired" });
  });

  it("a renewal (new resourceVersion) restarts the wait, whatever renewTime says", () => {
    const first = observe(held("b", "10"), undefined, 0);
    const renewed = held("b", "11");
    const seen = observe(renewed, first, 14_000);
    expect(seen).toEqual({ resourceVersion: "11", observedAt: 14_000 });
    expect(decideLease(renewed, seen, "a", 20_000, t)).toMatchObject({ kind: "wait", expiresInMs: 9_000 });
  });

  it("a version never observed counts as just renewed (no takeover on first sight)", () => {
    expect(
      decideLease(held("b", "99"), { resourceVersion: "10", observedAt: -1e9 }, "a", 0, t),
    ).toMatchObject({
      kind: "wait",
    });
  });

  it("honours the holder's leaseDurationSeconds", () => {
    const lease = held("b", "10", 2);
    const seen = observe(lease, undefined, 0);
    expect(decideLease(lease, seen, "a", 2_000, t)).toEqual({ kind: "acquire", why: "expired" });
  });
});

describe("leadership timing", () => {
  it("a leader stops before any other candidate may take over", () => {
    expect(stillLeading(0, t.renewDeadlineMs - 1, t)).toBe(true);
    expect(stillLeading(0, t.renewDeadlineMs, t)).toBe(false);
    expect(stillLeading(undefined, 0, t)).toBe(false);
    expect(t.renewDeadlineMs).toBeLessThan(t.leaseDurationMs);
  });

  it("rejects timings that would let two leaders overlap", () => {
    expect(validateTimings(t)).toBeUndefined();
    expect(
      validateTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }),
    ).toContain("lease duration must be longer");
    expect(
      validateTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }),
    ).toContain("renew deadline");
    expect(validateTimings({ leaseDurationMs: 2_500, renewDeadlineMs: 2_000, retryPeriodMs: 500 })).toContain(
      "whole seconds",
    );
  });

  it("writes MicroTime with six fractional digits", () => {
    expect(microTime(new Date("2026-01-02T03:04:05.678Z"))).toBe("2026-01-02T03:04:05.678000Z");
  });
});
