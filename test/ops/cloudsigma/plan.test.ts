import { describe, expect, it } from "vitest";
import { diffJson } from "../../../src/ops/cloudsigma/diff.js";
import {
  editableDefinition,
  PlanError,
  planNicFix,
  redactForDisplay,
  verifyNicFix,
} from "../../../src/ops/cloudsigma/plan.js";
import type { Json, Server } from "../../../src/ops/cloudsigma/types.js";
import { fixtureServers } from "./fixtures.js";

const server = (i: number) => fixtureServers()[i] as unknown as Server;

describe("editableDefinition", () => {
  it("drops exactly the read-only fields of the server schema, top level and per NIC/drive", () => {
    const s = server(1);
    const def = editableDefinition(s);
    for (const f of ["uuid", "resource_uri", "owner", "status", "runtime", "jobs"])
      expect(def).not.toHaveProperty(f);
    for (const nic of def.nics as object[]) expect(nic).not.toHaveProperty("runtime");
    for (const drive of def.drives as object[]) expect(drive).not.toHaveProperty("runtime");
    // Everything else is still there, unchanged.
    for (const f of [
      "name",
      "cpu",
      "mem",
      "smp",
      "meta",
      "tags",
      "vnc_password",
      "context",
      "requirements",
      "grantees",
    ]) {
      expect(def[f]).toEqual(s[f]);
    }
    expect(s.runtime).not.toBeNull(); // the input is not mutated
  });
});

describe("planNicFix", () => {
  it("changes only the target NIC's ip_v4_conf to manual without ip, keeping every other field and NIC", () => {
    const s = server(0); // cp-1, static
    const plan = planNicFix(s, "22:00:00:00:01:01");
    const expected = editableDefinition(s);
    const nics = expected.nics as Record<string, unknown>[];
    (nics[0] as Record<string, unknown>).ip_v4_conf = { conf: "manual" };
    expect(plan.body).toEqual(expected);
    expect(plan.diff).toEqual([
      { path: "nics[mac=22:00:00:00:01:01].ip_v4_conf.conf", before: "static", after: "manual" },
      {
        path: "nics[mac=22:00:00:00:01:01].ip_v4_conf.ip",
        before: { resource_uri: "/api/2.0/ips/203.0.113.11/", uuid: "203.0.113.11" },
        after: undefined,
      },
    ]);
    expect(plan.before).toEqual(s.nics?.[0]?.ip_v4_conf);
    expect((plan.body.nics as { mac: string }[]).map((n) => n.mac)).toEqual([
      "22:00:00:00:01:01",
      "22:00:00:00:01:02",
    ]);
  });

  it("refuses a server with a NIC that has no MAC (the PUT would create a new NIC)", () => {
    const s = server(0);
    delete (s.nics?.[1] as { mac?: string }).mac;
    expect(() => planNicFix(s, "22:00:00:00:01:01")).toThrow(PlanError);
  });

  it("refuses an unknown MAC", () => {
    expect(() => planNicFix(server(0), "22:00:00:00:09:09")).toThrow(/exactly one NIC/);
  });

  it("redacts the VNC password for display only", () => {
    const plan = planNicFix(server(0), "22:00:00:00:01:01");
    expect(redactForDisplay(plan.body).vnc_password).toBe("<redacted>");
    expect(plan.body.vnc_password).toBe("fake-vnc-secret");
  });
});

describe("verifyNicFix", () => {
  it("accepts the server read back with the NIC manual and everything else equal", () => {
    const s = server(1);
    const plan = planNicFix(s, "22:00:00:00:02:01");
    const after = JSON.parse(JSON.stringify(s)) as Server;
    const nic = after.nics?.[0];
    if (nic) nic.ip_v4_conf = { conf: "manual", ip: null };
    expect(verifyNicFix(plan, after)).toEqual([]);
  });

  it("reports an ignored change, a lost NIC and a stray change", () => {
    const s = server(1);
    const plan = planNicFix(s, "22:00:00:00:02:01");
    expect(verifyNicFix(plan, s)).toEqual([
      'NIC 22:00:00:00:02:01 is still "dhcp" after the update (expected "manual")',
    ]);
    const lost = JSON.parse(JSON.stringify(s)) as Server;
    lost.nics = [{ ...lost.nics?.[0], ip_v4_conf: { conf: "manual" } }];
    expect(verifyNicFix(plan, lost).join("\n")).toMatch(/NIC list changed/);
    const stray = JSON.parse(JSON.stringify(s)) as Server;
    stray.nics = stray.nics?.map((n, i) => (i === 0 ? { ...n, ip_v4_conf: { conf: "manual" } } : n));
    stray.mem = 1;
    expect(verifyNicFix(plan, stray)).toEqual(["unexpected difference after the update at mem"]);
  });
});

describe("diffJson", () => {
  it("keys NIC lists by MAC and reports order changes", () => {
    const a: Json = { nics: [{ mac: "a", x: 1 }, { mac: "b" }] };
    const b: Json = { nics: [{ mac: "b" }, { mac: "a", x: 2 }] };
    expect(diffJson(a, b)).toEqual([
      { path: "nics(order by mac)", before: "a,b", after: "b,a" },
      { path: "nics[mac=a].x", before: 1, after: 2 },
    ]);
  });
});
