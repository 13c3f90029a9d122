import { describe, expect, it } from "vitest";
import {
  hashedName,
  mergeValue,
  proxyServiceName,
  renderProxyService,
} from "../../../src/ops/envoy/render.js";
import {
  envoyProxyRefFor,
  envoyServiceSettings,
  gatewayForServiceName,
} from "../../../src/ops/envoy/resolve.js";
import type { EnvoyProxy, Gateway, GatewayClass } from "../../../src/ops/envoy/types.js";
import {
  classPatch,
  dropGatewayAddress,
  inversePatch,
  unclassPatch,
} from "../../../src/ops/migrate/patches.js";
import {
  chooseIP,
  describePlan,
  planMigration,
  preflight,
  type MigrationContext,
} from "../../../src/ops/migrate/plan.js";
import { formatSuccess } from "../../../src/ops/migrate/report.js";
import { describeState, emptyJournal } from "../../../src/ops/migrate/state.js";
import { l2adv, lease, node, pool, served } from "../doctor/builders.js";
import { type KubeService, parseRef } from "../../../src/kube/objects.js";

const VIP = "203.0.113.50";
const gc: GatewayClass = {
  metadata: { name: "eg" },
  spec: {
    controllerName: "gateway.envoyproxy.io/gatewayclass-controller",
    parametersRef: {
      group: "gateway.envoyproxy.io",
      kind: "EnvoyProxy",
      name: "proxy",
      namespace: "envoy-gateway-system",
    },
  },
};
const gw: Gateway = {
  metadata: { name: "eg", namespace: "default", resourceVersion: "7" },
  spec: {
    gatewayClassName: "eg",
    listeners: [{ name: "http", port: 80, protocol: "HTTP" }],
    addresses: [{ type: "IPAddress", value: VIP }],
  },
};
/** The seed's "before" EnvoyProxy: no class; the patch already carries the old-style annotation key. */
const proxy: EnvoyProxy = {
  metadata: { name: "proxy", namespace: "envoy-gateway-system", resourceVersion: "42" },
  spec: {
    logging: { level: { default: "warn" } },
    provider: {
      type: "Kubernetes",
      kubernetes: {
        envoyService: {
          externalTrafficPolicy: "Cluster",
          patch: { type: "StrategicMerge", value: { metadata: { annotations: { team: "edge" } } } },
        },
      },
    },
  },
};
const svcName = proxyServiceName("default", "eg");
const oldService = (): KubeService => ({
  ...renderProxyService(gw, proxy, "envoy-gateway-system"),
  metadata: { ...renderProxyService(gw, proxy, "envoy-gateway-system").metadata, uid: "uid-old" },
});

function ctx(over: Partial<MigrationContext> = {}): MigrationContext {
  return {
    serviceRef: { namespace: "envoy-gateway-system", name: svcName },
    service: oldService(),
    gateway: gw,
    gatewayClass: "eg",
    proxy,
    proxyRef: { namespace: "envoy-gateway-system", name: "proxy" },
    proxyVia: "GatewayClass",
    floatipNamespace: "metallb-system",
    pools: [pool("envoy-gateway-pool", [`${VIP}/32`], false)],
    l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3"])],
    leases: [
      lease("floatip-controller"),
      lease("floatip-speaker-master-0"),
      lease("floatip-speaker-master-1"),
    ],
    nodes: [node("master-0"), node("master-1")],
    services: [],
    namespaceLabels: {},
    now: Date.parse("2026-03-01T12:00:00Z"),
    ...over,
  };
}

describe("Envoy Gateway naming and rendering", () => {
  it("names the proxy Service envoy-<ns>-<name>-<8 hex of sha256(ns/name)>", () => {
    // sha256("default/eg") starts with these 8 hex digits.
    expect(hashedName("default/eg", 48)).toMatch(/^default-eg-[0-9a-f]{8}$/);
    expect(proxyServiceName("default", "eg")).toBe(`envoy-${hashedName("default/eg", 48)}`);
    const long = "a".repeat(60);
    expect(hashedName(`ns/${long}`, 48)).toMatch(/^ns-a{45}-[0-9a-f]{8}$/);
  });

  it("copies envoyService fields for type LoadBalancer only, and applies the patch last", () => {
    const p: EnvoyProxy = {
      metadata: { name: "p" },
      spec: {
        provider: {
          type: "Kubernetes",
          kubernetes: {
            envoyService: {
              loadBalancerClass: "metallb",
              annotations: { a: "1" },
              patch: {
                value: { metadata: { annotations: { a: "2", b: "3" } }, spec: { loadBalancerClass: "x" } },
              },
            },
          },
        },
      },
    };
    const s = renderProxyService(gw, p, "eg-ns");
    expect(s.metadata.annotations).toEqual({ a: "2", b: "3" });
    expect(s.spec).toMatchObject({
      type: "LoadBalancer",
      loadBalancerClass: "x",
      externalTrafficPolicy: "Local",
      externalIPs: [VIP],
    });
    const clusterIP = renderProxyService(
      gw,
      {
        metadata: { name: "p" },
        spec: {
          provider: { kubernetes: { envoyService: { type: "ClusterIP", loadBalancerClass: "metallb" } } },
        },
      },
      "n",
    );
    expect(clusterIP.spec.loadBalancerClass).toBeUndefined();
    expect(clusterIP.spec.externalTrafficPolicy).toBeUndefined();
  });

  it("reads what an EnvoyProxy asks of its Service", () => {
    expect(envoyServiceSettings(proxy)).toEqual({ type: "LoadBalancer", externalTrafficPolicy: "Cluster" });
    const inPatch = mergeValue(proxy, classPatch(proxy, "metallb", VIP)) as EnvoyProxy;
    expect(envoyServiceSettings(inPatch)).toMatchObject({
      directClass: "metallb",
      effectiveClass: "metallb",
      requestedIPs: { value: VIP, key: "metallb.io/loadBalancerIPs" },
    });
  });

  it("finds the EnvoyProxy (Gateway's own wins) and the Gateway of a Service name", () => {
    expect(envoyProxyRefFor(gw, [gc])).toEqual({
      ok: true,
      ref: { namespace: "envoy-gateway-system", name: "proxy" },
      via: "GatewayClass",
    });
    const own = {
      ...gw,
      spec: {
        ...gw.spec,
        infrastructure: {
          parametersRef: { group: "gateway.envoyproxy.io", kind: "EnvoyProxy", name: "mine" },
        },
      },
    };
    expect(envoyProxyRefFor(own, [gc])).toMatchObject({
      ref: { namespace: "default", name: "mine" },
      via: "Gateway",
    });
    const noParams = { ...gc, spec: { controllerName: gc.spec.controllerName } };
    expect(envoyProxyRefFor(gw, [noParams])).toMatchObject({ ok: false, reason: "no-parameters" });
    expect(gatewayForServiceName(svcName, "envoy-gateway-system", [gw], [gc], [proxy])).toBe(gw);
    expect(gatewayForServiceName("envoy-other", "envoy-gateway-system", [gw], [gc], [proxy])).toBeUndefined();
  });

  it("parses namespace/name references", () => {
    expect(parseRef("a/b")).toEqual({ namespace: "a", name: "b" });
    expect(parseRef("b", "d")).toEqual({ namespace: "d", name: "b" });
    expect(parseRef("a/b/c")).toBeUndefined();
    expect(parseRef("A/b")).toBeUndefined();
  });
});

describe("patches", () => {
  it("classPatch sets the direct class and the IP in the patch, keeps the rest, guards with resourceVersion", () => {
    const p = classPatch(proxy, "metallb", VIP);
    expect(p).toEqual({
      metadata: { resourceVersion: "42" },
      spec: {
        provider: {
          kubernetes: {
            envoyService: {
              loadBalancerClass: "metallb",
              patch: {
                type: "StrategicMerge",
                value: { metadata: { annotations: { "metallb.io/loadBalancerIPs": VIP } } },
              },
            },
          },
        },
      },
    });
    const merged = mergeValue(proxy, p) as EnvoyProxy;
    expect(merged.spec?.provider?.kubernetes?.envoyService).toMatchObject({
      externalTrafficPolicy: "Cluster",
      patch: { value: { metadata: { annotations: { team: "edge", "metallb.io/loadBalancerIPs": VIP } } } },
    });
  });

  it("classPatch takes a class and the IP out of the patch, keeps the seed's annotation key, drops stray keys", () => {
    const seedStyle: EnvoyProxy = {
      metadata: { name: "p", resourceVersion: "1" },
      spec: {
        provider: {
          type: "Kubernetes",
          kubernetes: {
            envoyService: {
              annotations: { "metallb.io/loadBalancerIPs": "203.0.113.9" },
              patch: {
                type: "StrategicMerge",
                value: {
                  metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": "203.0.113.9" } },
                  spec: { loadBalancerClass: "metallb", externalIPs: [VIP] },
                },
              },
            },
          },
        },
      },
    };
    const es = (
      classPatch(seedStyle, "metallb", VIP).spec as { provider: { kubernetes: { envoyService: unknown } } }
    ).provider.kubernetes.envoyService;
    expect(es).toEqual({
      loadBalancerClass: "metallb",
      annotations: { "metallb.io/loadBalancerIPs": null },
      patch: {
        type: "StrategicMerge",
        value: {
          metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": VIP } },
          spec: { loadBalancerClass: null, externalIPs: null },
        },
      },
    });
  });

  it("inversePatch restores the original exactly", () => {
    for (const p of [
      classPatch(proxy, "metallb", VIP),
      unclassPatch(mergeValue(proxy, classPatch(proxy, "metallb", VIP)) as EnvoyProxy)!,
    ]) {
      const applied = mergeValue(proxy, p);
      expect(mergeValue(applied, inversePatch(proxy, p))).toEqual(proxy);
      expect(inversePatch(proxy, p)).not.toHaveProperty("metadata");
    }
  });

  it("unclassPatch removes class and loadBalancerIPs wherever they are; nothing to do is undefined", () => {
    const migrated = mergeValue(proxy, classPatch(proxy, "metallb", VIP)) as EnvoyProxy;
    const back = mergeValue(migrated, unclassPatch(migrated)!) as EnvoyProxy;
    expect(envoyServiceSettings(back)).toEqual({ type: "LoadBalancer", externalTrafficPolicy: "Cluster" });
    expect(unclassPatch(back)).toBeUndefined();
  });

  it("dropGatewayAddress removes the IP from spec.addresses", () => {
    expect(dropGatewayAddress(gw, VIP)).toEqual({
      metadata: { resourceVersion: "7" },
      spec: { addresses: null },
    });
    expect(dropGatewayAddress(gw, "203.0.113.9")).toBeUndefined();
  });
});

describe("preflight and plan", () => {
  it("a ready floatip: no errors, IP from the Service's externalIPs", () => {
    const pre = preflight(ctx(), { lbClass: "metallb" });
    expect(pre).toEqual({ ip: VIP, pool: "envoy-gateway-pool", errors: [], warnings: [] });
  });

  it("explains what is missing", () => {
    const pre = preflight(
      ctx({
        pools: [pool("other", ["198.51.100.0/24"])],
        leases: [],
        services: [served("squatter", VIP)],
      }),
      { lbClass: "metallb" },
    );
    expect(pre.errors.join("\n")).toContain(`${VIP} is in no IPAddressPool in metallb-system (pools: other)`);
    expect(pre.errors.join("\n")).toContain("no floatip controller is running");
    expect(pre.errors.join("\n")).toContain(`${VIP} is already held by Service default/squatter`);
    const noCrds = preflight(ctx({ pools: undefined }), { lbClass: "metallb" });
    expect(noCrds.errors).toEqual([
      "floatip is not installed: the metallb.io CRDs (IPAddressPool, L2Advertisement) are missing",
    ]);
    const noAdv = preflight(ctx({ l2Advertisements: [] }), { lbClass: "metallb" });
    expect(noAdv.errors[0]).toContain("no L2Advertisement selects pool envoy-gateway-pool");
    const noSpeaker = preflight(ctx({ leases: [lease("floatip-controller")] }), { lbClass: "metallb" });
    expect(noSpeaker.errors[0]).toContain(
      "no floatip speaker is running on the advertised nodes (master-0, master-1)",
    );
  });

  it("refuses an EnvoyProxy of another class or type", () => {
    const other = mergeValue(proxy, {
      spec: { provider: { kubernetes: { envoyService: { loadBalancerClass: "kube-dc" } } } },
    }) as EnvoyProxy;
    expect(preflight(ctx({ proxy: other }), { lbClass: "metallb" }).errors[0]).toContain(
      'already sets envoyService.loadBalancerClass "kube-dc"',
    );
    const np = mergeValue(proxy, {
      spec: { provider: { kubernetes: { envoyService: { type: "NodePort" } } } },
    }) as EnvoyProxy;
    expect(preflight(ctx({ proxy: np }), { lbClass: "metallb" }).errors[0]).toContain(
      "envoyService.type NodePort",
    );
  });

  it("chooses the IP: --ip, else externalIPs, else the requested IP, else the Gateway's address", () => {
    expect(chooseIP(ctx(), "203.0.113.7")).toEqual({ ip: "203.0.113.7" });
    expect(chooseIP(ctx(), "nope").error).toContain("not an IP address");
    expect(chooseIP(ctx({ service: undefined }), undefined)).toEqual({ ip: VIP });
    expect(
      chooseIP(
        ctx({ service: undefined, gateway: { ...gw, spec: { ...gw.spec, addresses: [] } } }),
        undefined,
      ).error,
    ).toContain("pass --ip");
  });

  it("plans the patch, the delete, the Gateway change and the Service EG will create", () => {
    const plan = planMigration(ctx(), VIP, "envoy-gateway-pool", "metallb");
    expect(plan.deleteService).toEqual({
      ref: { namespace: "envoy-gateway-system", name: svcName },
      uid: "uid-old",
    });
    expect(plan.gatewayPatch).toEqual({ metadata: { resourceVersion: "7" }, spec: { addresses: null } });
    expect(plan.expected.spec).toMatchObject({
      type: "LoadBalancer",
      loadBalancerClass: "metallb",
      externalTrafficPolicy: "Cluster",
    });
    expect(plan.expected.spec.externalIPs).toBeUndefined();
    expect(plan.expected.metadata.annotations).toEqual({ team: "edge", "metallb.io/loadBalancerIPs": VIP });
    expect(plan.done).toBe(false);
    const text = describePlan(ctx(), plan, 120_000).join("\n");
    // The seed's pool is open to every namespace: it is pinned first (see below).
    expect(text).toContain("1. patch IPAddressPool metallb-system/envoy-gateway-pool");
    expect(text).toMatch(
      /2\. patch EnvoyProxy envoy-gateway-system\/proxy \(JSON merge patch\):\n {4}\{"metadata":\{"resourceVersion":"42"\}/,
    );
    expect(text).toContain("3. re-read EnvoyProxy");
    expect(text).toContain(`4. delete Service envoy-gateway-system/${svcName} (precondition uid uid-old)`);
    expect(text).toContain("EG issue 3632");
    expect(text).toContain("loadBalancerClass: metallb");
  });

  it("an already migrated Service needs nothing", () => {
    const migrated = mergeValue(proxy, classPatch(proxy, "metallb", VIP)) as EnvoyProxy;
    const gwNow = { ...gw, spec: { ...gw.spec, addresses: [] } } as Gateway;
    const svc = {
      ...renderProxyService(gwNow, migrated, "envoy-gateway-system"),
      status: { loadBalancer: { ingress: [{ ip: VIP }] } },
    };
    svc.metadata.uid = "new";
    const plan = planMigration(
      ctx({ proxy: migrated, gateway: gwNow, service: svc }),
      VIP,
      "envoy-gateway-pool",
      "metallb",
    );
    expect(plan).toMatchObject({ done: true });
    expect(plan.proxyPatch).toBeUndefined();
  });
});

describe("failure state", () => {
  const plan = planMigration(ctx(), VIP, "envoy-gateway-pool", "metallb");
  it("nothing changed", () => {
    expect(describeState(emptyJournal(), ctx(), plan)).toEqual([
      "State of the cluster now:",
      "  Nothing was changed.",
    ]);
  });
  it("pool pinned only: says so, and that nothing else changed", () => {
    expect(describeState({ ...emptyJournal(), poolPinned: true }, ctx(), plan)).toEqual([
      "State of the cluster now:",
      `  - IPAddressPool envoy-gateway-pool: pinned to namespace ${ctx().serviceRef.namespace} (kept: it only stops other namespaces from claiming ${VIP}).`,
      "  Nothing else was changed.",
    ]);
  });
  it("interrupted after the IP was assigned: the change is complete, not verified", () => {
    const j = {
      ...emptyJournal(),
      proxyPatched: true,
      serviceDeleted: true,
      recreated: true,
      ipAssigned: true,
    };
    const text = describeState(j, ctx(), plan, { interrupted: true }).join("\n");
    expect(text).toContain("the migration's change is complete; it was not verified (interrupted)");
    expect(text).toContain("floatip verify --lb-class metallb");
  });
  it("interrupted and restored before the delete: nothing to do", () => {
    const j = { ...emptyJournal(), proxyPatched: true, proxyReverted: true };
    const text = describeState(j, ctx(), plan, { interrupted: true }).join("\n");
    expect(text).toContain("patched, then restored to its previous spec");
    expect(text).toContain("Nothing: the Service is served as before");
  });
  it("patched only: says how to undo the EnvoyProxy change", () => {
    const text = describeState({ ...emptyJournal(), proxyPatched: true }, ctx(), plan).join("\n");
    expect(text).toContain("unchanged (old class; still served as before)");
    expect(text).toContain("kubectl patch envoyproxy -n envoy-gateway-system proxy --type merge -p");
  });
  it("deleted and not recreated: says the IP is down and how to recover or roll back", () => {
    const text = describeState(
      { ...emptyJournal(), proxyPatched: true, serviceDeleted: true, gatewayPatched: true },
      ctx(),
      plan,
    ).join("\n");
    expect(text).toContain(`DELETED and not recreated by Envoy Gateway yet: ${VIP} is NOT served`);
    expect(text).toContain("kubectl rollout restart deployment/envoy-gateway");
    expect(text).toContain(`floatip rollback --service envoy-gateway-system/${svcName} --external-ip ${VIP}`);
  });
});

describe("success report", () => {
  const plan = planMigration(ctx(), VIP, "envoy-gateway-pool", "metallb");
  it("states the probe-measured downtime, the timeline and the hand-placed address to remove", () => {
    const text = formatSuccess(
      ctx(),
      plan,
      {
        basis: "probe",
        ms: 412,
        recreatedMs: 300,
        ipAssignedMs: 310,
        announcedMs: 350,
        probe: { probes: 200, failed: 40, unavailableMs: 380, spanMs: 430, outages: 2, totalMs: 412 },
      },
      { node: "master-1", interfaces: ["ens3"] },
    ).join("\n");
    expect(text).toContain(
      `Migrated Service envoy-gateway-system/${svcName} to ${VIP} (class metallb, pool envoy-gateway-pool).`,
    );
    expect(text).toContain("announced by node master-1 on ens3");
    expect(text).toContain(
      "downtime: 412 ms (measured by a 10 ms probe loop: 40 of 200 requests failed in 2 outage(s)",
    );
    expect(text).toContain(
      "after the delete: Service recreated +300 ms, IP assigned +310 ms, announced +350 ms",
    );
    expect(text).toContain(`ip addr del ${VIP}/32 dev <interface>`);
  });

  it("without a URL the number is an estimate and says so", () => {
    const text = formatSuccess(
      ctx(),
      plan,
      { basis: "announce", ms: 350, announcedMs: 350, ipAssignedMs: 300 },
      undefined,
    ).join("\n");
    expect(text).toContain("downtime: 350 ms (from the delete until a node announced the IP (an estimate");
  });
});

describe("the IP is never claimable while the Service is recreated", () => {
  const pinned = (sa: object) => ({
    ...pool("envoy-gateway-pool", [`${VIP}/32`], false),
    spec: { addresses: [`${VIP}/32`], autoAssign: false, serviceAllocation: sa },
  });

  it("an open pool is pinned to the Service's namespace first, guarded by its resourceVersion", () => {
    const open = { ...pool("envoy-gateway-pool", [`${VIP}/32`], false) };
    open.metadata = { ...open.metadata, resourceVersion: "9" };
    const c = ctx({ pools: [open] });
    expect(preflight(c, { lbClass: "metallb" }).errors).toEqual([]);
    const plan = planMigration(c, VIP, "envoy-gateway-pool", "metallb");
    expect(plan.poolPin).toEqual({
      metadata: { resourceVersion: "9" },
      spec: { serviceAllocation: { namespaces: ["envoy-gateway-system"] } },
    });
    const steps = describePlan(c, plan, 60_000).join("\n");
    // Step 1, before the EnvoyProxy patch and the delete.
    expect(steps).toMatch(/^ {2}1\. patch IPAddressPool metallb-system\/envoy-gateway-pool/);
  });

  it("a pool already pinned to it is left alone", () => {
    const c = ctx({ pools: [pinned({ namespaces: ["envoy-gateway-system"], priority: 5 })] });
    expect(planMigration(c, VIP, "envoy-gateway-pool", "metallb").poolPin).toBeUndefined();
    expect(preflight(c, { lbClass: "metallb" }).warnings.join("\n")).not.toContain("also open");
  });

  it("refuses to pin an open pool other namespaces' Services draw from", () => {
    const c = ctx({
      pools: [pool("envoy-gateway-pool", [`${VIP}/32`, "203.0.113.60/32"], false)],
      services: [served("team-lb", "203.0.113.60", "envoy-gateway-pool", { ns: "team" })],
    });
    const errors = preflight(c, { lbClass: "metallb" }).errors.join("\n");
    expect(errors).toContain("also serves team/team-lb");
    expect(errors).toContain("a pool of its own");
  });

  it("warns when the platform opened the pool to other namespaces itself", () => {
    const c = ctx({
      pools: [
        pinned({
          namespaces: ["envoy-gateway-system", "team"],
          namespaceSelectors: [{ matchLabels: { ingress: "yes" } }],
        }),
      ],
    });
    const pre = preflight(c, { lbClass: "metallb" });
    expect(pre.errors).toEqual([]);
    expect(pre.warnings.join("\n")).toContain(
      "pool envoy-gateway-pool is also open to namespaces team and namespaceSelectors",
    );
    expect(planMigration(c, VIP, "envoy-gateway-pool", "metallb").poolPin).toBeUndefined();
  });
});
