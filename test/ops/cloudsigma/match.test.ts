import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  isControlPlane,
  matchNodesToServers,
  nodeInfo,
  selectServers,
} from "../../../src/ops/cloudsigma/match.js";
import { findPublicNic, nicIpv4, serverAddresses } from "../../../src/ops/cloudsigma/nic.js";
import type { Server } from "../../../src/ops/cloudsigma/types.js";
import { fakeUuid } from "../../support/fake-cloudsigma.js";
import { fixtureServers } from "./fixtures.js";

const servers = () => fixtureServers() as unknown as Server[];

function node(name: string, labels: Record<string, string>, addresses: [string, string][] = []): V1Node {
  return {
    metadata: { name, labels },
    status: { addresses: addresses.map(([type, address]) => ({ type, address })) },
  };
}

const CP = { "node-role.kubernetes.io/control-plane": "" };

describe("control-plane nodes", () => {
  it("selects nodes by the control-plane label (and the legacy master label)", () => {
    expect(isControlPlane(node("a", CP))).toBe(true);
    expect(isControlPlane(node("b", { "node-role.kubernetes.io/master": "" }))).toBe(true);
    expect(isControlPlane(node("c", { "node-role.kubernetes.io/worker": "" }))).toBe(false);
  });

  it("keeps ExternalIP and InternalIP addresses, canonicalised", () => {
    const info = nodeInfo(
      node("a", CP, [
        ["InternalIP", "10.0.0.5"],
        ["ExternalIP", "2001:db8:0:0::5"],
        ["Hostname", "a"],
      ]),
    );
    expect(info).toEqual({ name: "a", addresses: ["10.0.0.5", "2001:db8::5"] });
  });
});

describe("matchNodesToServers", () => {
  it("matches by an address on a server NIC (static or runtime), then by name", () => {
    const nodes = [
      nodeInfo(node("k8s-a", CP, [["ExternalIP", "203.0.113.11"]])), // static IP of cp-1
      nodeInfo(node("k8s-b", CP, [["InternalIP", "198.51.100.22"]])), // runtime (DHCP) IP of cp-2
      nodeInfo(node("cp-3.example.com", CP, [["InternalIP", "10.1.0.3"]])), // VLAN address: name decides
    ];
    const result = matchNodesToServers(nodes, servers());
    expect(result.errors).toEqual([]);
    expect(result.matches.map((m) => [m.node, m.server.name, m.by])).toEqual([
      ["k8s-a", "cp-1", "ip"],
      ["k8s-b", "cp-2", "ip"],
      ["cp-3.example.com", "cp-3", "name"],
    ]);
  });

  it("marks a match confirmed by both address and name", () => {
    const result = matchNodesToServers(
      [nodeInfo(node("cp-1", CP, [["ExternalIP", "203.0.113.11"]]))],
      servers(),
    );
    expect(result.matches[0]?.by).toBe("ip+name");
  });

  it("reports a node whose address and name point at different servers", () => {
    const result = matchNodesToServers(
      [nodeInfo(node("cp-2", CP, [["ExternalIP", "203.0.113.11"]]))],
      servers(),
    );
    expect(result.matches).toEqual([]);
    expect(result.errors[0]).toMatch(/its address is on server cp-1 .* but its name matches cp-2/);
  });

  it("reports unknown nodes, duplicate names and two nodes on one server", () => {
    const list = servers();
    const twin = { ...(list[2] as Server), uuid: fakeUuid(99) };
    const result = matchNodesToServers(
      [
        nodeInfo(node("ghost", CP, [["InternalIP", "10.9.9.9"]])),
        nodeInfo(node("cp-3", CP)),
        nodeInfo(node("x", CP, [["ExternalIP", "203.0.113.50"]])),
        nodeInfo(node("worker-1", CP)),
      ],
      [...list, twin],
    );
    expect(result.matches).toEqual([]);
    expect(result.errors.join("\n")).toMatch(/node ghost \(10\.9\.9\.9\): no CloudSigma server/);
    expect(result.errors.join("\n")).toMatch(/several servers share its name/);
    expect(result.errors.join("\n")).toMatch(/nodes x, worker-1 all match server worker-1/);
  });
});

describe("selectServers", () => {
  it("takes uuids or unique names and explains the rest", () => {
    const res = selectServers([fakeUuid(1), "cp-2", "nope"], servers());
    expect(res.servers.map((s) => s.name)).toEqual(["cp-1", "cp-2"]);
    expect(res.errors).toEqual([
      'unknown server "nope": no server with that uuid or name in this account/location',
    ]);
  });
});

describe("public NIC", () => {
  it("is the only NIC with ip_v4_conf; the VLAN NIC is never picked", () => {
    const [cp1, cp2] = servers();
    const a = findPublicNic(cp1 as Server);
    expect(a.ok && a.nic.mac).toBe("22:00:00:00:01:01");
    const b = findPublicNic(cp2 as Server);
    expect(b.ok && nicIpv4(cp2 as Server, b.nic)).toBe("198.51.100.22");
    expect(findPublicNic(cp1 as Server, "22:00:00:00:01:02")).toEqual({
      ok: false,
      error: "NIC 22:00:00:00:01:02 is a private (VLAN) NIC, not a public one",
    });
  });

  it("is ambiguous with two public NICs unless --public-interface-mac picks one", () => {
    const s = servers()[0] as Server;
    s.nics = [...(s.nics ?? []), { mac: "22:00:00:00:01:03", ip_v4_conf: { conf: "dhcp" }, vlan: null }];
    expect(findPublicNic(s)).toMatchObject({ ok: false, error: expect.stringMatching(/2 public NICs/) });
    expect(findPublicNic(s, "22:00:00:00:01:03")).toMatchObject({ ok: true });
    expect([...serverAddresses(s)]).toEqual(["203.0.113.11"]);
  });
});
