// Class ownership: which Services floatip serves, and the seed's outage: a controller without
// --lb-class grabbing every class-less LoadBalancer Service that belongs to another controller.

import { isServiceForClass, serviceKeyOf } from "../../../api/service.js";
import {
  allocatedPool,
  classText,
  controllerEvents,
  editDistance,
  ingressIPs,
  isLoadBalancer,
} from "../evidence.js";
import type { Check, Finding } from "../types.js";

export const checkClass: Check = (snap) => {
  const want = snap.config.lbClass;
  const out: Finding[] = [];
  for (const svc of snap.services) {
    if (!isLoadBalancer(svc) || isServiceForClass(svc, want)) continue;
    const key = serviceKeyOf(svc);
    const object = { kind: "Service", namespace: svc.metadata.namespace, name: svc.metadata.name };
    const cls = svc.spec.loadBalancerClass;
    const events = controllerEvents(snap, svc);
    const pool = allocatedPool(svc);
    if (events.length > 0 || pool !== undefined) {
      const latest = events[0];
      const evidence = latest
        ? `a ${latest.reportingComponent || latest.source?.component} Event says "${latest.reason}: ${latest.message}"`
        : `the Service carries ip-allocated-from-pool=${pool}`;
      out.push(
        cls
          ? {
              check: "other-class-claimed",
              severity: "error",
              object,
              service: key,
              explanation: `This Service has class ${classText(cls)}, yet a floatip/MetalLB controller acts on it (${evidence}): some controller runs with --lb-class=${cls} instead of ${want ?? "(unset)"}, competing with the class's own controller.`,
              fix: `Give every floatip/MetalLB controller and speaker the same class: --lb-class=${want ?? "(unset)"} (Helm value loadBalancerClass). Run \`floatip doctor\` again to find the Deployment.`,
            }
          : {
              check: "classless-claimed",
              severity: "error",
              object,
              service: key,
              explanation: `This Service has no loadBalancerClass, yet a floatip/MetalLB controller acts on it (${evidence}). A controller without --lb-class handles ALL class-less LoadBalancer Services: it fails with "no available IPs" for project Services, blocks their own controller (e.g. kube-dc binding EIPs), and they stay <pending> — the outage the runbook warns about.`,
              fix: `Run the floatip (or MetalLB) controller and speakers with --lb-class=${want ?? "metallb"} (Helm value loadBalancerClass: ${want ?? "metallb"}), and set envoyService.loadBalancerClass on the EnvoyProxy. Then this Service is left to its own controller.`,
            },
      );
      continue;
    }
    if (ingressIPs(svc).length > 0) continue; // served by its own controller: not our business
    const similar =
      cls !== undefined &&
      want !== undefined &&
      (cls.toLowerCase() === want.toLowerCase() || editDistance(cls, want) <= 2);
    out.push(
      similar
        ? {
            check: "class-typo",
            severity: "warning",
            object,
            service: key,
            explanation: `Pending with class ${classText(cls)}, which looks like a misspelling of ${classText(want)}; floatip serves only ${classText(want)}.`,
            fix: `spec.loadBalancerClass is immutable: recreate the Service with loadBalancerClass: ${want} (for Envoy Gateway: fix envoyService.loadBalancerClass in the EnvoyProxy, then \`floatip migrate\`).`,
          }
        : {
            check: "not-our-class",
            severity: "info",
            object,
            service: key,
            explanation: cls
              ? `Pending with class ${classText(cls)}: floatip (class ${classText(want)}) deliberately ignores it; the controller for ${classText(cls)} must assign the IP.`
              : `Pending without a class: floatip (class ${classText(want)}) deliberately ignores it; the cluster's default LoadBalancer implementation (cloud provider, kube-dc EIPs) must assign the IP.`,
            fix: cls
              ? `Check the controller that implements ${classText(cls)}. If floatip should serve it, recreate it with loadBalancerClass: ${want ?? "(none)"}.`
              : `Check the default LoadBalancer controller. If floatip should serve it, recreate it with loadBalancerClass: ${want} (the class is immutable).`,
          },
    );
  }
  return out;
};
