// Another load-balancer controller claiming our Services, and floatip/MetalLB components deployed with
// classes that disagree with each other or with the configured one.

import { preparePools } from "../../../api/pool.js";
import { isServiceForClass, serviceKeyOf } from "../../../api/service.js";
import {
  allocatedPool,
  classText,
  ingressIPs,
  isLoadBalancer,
  kubeDcAnnotations,
  lbComponents,
  type LbComponent,
} from "../evidence.js";
import type { Check, Finding, ObjectId } from "../types.js";

const workloadId = (c: LbComponent): ObjectId => ({
  kind: c.workload.kind ?? (c.role === "controller" ? "Deployment" : "DaemonSet"),
  namespace: c.workload.metadata.namespace,
  name: c.workload.metadata.name,
});
const describe = (c: LbComponent) =>
  `${c.product} ${c.role} ${c.workload.metadata.namespace}/${c.workload.metadata.name} (--lb-class=${c.lbClass ?? "unset"})`;

/** Status IPs on our Services that floatip did not write, and kube-dc annotations on them. */
export const checkForeignIngress: Check = (snap) => {
  const out: Finding[] = [];
  const pools = snap.pools ? preparePools(snap.pools).pools : [];
  for (const svc of snap.services) {
    if (!isLoadBalancer(svc) || !isServiceForClass(svc, snap.config.lbClass)) continue;
    const base = {
      object: { kind: "Service", namespace: svc.metadata.namespace, name: svc.metadata.name },
      service: serviceKeyOf(svc),
    };
    const ips = ingressIPs(svc);
    const pool = allocatedPool(svc);
    if (ips.length > 0 && pool === undefined) {
      out.push({
        ...base,
        check: "foreign-ingress",
        severity: "error",
        explanation: `status.loadBalancer shows ${ips.join(", ")} but the Service has no metallb.io/ip-allocated-from-pool annotation: another load-balancer controller wrote it. floatip speakers will not announce an IP they did not allocate, and the two controllers will keep overwriting each other.`,
        fix: `Stop the other controller from handling class ${classText(snap.config.lbClass)} (or give floatip its own class with --lb-class).`,
      });
    } else if (ips.length > 0 && pool !== undefined && snap.pools && !pools.some((p) => p.name === pool)) {
      out.push({
        ...base,
        check: "unknown-allocated-pool",
        severity: "warning",
        explanation: `The Service says its IPs came from pool ${pool}, which does not exist (or is invalid) in ${snap.config.namespace}: the controller will take ${ips.join(", ")} away, and speakers refuse to announce it.`,
        fix: `Restore pool ${pool}, or let the controller reassign the Service.`,
      });
    }
    const dc = kubeDcAnnotations(svc);
    if (dc.length > 0) {
      out.push({
        ...base,
        check: "kube-dc-annotations",
        severity: "warning",
        explanation: `The Service carries kube-dc load-balancer annotations (${dc.join(", ")}) although floatip serves it: kube-dc may bind it to an EIP too (whether kube-dc skips Services with a class is not documented).`,
        fix: `Remove the ${dc.join(", ")} annotations from Services of class ${classText(snap.config.lbClass)}.`,
      });
    }
  }
  return out;
};

/** floatip/MetalLB controllers and speakers found as Deployments/DaemonSets, compared with each other. */
export const checkComponents: Check = (snap) => {
  const comps = lbComponents(snap.workloads);
  const controllers = comps.filter((c) => c.role === "controller");
  const speakers = comps.filter((c) => c.role === "speaker");
  const want = snap.config.lbClass;
  const out: Finding[] = [];
  for (const c of controllers) {
    if (c.lbClass === want) continue;
    out.push({
      check: c.lbClass === undefined ? "controller-without-class" : "controller-class-mismatch",
      severity: "error",
      object: workloadId(c),
      explanation:
        c.lbClass === undefined
          ? `${describe(c)} runs without --lb-class: it handles every LoadBalancer Service without a class, including those another controller (kube-dc EIPs) should serve — they go <pending>.`
          : `${describe(c)} serves class ${classText(c.lbClass)}, not ${classText(want)}.`,
      fix: `Set --lb-class=${want ?? "(unset)"} (Helm value loadBalancerClass) on it, or run doctor with --lb-class=${c.lbClass ?? "''"} if that is intended.`,
    });
  }
  const byClass = new Map<string, LbComponent[]>();
  for (const c of controllers) byClass.set(c.lbClass ?? "", [...(byClass.get(c.lbClass ?? "") ?? []), c]);
  for (const [cls, list] of byClass) {
    if (list.length < 2) continue;
    for (const c of list) {
      out.push({
        check: "duplicate-controllers",
        severity: "error",
        object: workloadId(c),
        explanation: `${list.length} controllers allocate for class ${classText(cls || undefined)}: ${list.map(describe).join("; ")}. They assign IPs independently and overwrite each other's status.`,
        fix: "Keep one installation per class (uninstall the other, or give each its own --lb-class).",
      });
    }
  }
  const controllerClasses = new Set(controllers.map((c) => c.lbClass ?? ""));
  for (const s of speakers) {
    if (controllers.length === 0 || controllerClasses.has(s.lbClass ?? "")) continue;
    out.push({
      check: "speaker-class-mismatch",
      severity: "error",
      object: workloadId(s),
      explanation: `${describe(s)} announces Services of class ${classText(s.lbClass)}, but no controller allocates for that class (controllers: ${controllers.map(describe).join("; ")}): allocated IPs are never announced.`,
      fix: "Give controller and speakers the same --lb-class (one Helm value sets both).",
    });
  }
  return out;
};
