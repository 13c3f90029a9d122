import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeStatus, parseExpectStatus, unmet, DEFAULT_EXPECTATION } from "../../src/ops/expect.js";
import { classesInUse, lbClassFromArgs, lbClassProblem } from "../../src/ops/lbclass.js";
import { speakerLive } from "../../src/ops/liveness.js";
import { describeHolder, lockHeld } from "../../src/ops/lock.js";
import { checkAdvertisements, checkPools } from "../../src/ops/verify-config.js";
import type { IPAddressPool, L2Advertisement } from "../../src/api/types.js";

describe("what counts as an answer", () => {
  it("2xx/3xx by default: a 404 or a 500 is not the floating IP working", () => {
    expect(unmet(DEFAULT_EXPECTATION, 200, "")).toBeUndefined();
    expect(unmet(DEFAULT_EXPECTATION, 302, "")).toBeUndefined();
    expect(unmet(DEFAULT_EXPECTATION, 404, "")).toBe("HTTP 404, expected 2xx/3xx");
    expect(unmet(DEFAULT_EXPECTATION, 500, "")).toBe("HTTP 500, expected 2xx/3xx");
  });

  it("parses codes, classes and ranges, and rejects anything else", () => {
    expect(parseExpectStatus("200,3xx,401-403")).toEqual([
      [200, 200],
      [300, 399],
      [401, 403],
    ]);
    for (const bad of ["2yy", "", "200-100", "99", "600", "2xx,,"])
      expect(typeof parseExpectStatus(bad)).toBe("string");
    expect(
      describeStatus([
        [200, 200],
        [300, 399],
      ]),
    ).toBe("200/3xx");
  });

  it("a status is accepted exactly when it lies in one of the parsed ranges", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.integer({ min: 100, max: 599 }),
        fc.integer({ min: 100, max: 599 }),
        (a, b, s) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const ranges = parseExpectStatus(`${lo}-${hi}`);
          expect(typeof ranges).not.toBe("string");
          const ok = unmet({ status: ranges as [number, number][] }, s, "") === undefined;
          expect(ok).toBe(s >= lo && s <= hi);
        },
      ),
    );
  });

  it("--expect-body: the right status from the wrong server is not enough", () => {
    const expectation = { ...DEFAULT_EXPECTATION, body: "my-app" };
    expect(unmet(expectation, 200, "default backend - 404")).toMatch(/lacks "my-app"/);
    expect(unmet(expectation, 200, "hello from my-app")).toBeUndefined();
  });
});

describe("--lb-class against the running components", () => {
  const pod = (name: string, component: string, args: string[]) => ({
    metadata: { name, labels: { "app.kubernetes.io/component": component } },
    spec: { containers: [{ args }] },
  });

  it("reads the class from pod arguments and speaker Lease annotations", () => {
    expect(lbClassFromArgs(["--lb-class=metallb"])).toBe("metallb");
    expect(lbClassFromArgs(["--log-level", "info", "--lb-class", "x"])).toBe("x");
    expect(lbClassFromArgs(["--log-level", "info"])).toBe("");
    const found = classesInUse(
      [
        pod("controller-1", "controller", ["--lb-class=metallb"]),
        pod("other", "webhook", ["--lb-class=zzz"]),
      ],
      [
        { metadata: { name: "floatip-speaker-a", annotations: { "floatip.io/lb-class": "metallb" } } },
        { metadata: { name: "old" } },
      ],
    );
    expect([...found.entries()]).toEqual([["metallb", ["pod controller-1", "Lease floatip-speaker-a"]]]);
  });

  it("a typo is a usage problem with the fix; a class that Services use is left to the diagnosis", () => {
    const inUse = new Map([["metallb", ["pod controller-1"]]]);
    expect(lbClassProblem("metalb", inUse, 0)).toMatch(/Did you mean --lb-class metallb\?$/);
    expect(lbClassProblem("metallb", inUse, 0)).toBeUndefined();
    expect(lbClassProblem("other", inUse, 2)).toBeUndefined();
    expect(lbClassProblem("x", new Map(), 0)).toBeUndefined();
    expect(lbClassProblem("metallb", new Map([["", ["pod c"]]]), 0)).toMatch(/Did you mean --lb-class ''\?/);
  });
});

describe("a live speaker and a held lock", () => {
  const lease = (renew: number, duration = 15) => ({
    metadata: { name: "floatip-speaker-m0" },
    spec: { renewTime: new Date(renew) as never, leaseDurationSeconds: duration },
  });

  it("after a restore, only a Lease renewed since the restore counts", () => {
    const now = 100_000;
    const e = { pods: [], leases: [lease(now - 5000)] };
    expect(speakerLive(e, "m0", now)).toBe(true); // fresh: verify would pass ...
    expect(speakerLive(e, "m0", now, now - 1000)).toBe(false); // ... but not renewed since the restore
    expect(speakerLive({ pods: [], leases: [lease(now - 500)] }, "m0", now, now - 1000)).toBe(true);
    expect(speakerLive(e, "m1", now)).toBe(false);
  });

  it("a lock expires a lease duration after its last renewal", () => {
    const spec = {
      holderIdentity: "failover-test by root@h (pid 1)",
      leaseDurationSeconds: 30,
      renewTime: new Date(0).toISOString(),
      acquireTime: new Date(0).toISOString(),
    };
    expect(lockHeld(spec, 30_000)).toBe(true);
    expect(lockHeld(spec, 30_001)).toBe(false);
    expect(lockHeld({ ...spec, holderIdentity: undefined }, 0)).toBe(false);
    expect(describeHolder(spec, 12_000)).toBe(
      "failover-test by root@h (pid 1) holds it since 1970-01-01T00:00:00.000Z for 12 s",
    );
  });
});

describe("verify's configuration checks", () => {
  const pool = (name: string, addresses: string[], created: string): IPAddressPool => ({
    metadata: { name, creationTimestamp: created },
    spec: { addresses },
  });
  const ad = (name: string, spec: L2Advertisement["spec"]): L2Advertisement => ({ metadata: { name }, spec });
  const nodes = [{ name: "master-0", labels: { "kubernetes.io/hostname": "master-0" } }];

  it("reports pools the controller ignores (overlapping an older pool, invalid)", () => {
    const r = checkPools(
      [
        pool("old", ["203.0.113.50/32"], "2024-01-01T00:00:00Z"),
        pool("new", ["203.0.113.50-203.0.113.51"], "2025-01-01T00:00:00Z"),
        pool("bad", ["nope"], "2024-01-01T00:00:00Z"),
      ],
      "metallb-system",
    );
    expect(r.status).toBe("fail");
    expect(r.detail).toMatch(/the controller ignores .*new \(.*overlaps.*older pool "old"/);
    expect(r.detail).toContain("bad (");
    expect(checkPools([pool("old", ["203.0.113.50/32"], "2024-01-01T00:00:00Z")], "ns").status).toBe("pass");
  });

  it("fails an L2Advertisement naming a missing or ignored pool, or selecting no node", () => {
    const pools = [
      pool("old", ["203.0.113.50/32"], "2024-01-01T00:00:00Z"),
      pool("new", ["203.0.113.50/32"], "2025-01-01T00:00:00Z"),
    ];
    const r = checkAdvertisements(
      [
        ad("typo", { ipAddressPools: ["envoy-gateway-pol"] }),
        ad("shadowed", { ipAddressPools: ["new"] }),
        ad("nowhere", { nodeSelectors: [{ matchLabels: { "kubernetes.io/hostname": "master-9" } }] }),
        ad("fine", { ipAddressPools: ["old"], interfaces: ["eth0"] }),
      ],
      pools,
      nodes,
      "ns",
    );
    expect(r.status).toBe("fail");
    expect(r.detail).toContain("typo: names pool envoy-gateway-pol, which does not exist");
    expect(r.detail).toContain("shadowed: names pool new, which the controller ignores");
    expect(r.detail).toContain("nowhere: its nodeSelectors match no node");
    expect(r.detail).not.toContain("fine:");
    expect(checkAdvertisements([ad("fine", { ipAddressPools: ["old"] })], pools, nodes, "ns").status).toBe(
      "pass",
    );
  });
});
