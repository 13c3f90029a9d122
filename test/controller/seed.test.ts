// The seed deployment end to end against a real kube-apiserver: the Envoy Gateway Service gets the
// floating IP from an autoAssign:false pool, other LoadBalancer Services are left to kube-dc, and the
// allocation survives restarts, pool edits, deletes and type changes the way MetalLB's does.
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestCluster } from "../support/cluster.js";
import {
  apply,
  createService,
  ensureNamespace,
  eventsFor,
  ingressIPs,
  NS,
  readService,
  runController,
  sleep,
  startCrdCluster,
  waitFor,
  waitForEvent,
  type Running,
} from "./support.js";

const EG = "envoy-gateway-system";
const SVC = "envoy-envoy-gateway-system-eg-5d3f1c2a";
const FLOATING_IP = "203.0.113.50";
const POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool";

const seedObjects = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: envoy-gateway-pool
  namespace: metallb-system
spec:
  addresses:
    - ${FLOATING_IP}/32
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: envoy-gateway-l2
  namespace: metallb-system
spec:
  ipAddressPools:
    - envoy-gateway-pool
  interfaces:
    - ens3
---
# An autoAssign pool too: a controller that wrongly handled class-less Services would use it.
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: general
  namespace: metallb-system
spec:
  addresses:
    - 198.51.100.0/29
`;

/** What Envoy Gateway renders from the seed's EnvoyProxy. */
const envoyService = `
apiVersion: v1
kind: Service
metadata:
  name: ${SVC}
  namespace: ${EG}
  labels:
    app.kubernetes.io/name: envoy
    app.kubernetes.io/component: proxy
    app.kubernetes.io/managed-by: envoy-gateway
    gateway.envoyproxy.io/owning-gateway-name: eg
    gateway.envoyproxy.io/owning-gateway-namespace: ${EG}
  annotations:
    metallb.universe.tf/loadBalancerIPs: ${FLOATING_IP}
spec:
  type: LoadBalancer
  loadBalancerClass: metallb
  externalTrafficPolicy: Cluster
  selector:
    app.kubernetes.io/name: envoy
  ports:
    - name: http
      port: 80
      targetPort: 10080
      protocol: TCP
`;

describe("seed flow: MetalLB-compatible allocation for Envoy Gateway", () => {
  let cluster: TestCluster;
  let running: Running;
  let custom: k8s.CustomObjectsApi;

  const pool = async (
    name: string,
  ): Promise<{ spec: { addresses: string[] }; status?: Record<string, number> }> =>
    (await custom.getNamespacedCustomObject({
      group: "metallb.io",
      version: "v1beta1",
      namespace: NS,
      plural: "ipaddresspools",
      name,
    })) as { spec: { addresses: string[] }; status?: Record<string, number> };

  const patchPool = (name: string, body: object): Promise<unknown> =>
    custom.patchNamespacedCustomObject(
      { group: "metallb.io", version: "v1beta1", namespace: NS, plural: "ipaddresspools", name, body },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );

  /** A Service created after `name` that must get an IP: once it has, `name` was processed too (FIFO). */
  const processedPast = async (marker: string): Promise<void> => {
    await createService(cluster, marker, { annotations: { "metallb.io/address-pool": "general" } });
    await waitFor(
      `${marker} to get an IP`,
      async () => ingressIPs(await readService(cluster, "default", marker))[0],
    );
    await running.controller.idle();
  };

  beforeAll(async () => {
    cluster = await startCrdCluster();
    custom = cluster.kc.makeApiClient(k8s.CustomObjectsApi);
    for (const ns of [EG, "project", "tenant"]) await ensureNamespace(cluster, ns);
    await apply(cluster, seedObjects);
    running = await runController(cluster, "controller-a");
  });

  afterAll(async () => {
    await running?.controller.stop();
    await cluster?.cp.stop();
  });

  it("gives the Envoy Gateway Service the floating IP: status VIP, pool annotation, IPAllocated event", async () => {
    await apply(cluster, envoyService);
    const svc = await waitFor("the floating IP in status", async () => {
      const s = await readService(cluster, EG, SVC);
      return ingressIPs(s).length > 0 ? s : undefined;
    });
    expect(svc.status?.loadBalancer?.ingress).toEqual([{ ip: FLOATING_IP, ipMode: "VIP" }]);
    expect(svc.metadata?.annotations?.[POOL_ANNOTATION]).toBe("envoy-gateway-pool");
    const ev = await waitForEvent(cluster, EG, SVC, "IPAllocated");
    expect(ev.type).toBe("Normal");
    expect(ev.message).toBe(`Assigned IP ["${FLOATING_IP}"]`);
    expect(ev.source?.component).toBe("floatip-controller");
    const status = await waitFor("pool status", async () => {
      const s = (await pool("envoy-gateway-pool")).status;
      return s?.assignedIPv4 === 1 ? s : undefined;
    });
    expect(status).toEqual({ assignedIPv4: 1, assignedIPv6: 0, availableIPv4: 0, availableIPv6: 0 });
  });

  it("leaves class-less and other-class LoadBalancer Services alone: pending, no annotation, no event", async () => {
    await createService(cluster, "project-lb", { namespace: "project", lbClass: null });
    await createService(cluster, "eip-lb", {
      namespace: "project",
      lbClass: "kube-dc",
      annotations: { "metallb.io/loadBalancerIPs": FLOATING_IP },
    });
    await processedPast("marker");
    await sleep(300);
    for (const name of ["project-lb", "eip-lb"]) {
      const s = await readService(cluster, "project", name);
      expect(s.status?.loadBalancer ?? {}).toEqual({});
      expect(
        Object.keys(s.metadata?.annotations ?? {}).filter((k) => k.startsWith("metallb.io/ip-")),
      ).toEqual([]);
      expect(await eventsFor(cluster, "project", name)).toEqual([]);
    }
    expect(running.logs.lines.filter((l) => String(l.service ?? "").startsWith("project/"))).toEqual([]);
  });

  it("reports a requested IP outside every pool with AllocationFailed and a hint", async () => {
    await createService(cluster, "outside", {
      annotations: { "metallb.io/loadBalancerIPs": "203.0.113.99" },
    });
    const ev = await waitForEvent(cluster, "default", "outside", "AllocationFailed");
    expect(ev.type).toBe("Warning");
    expect(ev.message).toContain("203.0.113.99 is not in any pool this Service may use");
    expect(ev.message).toContain("pick an address from such a pool");
    expect(ingressIPs(await readService(cluster, "default", "outside"))).toEqual([]);
    expect(running.logs.events("allocationFailed").some((l) => l.service === "default/outside")).toBe(true);
  });

  it("another namespace cannot take the floating IP by annotation", async () => {
    await createService(cluster, "thief", {
      namespace: "tenant",
      annotations: { "metallb.universe.tf/loadBalancerIPs": FLOATING_IP },
    });
    const ev = await waitForEvent(cluster, "tenant", "thief", "AllocationFailed");
    expect(ev.message).toContain(`${FLOATING_IP} is held by a Service in another namespace`);
    expect(ev.message).not.toContain(SVC); // no names leak across tenants
    expect(ingressIPs(await readService(cluster, "tenant", "thief"))).toEqual([]);
    expect(ingressIPs(await readService(cluster, EG, SVC))).toEqual([FLOATING_IP]);
  });

  it("a restart changes nothing: same IP, no write, no new event", async () => {
    const before = await readService(cluster, EG, SVC);
    const eventsBefore = await eventsFor(cluster, EG, SVC);
    const markerBefore = await readService(cluster, "default", "marker");
    await running.controller.stop();
    running = await runController(cluster, "controller-b");
    await running.controller.idle();
    await sleep(500);
    const after = await readService(cluster, EG, SVC);
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.status?.loadBalancer?.ingress).toEqual([{ ip: FLOATING_IP, ipMode: "VIP" }]);
    expect((await readService(cluster, "default", "marker")).metadata?.resourceVersion).toBe(
      markerBefore.metadata?.resourceVersion,
    );
    expect((await eventsFor(cluster, EG, SVC)).map((e) => [e.reason, e.count])).toEqual(
      eventsBefore.map((e) => [e.reason, e.count]),
    );
    expect(running.logs.events("restored")[0]).toMatchObject({ restored: 2, refused: 0 });
    const writes = (await running.controller.metrics.apiWrites.get()).values.filter((v) =>
      String(v.labels.target).startsWith("service"),
    );
    expect(writes).toEqual([]);
    // The tenant's unchanged failure was already reported by the previous leader: not repeated.
    // Nor is the deprecatedAnnotation Warning (the seed's metallb.universe.tf/ key).
    expect((await eventsFor(cluster, "tenant", "thief")).map((e) => e.reason).sort()).toEqual([
      "AllocationFailed",
      "deprecatedAnnotation",
    ]);
  });

  it("a pool edit that removes the IP clears it and says why; restoring the pool gives it back", async () => {
    await patchPool("envoy-gateway-pool", { spec: { addresses: ["203.0.113.51/32"] } });
    await waitFor("status cleared", async () => ingressIPs(await readService(cluster, EG, SVC)).length === 0);
    const cleared = await waitForEvent(cluster, EG, SVC, "ClearAssignment");
    expect(cleared.type).toBe("Warning");
    expect(cleared.message).toBe(
      `Cleared IP ["${FLOATING_IP}"]: IP ${FLOATING_IP} is no longer inside any IPAddressPool`,
    );
    const svc = await readService(cluster, EG, SVC);
    expect(svc.metadata?.annotations?.[POOL_ANNOTATION]).toBeUndefined();
    expect(running.logs.events("assignmentInvalidated")[0]).toMatchObject({
      service: `${EG}/${SVC}`,
      ips: [FLOATING_IP],
    });

    await patchPool("envoy-gateway-pool", { spec: { addresses: [`${FLOATING_IP}/32`] } });
    // Oldest Service first: the Envoy Service, not the tenant's later claim, gets it back.
    await waitFor("IP back", async () => ingressIPs(await readService(cluster, EG, SVC))[0] === FLOATING_IP);
    await running.controller.idle();
    expect(ingressIPs(await readService(cluster, "tenant", "thief"))).toEqual([]);
  });

  it("deleting the Service frees the IP: the waiting Service in another namespace gets it", async () => {
    await cluster.core.deleteNamespacedService({ name: SVC, namespace: EG });
    const thief = await waitFor("the freed IP to be reassigned", async () => {
      const s = await readService(cluster, "tenant", "thief");
      return ingressIPs(s)[0] === FLOATING_IP ? s : undefined;
    });
    expect(thief.metadata?.annotations?.[POOL_ANNOTATION]).toBe("envoy-gateway-pool");
    const reasons = (
      await waitFor("IPAllocated", async () => {
        const evs = await eventsFor(cluster, "tenant", "thief");
        return evs.at(-1)?.reason === "IPAllocated" ? evs : undefined;
      })
    )
      .map((e) => e.reason)
      .filter((r) => r !== "deprecatedAnnotation");
    // Earlier: in use, then outside every pool while the pool was edited, then in use again.
    expect(reasons).toEqual(["AllocationFailed", "AllocationFailed", "AllocationFailed", "IPAllocated"]);
  });

  it("changing the type away from LoadBalancer releases the IP and removes the annotation", async () => {
    await cluster.core.patchNamespacedService(
      {
        name: "thief",
        namespace: "tenant",
        body: { spec: { type: "ClusterIP", loadBalancerClass: null, externalTrafficPolicy: null } },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    await waitFor("annotation removed", async () => {
      const s = await readService(cluster, "tenant", "thief");
      return s.metadata?.annotations?.[POOL_ANNOTATION] === undefined;
    });
    expect(ingressIPs(await readService(cluster, "tenant", "thief"))).toEqual([]);
    const cleared = await waitForEvent(cluster, "tenant", "thief", "ClearAssignment");
    expect(cleared.type).toBe("Normal");
    expect(cleared.message).toBe(
      `Cleared IP ["${FLOATING_IP}"]: the Service is no longer of type LoadBalancer`,
    );
    await waitFor("pool counters", async () => (await pool("envoy-gateway-pool")).status?.assignedIPv4 === 0);

    // Back to LoadBalancer, now for kube-dc: the class is not ours, so it is never touched again.
    await cluster.core.patchNamespacedService(
      {
        name: "thief",
        namespace: "tenant",
        body: {
          spec: { type: "LoadBalancer", loadBalancerClass: "kube-dc", externalTrafficPolicy: "Cluster" },
        },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const next = await createService(cluster, "next", {
      namespace: "tenant",
      annotations: { "metallb.io/loadBalancerIPs": FLOATING_IP },
    });
    await waitFor(
      "next gets the IP",
      async () => ingressIPs(await readService(cluster, "tenant", "next"))[0],
    );
    expect(next.metadata?.name).toBe("next");
    const thief = await readService(cluster, "tenant", "thief");
    expect(thief.status?.loadBalancer ?? {}).toEqual({});
    expect(thief.metadata?.annotations?.[POOL_ANNOTATION]).toBeUndefined();
  });

  it("ignores an overlapping or invalid pool, reports it on the pool, and disturbs nothing", async () => {
    const nextBefore = await readService(cluster, "tenant", "next");
    await apply(
      cluster,
      `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: overlap, namespace: metallb-system}
spec: {addresses: ["203.0.113.48/29"]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: reversed-v6, namespace: metallb-system}
spec: {addresses: ["2001:db8::5-2001:db8::1"]}
`,
    );
    const overlap = await waitForEvent(cluster, NS, "overlap", "InvalidConfiguration", "IPAddressPool");
    expect(overlap.type).toBe("Warning");
    expect(overlap.message).toContain('overlaps "203.0.113.50/32" of older pool "envoy-gateway-pool"');
    const reversed = await waitForEvent(cluster, NS, "reversed-v6", "InvalidConfiguration", "IPAddressPool");
    expect(reversed.message).toContain("range is reversed");
    expect(running.logs.events("poolRejected").map((l) => l.pool)).toEqual(
      expect.arrayContaining(["overlap", "reversed-v6"]),
    );
    await running.controller.idle();
    const nextAfter = await readService(cluster, "tenant", "next");
    expect(nextAfter.metadata?.resourceVersion).toBe(nextBefore.metadata?.resourceVersion);
    expect((await pool("overlap")).status).toBeUndefined();
  });

  it("namespace selectors: labelling the namespace lets its waiting Service in", async () => {
    await ensureNamespace(cluster, "edge");
    await apply(
      cluster,
      `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: team-pool, namespace: metallb-system}
spec:
  addresses: ["192.0.2.64/30"]
  serviceAllocation:
    namespaceSelectors: [{matchLabels: {team: edge}}]
`,
    );
    await createService(cluster, "edge-lb", {
      namespace: "edge",
      annotations: { "metallb.io/address-pool": "team-pool" },
    });
    const refused = await waitForEvent(cluster, "edge", "edge-lb", "AllocationFailed");
    expect(refused.message).toContain(
      'pool "team-pool", which does not exist or which this Service may not use',
    );
    await cluster.core.patchNamespace(
      { name: "edge", body: { metadata: { labels: { team: "edge" } } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
    const ip = await waitFor(
      "edge-lb IP",
      async () => ingressIPs(await readService(cluster, "edge", "edge-lb"))[0],
    );
    expect(ip).toBe("192.0.2.64");
  });

  it("keeps pool status counters current", async () => {
    await waitFor("counters", async () => {
      const s = (await pool("general")).status;
      return s?.assignedIPv4 === 1 && s.availableIPv4 === 7 ? s : undefined;
    });
    expect((await pool("envoy-gateway-pool")).status).toEqual({
      assignedIPv4: 1,
      assignedIPv6: 0,
      availableIPv4: 0,
      availableIPv6: 0,
    });
    const metrics = await running.controller.metrics.registry.metrics();
    expect(metrics).toContain('floatip_allocator_addresses_in_use_total{pool="envoy-gateway-pool"} 1');
    expect(metrics).toContain('floatip_allocator_addresses_in_use_total{pool="general"} 1');
  });
});
