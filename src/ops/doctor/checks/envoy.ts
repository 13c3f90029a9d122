// Envoy Gateway: the EnvoyProxy must set envoyService.loadBalancerClass directly (not only in the
// StrategicMerge patch: the class is immutable once the Service exists), and the live proxy Service
// must carry the class the EnvoyProxy asks for.

import { serviceKeyOf } from "../../../api/service.js";
import { envoyProxyRefFor, envoyServiceSettings } from "../../envoy/resolve.js";
import { renderProxyService } from "../../envoy/render.js";
import { EG_CONTROLLER_NAME, EG_NAMESPACE, type EnvoyProxy } from "../../envoy/types.js";
import { classText } from "../evidence.js";
import type { Check, Finding } from "../types.js";
import { refString } from "../../../kube/objects.js";

export const checkEnvoyGateway: Check = (snap) => {
  if (!snap.envoyProxies || !snap.gatewayClasses || !snap.gateways) return [];
  const want = snap.config.lbClass;
  const out: Finding[] = [];
  const checked = new Set<string>();
  const proxyId = (p: EnvoyProxy) => ({
    kind: "EnvoyProxy",
    namespace: p.metadata.namespace,
    name: p.metadata.name,
  });

  for (const gc of snap.gatewayClasses) {
    const p = gc.spec.parametersRef;
    if (gc.spec.controllerName !== EG_CONTROLLER_NAME || !p || p.kind !== "EnvoyProxy") continue;
    if (!snap.envoyProxies.some((e) => e.metadata.name === p.name && e.metadata.namespace === p.namespace)) {
      out.push({
        check: "envoyproxy-missing",
        severity: "error",
        object: { kind: "GatewayClass", name: gc.metadata.name },
        explanation: `GatewayClass ${gc.metadata.name} points at EnvoyProxy ${p.namespace}/${p.name}, which does not exist: Envoy Gateway does not accept the class.`,
        fix: "Create the EnvoyProxy (runbook step 4) or correct spec.parametersRef.",
      });
    }
  }

  for (const gw of snap.gateways) {
    const ref = envoyProxyRefFor(gw, snap.gatewayClasses);
    if (!ref.ok) continue;
    const proxy = snap.envoyProxies.find(
      (e) => e.metadata.namespace === ref.ref.namespace && e.metadata.name === ref.ref.name,
    );
    if (!proxy) continue;
    const s = envoyServiceSettings(proxy);
    const pKey = refString(ref.ref);
    if (!checked.has(pKey)) {
      checked.add(pKey);
      out.push(...proxyFindings(proxy, s, want, proxyId(proxy)));
    }
    // The live Service (EG creates it in its own namespace) against what the EnvoyProxy now asks for.
    const expected = renderProxyService(gw, proxy, EG_NAMESPACE);
    const live = snap.services.find(
      (svc) => svc.metadata.namespace === EG_NAMESPACE && svc.metadata.name === expected.metadata.name,
    );
    if (!live || s.type !== "LoadBalancer" || live.spec.type !== "LoadBalancer") continue;
    const liveClass = live.spec.loadBalancerClass;
    if ((liveClass ?? "") !== (s.effectiveClass ?? "")) {
      out.push({
        check: "envoy-service-class-stale",
        severity: "error",
        object: { kind: "Service", namespace: EG_NAMESPACE, name: live.metadata.name },
        service: serviceKeyOf(live),
        explanation: `EnvoyProxy ${pKey} asks for class ${classText(s.effectiveClass)} but the existing Service has ${classText(liveClass)}. spec.loadBalancerClass is immutable, so Envoy Gateway's update fails (EG issue 1793) and the Service keeps the old class.`,
        fix: `Recreate the Service: \`floatip migrate --service ${serviceKeyOf(live)}\` (deletes it and makes Envoy Gateway create it again; the runbook's "delete the Envoy Gateway service").`,
      });
    }
  }
  return out;
};

function proxyFindings(
  proxy: EnvoyProxy,
  s: ReturnType<typeof envoyServiceSettings>,
  want: string | undefined,
  object: Finding["object"],
): Finding[] {
  const out: Finding[] = [];
  const name = `${proxy.metadata.namespace}/${proxy.metadata.name}`;
  if (s.type !== "LoadBalancer") return out;
  if (s.patchClass && !s.directClass) {
    out.push({
      check: "envoyproxy-class-in-patch",
      severity: "error",
      object,
      explanation: `EnvoyProxy ${name} sets loadBalancerClass only inside envoyService.patch. The runbook: it must be a direct envoyService field, because the class is immutable once set on a Service.`,
      fix: `Move it: spec.provider.kubernetes.envoyService.loadBalancerClass: ${s.patchClass}, and drop spec.loadBalancerClass from the patch value.`,
    });
  } else if (s.patchClass && s.directClass && s.patchClass !== s.directClass) {
    out.push({
      check: "envoyproxy-class-conflict",
      severity: "error",
      object,
      explanation: `EnvoyProxy ${name} sets loadBalancerClass ${classText(s.directClass)} but its patch sets ${classText(s.patchClass)}; the patch is applied last, so the Service gets ${classText(s.patchClass)}.`,
      fix: "Remove spec.loadBalancerClass from the patch value.",
    });
  }
  if (want && !s.effectiveClass) {
    const asks = s.requestedIPs
      ? ` although it asks for ${s.requestedIPs.value} through ${s.requestedIPs.key}`
      : "";
    out.push({
      check: "envoyproxy-no-class",
      severity: s.requestedIPs ? "error" : "warning",
      object,
      explanation: `EnvoyProxy ${name} gives the Envoy Service no loadBalancerClass${asks}: floatip (class ${classText(want)}) ignores such Services, and the cluster's default LoadBalancer controller gets it.`,
      fix: `Set spec.provider.kubernetes.envoyService.loadBalancerClass: ${want}, then recreate the Service (\`floatip migrate --envoyproxy ${name}\`).`,
    });
  } else if (s.effectiveClass && s.effectiveClass !== want) {
    out.push({
      check: "envoyproxy-other-class",
      severity: "warning",
      object,
      explanation: `EnvoyProxy ${name} gives the Envoy Service class ${classText(s.effectiveClass)}, but floatip serves ${classText(want)}.`,
      fix: `Use loadBalancerClass: ${want ?? "(none)"} if floatip should serve it (then \`floatip migrate\`).`,
    });
  }
  if (s.effectiveClass && s.effectiveClass === want && s.externalTrafficPolicy === "Local") {
    out.push({
      check: "envoyproxy-etp-local",
      severity: "info",
      object,
      explanation: `EnvoyProxy ${name} leaves externalTrafficPolicy at Local (Envoy Gateway's default): the IP is announced only from nodes running an Envoy pod, and fails over only between them. The runbook uses Cluster.`,
      fix: "Set envoyService.externalTrafficPolicy: Cluster if Envoy does not run on every announcing node.",
    });
  }
  return out;
}
