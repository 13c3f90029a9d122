import type { Snapshot } from "../../../src/ops/doctor/types.js";
import { describe, expect, it } from "vitest";
import { checkAllocation } from "../../../src/ops/doctor/checks/allocation.js";
import { checkAdvertisements, checkAnnouncement } from "../../../src/ops/doctor/checks/announce.js";
import { checkClass } from "../../../src/ops/doctor/checks/class.js";
import { checkComponents, checkForeignIngress } from "../../../src/ops/doctor/checks/controllers.js";
import { checkInstallation } from "../../../src/ops/doctor/checks/install.js";
import type { Finding } from "../../../src/ops/doctor/types.js";
import { event, l2adv, l2status, lease, node, pool, served, snapshot, svc, workload } from "./builders.js";

const VIP = "203.0.113.50";
const ids = (fs: Finding[]) => fs.map((f) => `${f.severity}:${f.check}:${f.object.name}`);

describe("checkInstallation", () => {
  it("reports missing CRDs", () => {
    const f = checkInstallation(snapshot({ pools: undefined }));
    expect(ids(f)).toEqual(["error:crds-missing:ipaddresspools.metallb.io"]);
  });

  it("explains every pending Service of our class when there is no pool", () => {
    const s = snapshot({ services: [svc("envoy", { cls: "metallb" }), svc("project", {})] });
    const f = checkInstallation(s);
    expect(ids(f)).toEqual(["error:no-pools:envoy"]);
    expect(f[0]!.fix).toContain("kind: IPAddressPool");
  });

  it("says which checks it skipped for lack of permission", () => {
    const f = checkInstallation(
      snapshot({ skipped: ["deployments", "daemonsets"], pools: [pool("p", ["203.0.113.0/28"])] }),
    );
    expect(ids(f)).toEqual(["info:not-permitted:(your credentials)"]);
    expect(f[0]!.explanation).toContain("Not allowed to list deployments, daemonsets");
  });

  it("reports invalid pools", () => {
    const f = checkInstallation(snapshot({ pools: [pool("bad", ["203.0.113.50"])] }));
    expect(ids(f)).toEqual(["error:pool-invalid:bad"]);
    expect(f[0]!.explanation).toContain("missing prefix length");
  });
});

describe("checkClass", () => {
  it("explains the runbook's outage: a class-less Service grabbed by a controller without --lb-class", () => {
    const project = svc("web", { ns: "project-a" });
    const s = snapshot({
      services: [project],
      events: [event(project, "AllocationFailed", "no IPAddressPool with autoAssign enabled is available")],
    });
    const [f] = checkClass(s);
    expect(f).toMatchObject({ check: "classless-claimed", severity: "error", service: "project-a/web" });
    expect(f!.explanation).toContain("<pending>");
    expect(f!.explanation).toContain("no IPAddressPool with autoAssign");
    expect(f!.fix).toContain("--lb-class=metallb");
  });

  it("also sees the grab in a leftover ip-allocated-from-pool annotation", () => {
    const s = snapshot({
      services: [
        svc("web", { ips: ["203.0.113.60"], annotations: { "metallb.io/ip-allocated-from-pool": "p" } }),
      ],
    });
    expect(ids(checkClass(s))).toEqual(["error:classless-claimed:web"]);
  });

  it("ignores Events about an earlier Service of the same name", () => {
    const project = svc("web", { uid: "new" });
    const s = snapshot({
      services: [project],
      events: [event(project, "AllocationFailed", "x", "metallb-controller", "old")],
    });
    expect(ids(checkClass(s))).toEqual(["info:not-our-class:web"]);
  });

  it("reports another class claimed by a floatip/MetalLB controller", () => {
    const other = svc("x", { cls: "kube-dc" });
    const s = snapshot({
      services: [other],
      events: [event(other, "IPAllocated", 'Assigned IP ["203.0.113.9"]')],
    });
    expect(ids(checkClass(s))).toEqual(["error:other-class-claimed:x"]);
  });

  it("suspects a misspelt class, and says nothing about Services another controller serves", () => {
    const s = snapshot({
      services: [svc("typo", { cls: "metalb" }), svc("dc", { cls: "kube-dc", ips: ["198.51.100.7"] })],
    });
    expect(ids(checkClass(s))).toEqual(["warning:class-typo:typo"]);
  });

  it("with no class configured, class-less Services are ours and classed ones are not", () => {
    const s = snapshot({
      config: { namespace: "metallb-system", lbClass: undefined },
      services: [svc("mine"), svc("theirs", { cls: "metallb" })],
    });
    expect(ids(checkClass(s))).toEqual(["info:not-our-class:theirs"]);
  });
});

describe("checkAllocation", () => {
  const base = {
    pools: [pool("envoy-gateway-pool", [`${VIP}/32`], false)],
    leases: [lease("floatip-controller")],
  };

  it("autoAssign: false and no requested IP", () => {
    const f = checkAllocation(snapshot({ ...base, services: [svc("envoy", { cls: "metallb" })] }));
    expect(ids(f)).toEqual(["error:autoassign-disabled:envoy"]);
    expect(f[0]!.fix).toContain("metallb.io/loadBalancerIPs");
  });

  it("a requested IP in no pool", () => {
    const s = snapshot({
      ...base,
      services: [
        svc("envoy", {
          cls: "metallb",
          annotations: { "metallb.universe.tf/loadBalancerIPs": "203.0.113.99" },
        }),
      ],
    });
    const f = checkAllocation(s);
    expect(ids(f)).toEqual(["error:requested-ip-not-in-pool:envoy"]);
    expect(f[0]!.fix).toContain("203.0.113.99/32");
  });

  it("an unknown address-pool", () => {
    const s = snapshot({
      ...base,
      services: [svc("envoy", { cls: "metallb", annotations: { "metallb.io/address-pool": "nope" } })],
    });
    expect(ids(checkAllocation(s))).toEqual(["error:unknown-pool:envoy"]);
  });

  it("an IP another Service holds", () => {
    const s = snapshot({
      ...base,
      services: [
        served("old", VIP),
        svc("envoy", { cls: "metallb", annotations: { "metallb.io/loadBalancerIPs": VIP } }),
      ],
    });
    expect(ids(checkAllocation(s))).toEqual(["error:allocation-ip-in-use:envoy"]);
  });

  it("an IP floatip would assign: then no controller is running", () => {
    const s = snapshot({
      pools: base.pools,
      services: [svc("envoy", { cls: "metallb", annotations: { "metallb.io/loadBalancerIPs": VIP } })],
    });
    const f = checkAllocation(s);
    expect(ids(f)).toEqual(["error:no-controller:envoy"]);
    expect(f[0]!.explanation).toContain(`would assign ${VIP}`);
    expect(f[0]!.explanation).toContain("no floatip controller Lease");
  });
});

describe("checkForeignIngress", () => {
  it("an IP on our Service that floatip did not write", () => {
    const s = snapshot({ services: [svc("envoy", { cls: "metallb", ips: [VIP] })] });
    const f = checkForeignIngress(s);
    expect(ids(f)).toEqual(["error:foreign-ingress:envoy"]);
    expect(f[0]!.explanation).toContain("another load-balancer controller");
  });

  it("kube-dc annotations on a Service of our class", () => {
    const s = snapshot({
      pools: [pool("envoy-gateway-pool", [`${VIP}/32`])],
      services: [
        served("envoy", VIP, "envoy-gateway-pool", {
          annotations: { "service.nlb.kube-dc.com/bind-on-eip": "eip-1" },
        }),
      ],
    });
    expect(ids(checkForeignIngress(s))).toEqual(["warning:kube-dc-annotations:envoy"]);
  });
});

describe("checkAdvertisements and checkAnnouncement", () => {
  const pools = [pool("envoy-gateway-pool", [`${VIP}/32`], false)];
  const nodes = [node("master-0"), node("master-1"), node("master-2")];
  const speakers = nodes.map((n) => lease(`floatip-speaker-${n.metadata.name}`));
  const envoy = served("envoy", VIP);

  it("a pool without an L2Advertisement: assigned but never announced", () => {
    const s = snapshot({ pools, nodes, leases: speakers, services: [envoy] });
    expect(ids(checkAdvertisements(s))).toEqual(["warning:pool-not-advertised:envoy-gateway-pool"]);
    expect(ids(checkAnnouncement(s))).toEqual(["error:ip-not-announced:envoy"]);
  });

  it("advertisements naming missing pools or matching no node", () => {
    const s = snapshot({
      pools,
      nodes,
      l2Advertisements: [
        l2adv("a", ["envoy-gateway-pool", "gone"]),
        l2adv("b", ["envoy-gateway-pool"], undefined, [{ matchLabels: { role: "edge" } }]),
      ],
    });
    expect(ids(checkAdvertisements(s))).toEqual([
      "warning:advertisement-unknown-pool:a",
      "warning:advertisement-no-nodes:b",
    ]);
  });

  it("no speaker Lease on the advertised nodes", () => {
    const s = snapshot({
      pools,
      nodes,
      services: [envoy],
      l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3"])],
    });
    const f = checkAnnouncement(s);
    expect(ids(f)).toEqual(["error:no-speaker:envoy"]);
    expect(f[0]!.explanation).toContain("floatip-speaker-<node>");
  });

  it("speakers run but nobody announces; a node without a speaker", () => {
    const s = snapshot({
      pools,
      nodes,
      leases: [speakers[0]!, speakers[1]!, lease("floatip-speaker-master-2", 60_000)],
      services: [envoy],
      l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3"])],
    });
    const f = checkAnnouncement(s);
    expect(ids(f)).toEqual(["warning:speaker-missing:envoy", "error:no-announcer:envoy"]);
    expect(f[1]!.explanation).toContain("ens3 are missing or down");
  });

  it("reads the EndpointSlices before naming 'no ready endpoint' as the cause", () => {
    const base = {
      pools,
      nodes,
      leases: speakers,
      services: [envoy],
      l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3"])],
    };
    const slice = (ready: boolean) => ({
      metadata: {
        namespace: envoy.metadata.namespace,
        labels: { "kubernetes.io/service-name": envoy.metadata.name },
      },
      endpoints: [{ conditions: { ready }, nodeName: "worker-0" }],
    });
    const why = (over: Partial<Snapshot>) =>
      checkAnnouncement(snapshot({ ...base, ...over })).find((x) => x.check === "no-announcer")!.explanation;
    expect(why({ endpointSlices: [slice(false)] })).toContain("Cause: the Service has no ready endpoint");
    expect(why({ endpointSlices: [slice(true)] })).toContain("It has 1 ready endpoint(s)");
    expect(why({ endpointSlices: [slice(true)] })).not.toContain("no ready endpoint");
    expect(why({})).toContain("EndpointSlices not readable");
  });

  it("an announcing node that lacks one of the advertised interfaces", () => {
    const s = snapshot({
      pools,
      nodes,
      leases: speakers,
      services: [envoy],
      l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3", "br-ext-cloud"])],
      l2Statuses: [l2status(envoy, "master-1", ["ens3"])],
    });
    const f = checkAnnouncement(s);
    expect(ids(f)).toEqual(["info:interface-missing:envoy"]);
    expect(f[0]!.explanation).toContain("not on br-ext-cloud");
  });

  it("an announcer whose speaker Lease went stale", () => {
    const s = snapshot({
      pools,
      nodes,
      leases: [speakers[0]!, lease("floatip-speaker-master-1", 120_000), speakers[2]!],
      services: [envoy],
      l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3"])],
      l2Statuses: [l2status(envoy, "master-1", ["ens3"])],
    });
    expect(ids(checkAnnouncement(s))).toEqual([
      "warning:speaker-missing:envoy",
      "warning:announcer-stale:envoy",
    ]);
  });

  it("healthy: announced on every advertised interface by a live speaker", () => {
    const s = snapshot({
      pools,
      nodes,
      leases: speakers,
      services: [envoy],
      l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3"])],
      l2Statuses: [l2status(envoy, "master-0", ["ens3"])],
    });
    expect(checkAdvertisements(s)).toEqual([]);
    expect(checkAnnouncement(s)).toEqual([]);
  });
});

describe("checkComponents", () => {
  it("a MetalLB controller without --lb-class", () => {
    const s = snapshot({
      workloads: [
        workload("Deployment", "metallb-controller", "quay.io/metallb/controller:v0.14.9", ["--port=7472"]),
      ],
    });
    const f = checkComponents(s);
    expect(ids(f)).toEqual(["error:controller-without-class:metallb-controller"]);
    expect(f[0]!.explanation).toContain("every LoadBalancer Service without a class");
  });

  it("two controllers for one class, and a speaker for another class", () => {
    const s = snapshot({
      workloads: [
        workload("Deployment", "floatip-controller", "floatip:0.1.0", ["controller", "--lb-class=metallb"]),
        workload(
          "Deployment",
          "controller",
          "quay.io/metallb/controller:v0.14.9",
          ["--lb-class", "metallb"],
          "other",
        ),
        workload("DaemonSet", "floatip-speaker", "floatip:0.1.0", ["speaker", "--lb-class=other"]),
      ],
    });
    expect(ids(checkComponents(s))).toEqual([
      "error:duplicate-controllers:floatip-controller",
      "error:duplicate-controllers:controller",
      "error:speaker-class-mismatch:floatip-speaker",
    ]);
  });

  it("agreeing controller and speaker: nothing to say", () => {
    const s = snapshot({
      workloads: [
        workload("Deployment", "floatip-controller", "floatip:0.1.0", ["controller", "--lb-class=metallb"]),
        workload("DaemonSet", "floatip-speaker", "floatip:0.1.0", ["speaker", "--lb-class=metallb"]),
      ],
    });
    expect(checkComponents(s)).toEqual([]);
  });
});
