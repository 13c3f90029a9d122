// The runbook's rollback, decided without I/O: take the class and the loadBalancerIPs request off the
// EnvoyProxy, put the IP into the Gateway's spec.addresses (Envoy Gateway renders those as the Service's
// externalIPs, so the setting survives its reconciles), and recreate the Service (a class cannot be
// removed in place). Optionally uninstall floatip. Pure.

import { stringify } from "yaml";
import { canonicalIP } from "../../api/ip.js";
import { ingressIPs } from "../doctor/evidence.js";
import type { LocatedProxy } from "../envoy/locate.js";
import { mergeValue, renderProxyService } from "../envoy/render.js";
import { envoyServiceSettings } from "../envoy/resolve.js";
import type { EnvoyProxy, Gateway } from "../envoy/types.js";
import { addGatewayAddress, unclassPatch, type MergePatch } from "../migrate/patches.js";
import { type KubeService, type ObjectRef, refString, type Workload } from "../../kube/objects.js";

export interface UninstallPlan {
  /** `helm uninstall` of this release, when Helm installed floatip. */
  helmRelease?: string;
  /** Otherwise: these Deployments/DaemonSets (found by label) are deleted. */
  workloads: { kind: "Deployment" | "DaemonSet"; ref: ObjectRef }[];
  namespace: string;
  selector: string;
}

export interface RollbackPlan {
  ip: string;
  proxyPatch?: MergePatch;
  gatewayPatch?: MergePatch;
  deleteService?: { ref: ObjectRef; uid: string };
  expected: KubeService;
  /** The Service already is class-less with the IP in externalIPs. */
  done: boolean;
}

export function chooseRollbackIP(located: LocatedProxy, explicit?: string): { ip?: string; error?: string } {
  if (explicit !== undefined) {
    const ip = canonicalIP(explicit);
    return ip ? { ip } : { error: `--external-ip ${JSON.stringify(explicit)} is not an IP address` };
  }
  const fromStatus = located.service ? ingressIPs(located.service) : [];
  const requested = (envoyServiceSettings(located.proxy).requestedIPs?.value ?? "")
    .split(",")
    .filter(Boolean);
  for (const list of [fromStatus, requested]) {
    if (list.length === 1) return { ip: canonicalIP(list[0]!.trim()) ?? list[0]! };
    if (list.length > 1) return { error: `several addresses (${list.join(", ")}): pass --external-ip` };
  }
  return { error: "cannot tell which IP to put back (the Service has none): pass --external-ip" };
}

export function planRollback(located: LocatedProxy, ip: string): RollbackPlan {
  const proxyPatch = unclassPatch(located.proxy);
  const gatewayPatch = addGatewayAddress(located.gateway, ip);
  const proxy = proxyPatch ? (mergeValue(located.proxy, proxyPatch) as EnvoyProxy) : located.proxy;
  const gateway = gatewayPatch ? (mergeValue(located.gateway, gatewayPatch) as Gateway) : located.gateway;
  const expected = renderProxyService(gateway, proxy, located.serviceRef.namespace);
  const svc = located.service;
  const classed = !!svc?.spec.loadBalancerClass;
  return {
    ip,
    ...(proxyPatch ? { proxyPatch } : {}),
    ...(gatewayPatch ? { gatewayPatch } : {}),
    ...(classed && svc.metadata.uid
      ? { deleteService: { ref: located.serviceRef, uid: svc.metadata.uid } }
      : {}),
    expected,
    done: !proxyPatch && !gatewayPatch && !!svc && !classed && (svc.spec.externalIPs ?? []).includes(ip),
  };
}

/** Helm keeps a release as Secrets labelled owner=helm,name=<release>; no Secret means no release. */
export function planUninstall(
  namespace: string,
  release: string,
  releaseSecrets: number,
  selector: string,
  workloads: readonly Workload[],
): UninstallPlan {
  if (releaseSecrets > 0) return { helmRelease: release, workloads: [], namespace, selector };
  return {
    workloads: workloads.map((w) => ({
      kind: w.kind ?? "Deployment",
      ref: { namespace: w.metadata.namespace ?? namespace, name: w.metadata.name },
    })),
    namespace,
    selector,
  };
}

export function describeRollback(
  located: LocatedProxy | undefined,
  plan: RollbackPlan | undefined,
  uninstall: UninstallPlan | undefined,
  helm: string,
): string[] {
  const lines: string[] = [];
  let n = 0;
  const step = (text: string, ...more: string[]) => lines.push(`  ${++n}. ${text}`, ...more);
  if (located && plan) {
    const proxy = `EnvoyProxy ${refString(located.proxyRef)}`;
    const gw = `Gateway ${located.gateway.metadata.namespace}/${located.gateway.metadata.name}`;
    if (plan.proxyPatch)
      step(
        `patch ${proxy}: remove envoyService.loadBalancerClass and the loadBalancerIPs annotations:`,
        `    ${JSON.stringify(plan.proxyPatch)}`,
      );
    else step(`${proxy} has no class or loadBalancerIPs: unchanged`);
    if (plan.gatewayPatch)
      step(
        `patch ${gw}: add ${plan.ip} to spec.addresses (Envoy Gateway renders it as externalIPs):`,
        `    ${JSON.stringify(plan.gatewayPatch)}`,
      );
    if (plan.deleteService)
      step(
        `delete Service ${refString(located.serviceRef)} (uid ${plan.deleteService.uid}): its class cannot be removed in place`,
      );
    step(
      `annotate ${gw} and ${proxy} with floatip.io/reconcile-requested-at=<now> so Envoy Gateway recreates it; wait for a Service without class and with externalIPs [${plan.ip}]`,
    );
    lines.push(
      "",
      "  Service Envoy Gateway will create:",
      ...stringify(plan.expected)
        .trimEnd()
        .split("\n")
        .map((l) => `      ${l}`),
      "",
    );
  }
  if (uninstall) {
    if (uninstall.helmRelease) step(`${helm} uninstall ${uninstall.helmRelease} -n ${uninstall.namespace}`);
    else if (uninstall.workloads.length > 0)
      step(
        `delete the floatip workloads labelled ${uninstall.selector} in ${uninstall.namespace}: ${uninstall.workloads.map((w) => `${w.kind} ${w.ref.name}`).join(", ")}`,
      );
    else
      step(
        `uninstall: no Helm release and nothing labelled ${uninstall.selector} in ${uninstall.namespace}: nothing to remove`,
      );
  }
  return lines;
}
