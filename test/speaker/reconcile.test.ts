import { describe, expect, it } from "vitest";
import type { IpAction, IpPlan } from "../../src/speaker/plan.js";
import { ownedIps, reconcile, type Held } from "../../src/speaker/reconcile.js";

const SVC = "ns/web";
const VIP = "203.0.113.50";

function plan(action: IpAction, ip = VIP, service = SVC): IpPlan {
  return { ip, service, pool: "pool", owner: undefined, candidates: [], action, excluded: {} };
}
const announce = (interfaces = ["ens3"]): IpAction => ({ kind: "announce", interfaces });

describe("reconcile: plans to effects", () => {
  it("takes a new IP: announce (owner), then status announced", () => {
    const { held, effects } = reconcile([plan(announce())], new Map(), 1000);
    expect(held.get(VIP)).toEqual({ service: SVC, pool: "pool" });
    expect(effects).toEqual([
      { kind: "announce", ip: VIP, service: SVC, interfaces: ["ens3"], took: "owner" },
      { kind: "status", service: SVC, announced: { ips: [VIP], pool: "pool", interfaces: ["ens3"] } },
    ]);
  });

  it("keeps answering an IP it already owns without status writes", () => {
    const current = new Map<string, Held>([[VIP, { service: SVC, pool: "pool" }]]);
    const { held, effects } = reconcile([plan(announce())], current, 1000);
    expect(held).toEqual(current);
    expect(effects).toEqual([{ kind: "announce", ip: VIP, service: SVC, interfaces: ["ens3"] }]);
  });

  it("reclaims an IP it was handing over", () => {
    const current = new Map<string, Held>([[VIP, { service: SVC, pool: "pool", handoverSince: 500 }]]);
    const { held, effects } = reconcile([plan(announce())], current, 1000);
    expect(held.get(VIP)?.handoverSince).toBeUndefined();
    expect(effects[0]).toMatchObject({ kind: "announce", took: "reclaimed" });
  });

  it("starts a handover once and never mutates its input", () => {
    const current = new Map<string, Held>([[VIP, { service: SVC, pool: "pool" }]]);
    const handover: IpAction = { kind: "handover", to: "master-1", interfaces: ["ens3"] };
    const first = reconcile([plan(handover)], current, 1000);
    expect(current.get(VIP)?.handoverSince).toBeUndefined();
    expect(first.held.get(VIP)?.handoverSince).toBe(1000);
    expect(first.effects).toEqual([{ kind: "handover", ip: VIP, service: SVC, to: "master-1" }]);
    const second = reconcile([plan(handover)], first.held, 1040);
    expect(second.held.get(VIP)?.handoverSince).toBe(1000);
    expect(second.effects).toEqual([]);
    expect(ownedIps(first.held)).toEqual([]);
  });

  it("withdraws on the plan's reason and withdraws the status when the Service has no IP left", () => {
    const current = new Map<string, Held>([[VIP, { service: SVC, pool: "pool" }]]);
    const { held, effects } = reconcile(
      [plan({ kind: "withdraw", reason: "noReadyEndpoints" })],
      current,
      1000,
    );
    expect(held.size).toBe(0);
    expect(effects).toEqual([
      { kind: "withdraw", ip: VIP, service: SVC, reason: "noReadyEndpoints" },
      { kind: "status", service: SVC },
    ]);
  });

  it("withdraws IPs no plan mentions any more (Service gone)", () => {
    const current = new Map<string, Held>([[VIP, { service: SVC, pool: "pool" }]]);
    const { held, effects } = reconcile([], current, 1000);
    expect(held.size).toBe(0);
    expect(effects).toEqual([
      { kind: "withdraw", ip: VIP, service: SVC, reason: "serviceGone" },
      { kind: "status", service: SVC },
    ]);
  });

  it("does nothing for an IP it neither holds nor owns", () => {
    expect(reconcile([plan({ kind: "none" })], new Map(), 1000)).toEqual({ held: new Map(), effects: [] });
  });
});
