// The speaker's Lease body: what peers (heartbeat address) and the runbook (lb class, interfaces)
// read from it.
import { describe, expect, it } from "vitest";
import { liveInterfaceNames } from "../../src/speaker/interfaces.js";
import { LEASE_INTERFACES_ANNOTATION, leaseBody, type LeaseConfig } from "../../src/speaker/lease.js";

const config: LeaseConfig = {
  nodeName: "master-0",
  namespace: "metallb-system",
  heartbeatPort: 7473,
  leaseDurationMs: 6000,
  leaseRenewMs: 2000,
  lbClass: "metallb",
};
const at = { renewTime: "2026-03-01T12:00:00.000000Z", acquireTime: "2026-03-01T11:00:00.000000Z" };

describe("the speaker's Lease", () => {
  it("publishes the node's interfaces for floatip verify", () => {
    const body = leaseBody(config, { ...at, address: "192.0.2.10", interfaces: ["ens3", "eth1"] });
    expect(body.metadata?.annotations).toEqual({
      "floatip.io/heartbeat-address": "192.0.2.10:7473",
      "floatip.io/lb-class": "metallb",
      [LEASE_INTERFACES_ANNOTATION]: "ens3,eth1",
    });
    expect(LEASE_INTERFACES_ANNOTATION).toBe("floatip.io/interfaces");
    expect(body.spec).toMatchObject({ holderIdentity: "master-0", leaseDurationSeconds: 6 });
  });

  it("an empty list is published as empty; no list (not read) leaves the annotation out", () => {
    expect(leaseBody(config, { ...at, interfaces: [] }).metadata?.annotations).toHaveProperty(
      LEASE_INTERFACES_ANNOTATION,
      "",
    );
    expect(leaseBody(config, at).metadata?.annotations).not.toHaveProperty(LEASE_INTERFACES_ANNOTATION);
  });

  it("the published names are sorted and leave out loopback and per-pod interfaces", () => {
    const names = liveInterfaceNames();
    expect(names).toEqual([...names].sort());
    expect(names.filter((n) => /^(lo|veth|lxc|cali)/.test(n))).toEqual([]);
  });
});
