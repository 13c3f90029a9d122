import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { checkEnvoyGateway } from "../../../src/ops/doctor/checks/envoy.js";
import { diagnose } from "../../../src/ops/doctor/doctor.js";
import { lbComponents } from "../../../src/ops/doctor/evidence.js";
import { formatReport } from "../../../src/ops/doctor/format.js";
import { proxyLabels, proxyServiceName } from "../../../src/ops/envoy/render.js";
import type { EnvoyProxy, Gateway, GatewayClass } from "../../../src/ops/envoy/types.js";
import { repoRoot } from "../../../testenv/binaries.js";
import { event, l2adv, l2status, lease, node, pool, served, snapshot, svc } from "./builders.js";
import type { Workload } from "../../../src/kube/objects.js";

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
  metadata: { name: "eg", namespace: "default" },
  spec: { gatewayClassName: "eg", listeners: [{ name: "http", port: 80, protocol: "HTTP" }] },
};
const proxy = (envoyService: Record<string, unknown>): EnvoyProxy => ({
  metadata: { name: "proxy", namespace: "envoy-gateway-system" },
  spec: { provider: { type: "Kubernetes", kubernetes: { envoyService } } },
});
const envoySvc = (cls?: string) =>
  svc(proxyServiceName("default", "eg"), {
    ns: "envoy-gateway-system",
    labels: proxyLabels("default", "eg"),
    ...(cls ? { cls } : {}),
  });
const ids = (s: ReturnType<typeof checkEnvoyGateway>) => s.map((f) => `${f.severity}:${f.check}`);

describe("checkEnvoyGateway", () => {
  const base = { gatewayClasses: [gc], gateways: [gw] };

  it("the runbook's warning: loadBalancerClass only inside the StrategicMerge patch", () => {
    const p = proxy({
      externalTrafficPolicy: "Cluster",
      patch: { type: "StrategicMerge", value: { spec: { loadBalancerClass: "metallb" } } },
    });
    const f = checkEnvoyGateway(snapshot({ ...base, envoyProxies: [p] }));
    expect(ids(f)).toEqual(["error:envoyproxy-class-in-patch"]);
    expect(f[0]!.explanation).toContain("immutable");
  });

  it("no class although the patch requests a floatip IP", () => {
    const p = proxy({
      patch: {
        type: "StrategicMerge",
        value: { metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": VIP } } },
      },
    });
    const f = checkEnvoyGateway(snapshot({ ...base, envoyProxies: [p] }));
    expect(ids(f)).toEqual(["error:envoyproxy-no-class"]);
    expect(f[0]!.explanation).toContain(VIP);
  });

  it("a patch class overriding the direct one; another class than ours", () => {
    const p = proxy({
      loadBalancerClass: "metallb",
      patch: { value: { spec: { loadBalancerClass: "other" } } },
    });
    expect(ids(checkEnvoyGateway(snapshot({ ...base, envoyProxies: [p] })))).toEqual([
      "error:envoyproxy-class-conflict",
      "warning:envoyproxy-other-class",
    ]);
  });

  it("the live Service still has the old class (immutable; EG cannot update it)", () => {
    const p = proxy({ loadBalancerClass: "metallb", externalTrafficPolicy: "Cluster" });
    const f = checkEnvoyGateway(snapshot({ ...base, envoyProxies: [p], services: [envoySvc()] }));
    expect(ids(f)).toEqual(["error:envoy-service-class-stale"]);
    expect(f[0]!.fix).toContain("floatip migrate --service envoy-gateway-system/envoy-default-eg-");
    expect(f[0]!.service).toBe(`envoy-gateway-system/${proxyServiceName("default", "eg")}`);
  });

  it("externalTrafficPolicy left at Envoy Gateway's default Local", () => {
    const p = proxy({ loadBalancerClass: "metallb" });
    expect(
      ids(checkEnvoyGateway(snapshot({ ...base, envoyProxies: [p], services: [envoySvc("metallb")] }))),
    ).toEqual(["info:envoyproxy-etp-local"]);
  });

  it("a GatewayClass pointing at a missing EnvoyProxy", () => {
    expect(ids(checkEnvoyGateway(snapshot({ ...base, envoyProxies: [] })))).toEqual([
      "error:envoyproxy-missing",
    ]);
  });

  it("nothing to say about the runbook's configuration, and nothing without Envoy Gateway", () => {
    const p = proxy({
      externalTrafficPolicy: "Cluster",
      loadBalancerClass: "metallb",
      patch: {
        type: "StrategicMerge",
        value: { metadata: { annotations: { "metallb.universe.tf/loadBalancerIPs": VIP } } },
      },
    });
    expect(
      checkEnvoyGateway(snapshot({ ...base, envoyProxies: [p], services: [envoySvc("metallb")] })),
    ).toEqual([]);
    expect(checkEnvoyGateway(snapshot())).toEqual([]);
  });
});

describe("diagnose and the report", () => {
  // Pinned to Envoy Gateway's namespace, as `floatip render` writes it (else doctor warns).
  const seedPool = pool("envoy-gateway-pool", [`${VIP}/32`], false);
  const pools = [
    { ...seedPool, spec: { ...seedPool.spec, serviceAllocation: { namespaces: ["envoy-gateway-system"] } } },
  ];
  const envoy = served("envoy", VIP, "envoy-gateway-pool", { ns: "envoy-gateway-system" });
  const healthy = snapshot({
    pools,
    nodes: [node("master-0")],
    leases: [lease("floatip-speaker-master-0"), lease("floatip-controller")],
    l2Advertisements: [l2adv("l2", ["envoy-gateway-pool"], ["ens3"])],
    l2Statuses: [l2status(envoy, "master-0", ["ens3"])],
    services: [
      envoy,
      svc("dc", { ns: "project-b", ips: ["198.51.100.7"] }),
      svc("plain", { type: "ClusterIP" }),
    ],
  });

  it("healthy: exit code 0, owners per class", () => {
    const r = diagnose(healthy);
    expect(r.exitCode).toBe(0);
    expect(r.services.map((s) => [s.service, s.owner.text])).toEqual([
      ["envoy-gateway-system/envoy", "floatip"],
      ["project-b/dc", "other controller (no class)"],
    ]);
    expect(formatReport(r)).toContain("Healthy: no problems found.");
  });

  it("the outage: findings grouped by Service, exit code 1, readable table", () => {
    const web = svc("web", { ns: "project-a" });
    const s = {
      ...healthy,
      services: [...healthy.services, web],
      events: [event(web, "AllocationFailed", "no available IPs")],
    };
    const r = diagnose(s);
    expect(r.exitCode).toBe(1);
    const row = r.services.find((x) => x.service === "project-a/web")!;
    expect(row.owner.text).toBe("other controller (no class)");
    expect(row.findings.map((f) => f.check)).toEqual(["classless-claimed"]);
    const text = formatReport(r);
    const prose = text.replace(/\s+/g, " ");
    expect(text).toMatch(/^SERVICE\s+CLASS\s+OWNER\s+EXTERNAL-IP$/m);
    expect(text).toMatch(/^project-a\/web\s+<none>\s+other controller \(no class\)\s+<pending>$/m);
    expect(text).toContain("ERROR [classless-claimed]");
    expect(prose).toContain(
      "fix: Run the floatip (or MetalLB) controller and speakers with --lb-class=metallb",
    );
    expect(text).toContain("1 error(s), 0 warning(s)");
  });

  it("nobody owns a class no controller serves", () => {
    const r = diagnose(snapshot({ services: [svc("x", { cls: "none-such" })] }));
    expect(r.services[0]!.owner).toEqual({ kind: "nobody", text: "nobody (class none-such)" });
  });

  it("JSON is the same report", () => {
    const r = diagnose(healthy);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

const manifests = join(repoRoot(), "deploy", "manifests", "floatip.yaml");
describe.skipIf(!existsSync(manifests))("lbComponents on the rendered floatip manifests", () => {
  it("finds the controller and the speakers with their class", () => {
    const docs = parseAllDocuments(readFileSync(manifests, "utf8")).map(
      (d) => d.toJSON() as Workload & { kind?: string },
    );
    const found = lbComponents(docs.filter((d) => d && (d.kind === "Deployment" || d.kind === "DaemonSet")));
    expect(found.map((c) => `${c.product}/${c.role}`).sort()).toEqual([
      "floatip/controller",
      "floatip/speaker",
    ]);
    expect(new Set(found.map((c) => c.lbClass)).size).toBe(1);
  });
});
