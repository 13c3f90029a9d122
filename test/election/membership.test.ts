import { describe, expect, it } from "vitest";
import { Membership, type HeartbeatInfo } from "../../src/election/membership.js";

const SUSPECT = 300;
const REJOIN = 1000;

function hb(from: string, seq: number, extra: Partial<HeartbeatInfo> = {}): HeartbeatInfo {
  return {
    from,
    incarnation: 1,
    seq,
    leaving: false,
    ready: true,
    heard: {},
    announcing: [],
    carrier: { ens3: true },
    ...extra,
  };
}

/** A member view of master-0 with peers master-1 and master-2 known through their Leases. */
function setup(now = 0): Membership {
  const m = new Membership({ self: "master-0", suspectAfterMs: SUSPECT, rejoinAfterMs: REJOIN }, now);
  for (const peer of ["master-1", "master-2"])
    m.observeLease(peer, { observedRenewAt: now, durationMs: 10_000 });
  return m;
}

describe("membership", () => {
  it("waits a warm-up before this speaker may own IPs", () => {
    const m = setup(0);
    expect(m.view(0).members.get("master-0")?.eligible).toBe(false);
    expect(m.view(REJOIN).members.get("master-0")?.eligible).toBe(true);
  });

  it("ignores heartbeats from nodes without a Lease, and replays", () => {
    const m = setup();
    expect(m.observeHeartbeat(hb("intruder", 1), 10)).toBe(false);
    expect(m.observeHeartbeat(hb("master-1", 5), 10)).toBe(true);
    expect(m.observeHeartbeat(hb("master-1", 5), 20)).toBe(false);
    expect(m.observeHeartbeat(hb("master-1", 4), 20)).toBe(false);
    expect(m.observeHeartbeat(hb("master-1", 1, { incarnation: 2 }), 30)).toBe(true);
  });

  it("declares a crashed peer dead within the suspicion window while other peers are heard", () => {
    const m = setup();
    let t = 0;
    for (; t <= 1000; t += 50) {
      m.observeHeartbeat(hb("master-1", t + 1), t);
      m.observeHeartbeat(hb("master-2", t + 1), t);
    }
    // master-1 crashes at t≈1000; master-2 keeps talking and no longer hears master-1 either.
    for (; t <= 1400; t += 50) m.observeHeartbeat(hb("master-2", t + 1), t);
    const view = m.view(1000 + SUSPECT + 1);
    expect(view.members.get("master-1")?.alive).toBe(false);
    expect(view.members.get("master-2")?.alive).toBe(true);
    expect(view.isolated).toBe(false);
  });

  it("keeps a peer alive when only our direct path to it broke (indirect evidence)", () => {
    const m = setup();
    for (let t = 0; t <= 2000; t += 50) {
      if (t < 1000) m.observeHeartbeat(hb("master-1", t + 1), t);
      m.observeHeartbeat(hb("master-2", t + 1, { heard: { "master-1": 20 } }), t);
    }
    expect(m.view(2000).members.get("master-1")?.alive).toBe(true);
    expect(m.view(2000).members.get("master-1")?.reason).toBe("heartbeat via peer");
  });

  it("makes a peer we wrote off rejoin only after continuous contact (no flapping)", () => {
    const m = setup();
    m.observeHeartbeat(hb("master-2", 1), 0);
    m.observeHeartbeat(hb("master-1", 1), 0);
    expect(m.view(0).members.get("master-1")?.alive).toBe(true);
    m.observeHeartbeat(hb("master-2", 2), 500);
    expect(m.view(500).members.get("master-1")?.alive).toBe(false);
    m.observeHeartbeat(hb("master-1", 2), 600);
    m.observeHeartbeat(hb("master-2", 3), 600);
    expect(m.view(600).members.get("master-1")?.alive).toBe(false);
    for (let t = 650; t <= 1700; t += 50) {
      m.observeHeartbeat(hb("master-1", t), t);
      m.observeHeartbeat(hb("master-2", t), t);
    }
    expect(m.view(1700).members.get("master-1")?.alive).toBe(true);
  });

  it("falls back to Lease expiry when it hears no peer but the API server works", () => {
    const m = setup(0);
    m.observeLease("master-1", { observedRenewAt: 5000, durationMs: 2000 });
    m.observeLease("master-2", { observedRenewAt: 1000, durationMs: 2000 });
    const view = m.view(6000);
    expect(view.isolated).toBe(false);
    expect(view.members.get("master-1")?.alive).toBe(true);
    expect(view.members.get("master-2")?.alive).toBe(false);
    expect(m.view(7001).members.get("master-1")?.alive).toBe(false);
  });

  it("is isolated (must withdraw) when it hears no peer and the API server is unreachable", () => {
    const m = setup();
    m.setApiHealthy(false);
    const view = m.view(5000);
    expect(view.isolated).toBe(true);
    expect(view.members.get("master-0")?.alive).toBe(false);
  });

  it("keeps working through an API outage while peers are heard", () => {
    const m = setup();
    m.setApiHealthy(false);
    for (let t = 0; t <= 1500; t += 50) m.observeHeartbeat(hb("master-1", t + 1), t);
    const view = m.view(1500);
    expect(view.isolated).toBe(false);
    expect(view.members.get("master-1")?.alive).toBe(true);
    expect(view.members.get("master-0")?.eligible).toBe(true);
  });

  it("a peer that leaves is alive but not eligible; a deleted Lease removes it", () => {
    const m = setup();
    m.observeHeartbeat(hb("master-1", 1, { leaving: true }), 0);
    const member = m.view(0).members.get("master-1");
    expect(member?.alive).toBe(true);
    expect(member?.eligible).toBe(false);
    m.observeLease("master-1", undefined);
    expect(m.view(0).members.has("master-1")).toBe(false);
  });

  it("a stalled speaker is not eligible again until the rejoin delay passed", () => {
    const m = setup(0);
    expect(m.selfReady(REJOIN)).toBe(true);
    m.selfStalled(5000);
    expect(m.selfReady(5000 + REJOIN - 1)).toBe(false);
    expect(m.selfReady(5000 + REJOIN)).toBe(true);
  });
});

describe("membership under load", () => {
  it("keeps IPs after a hiccup when peers still hear us", () => {
    const m = setup(0);
    m.noteSelfStall(5000);
    m.observeHeartbeat(hb("master-1", 1, { heard: { "master-0": 150 } }), 5010);
    expect(m.selfReady(5010)).toBe(true);
  });

  it("steps back after a stall when a peer wrote us off", () => {
    const m = setup(0);
    m.noteSelfStall(5000);
    m.observeHeartbeat(hb("master-1", 1, { heard: { "master-2": 10 } }), 5010);
    expect(m.selfReady(5010)).toBe(false);
    expect(m.selfReady(5010 + REJOIN)).toBe(true);
  });

  it("gives a jittery peer a longer timeout (adaptive, clamped)", () => {
    const m = new Membership(
      { self: "master-0", suspectAfterMs: SUSPECT, maxSuspectAfterMs: 1000, rejoinAfterMs: REJOIN },
      0,
    );
    m.observeLease("master-1", { observedRenewAt: 0, durationMs: 10_000 });
    m.observeLease("master-2", { observedRenewAt: 0, durationMs: 10_000 });
    let t = 0;
    for (let i = 0; i < 50; i++) {
      t += i % 5 === 0 ? 250 : 40;
      m.observeHeartbeat(hb("master-1", i + 1), t);
    }
    expect(m.suspectAfterFor("master-1")).toBe(750);
    m.observeHeartbeat(hb("master-2", 1), t + 600);
    expect(m.view(t + 600).members.get("master-1")?.alive).toBe(true);
    m.observeHeartbeat(hb("master-2", 2), t + 800);
    expect(m.view(t + 800).members.get("master-1")?.alive).toBe(false);
  });
});

describe("membership after our own stall", () => {
  it("does not blame peers for the silence our stall caused", () => {
    const m = setup(0);
    for (let t = 0; t <= 1000; t += 40) {
      m.observeHeartbeat(hb("master-1", t + 1), t);
      m.observeHeartbeat(hb("master-2", t + 1), t);
    }
    // Our process did not run from 1000 to 1600: peers' heartbeats look 600 ms old.
    m.noteSelfStall(1600, 600);
    expect(m.view(1600).members.get("master-1")?.alive).toBe(true);
    // Once the allowance is over, real silence counts again (master-2 talks, master-1 stays silent).
    m.observeHeartbeat(hb("master-2", 5000), 1600 + SUSPECT);
    expect(m.view(1600 + SUSPECT + 1).members.get("master-1")?.alive).toBe(false);
  });
});

describe("adaptive suspicion remembers hiccups", () => {
  it("keeps a longer timeout for minutes after a peer's one long gap", () => {
    const m = new Membership(
      { self: "master-0", suspectAfterMs: SUSPECT, maxSuspectAfterMs: 1000, rejoinAfterMs: REJOIN },
      0,
    );
    m.observeLease("master-1", { observedRenewAt: 0, durationMs: 60_000 });
    let t = 0;
    let seq = 0;
    for (let i = 0; i < 20; i++) m.observeHeartbeat(hb("master-1", ++seq), (t += 40));
    m.observeHeartbeat(hb("master-1", ++seq), (t += 400)); // longer than the floor: a new contact streak, not a gap
    m.observeHeartbeat(hb("master-1", ++seq), (t += 290)); // a 290 ms gap, inside the window
    for (let i = 0; i < 300; i++) m.observeHeartbeat(hb("master-1", ++seq), (t += 40));
    // 300 normal gaps later the recent p99 is 40 ms, but the 290 ms hiccup is remembered: 1.5 × 290.
    expect(m.suspectAfterFor("master-1")).toBe(435);
    for (let i = 0; i < 8000; i++) m.observeHeartbeat(hb("master-1", ++seq), (t += 40));
    expect(m.suspectAfterFor("master-1")).toBe(SUSPECT);
  });
});
