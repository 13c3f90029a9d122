// Runs every check over a snapshot and groups the findings by Service. Pure.

import { serviceKeyOf } from "../../api/service.js";
import { checkAllocation } from "./checks/allocation.js";
import { checkAdvertisements, checkAnnouncement } from "./checks/announce.js";
import { checkClass } from "./checks/class.js";
import {
  checkConfigurationStates,
  checkPreferredNodes,
  checkSharedWithServiceSelectors,
} from "./checks/configstate.js";
import { checkComponents, checkForeignIngress } from "./checks/controllers.js";
import { checkEnvoyGateway } from "./checks/envoy.js";
import { checkInstallation } from "./checks/install.js";
import { checkHeartbeatKeys } from "./checks/keys.js";
import { checkPlatformPoolPinned } from "./checks/tenancy.js";
import { ingressIPs, isLoadBalancer, servedClasses } from "./evidence.js";
import { expectedAssigner } from "./assigner.js";
import type { Check, DoctorReport, Finding, Severity, Snapshot } from "./types.js";

export const CHECKS: readonly Check[] = [
  checkInstallation,
  checkClass,
  checkAllocation,
  checkForeignIngress,
  checkAdvertisements,
  checkAnnouncement,
  checkComponents,
  checkEnvoyGateway,
  checkPlatformPoolPinned,
  checkConfigurationStates,
  checkSharedWithServiceSelectors,
  checkPreferredNodes,
  checkHeartbeatKeys,
];

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export function runChecks(snap: Snapshot, checks: readonly Check[] = CHECKS): Finding[] {
  return checks.flatMap((c) => c(snap)).sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}

export function diagnose(snap: Snapshot): DoctorReport {
  const findings = runChecks(snap);
  const served = servedClasses(snap.services);
  const lbs = snap.services
    .filter(isLoadBalancer)
    .sort((a, b) => serviceKeyOf(a).localeCompare(serviceKeyOf(b)));
  const known = new Set(lbs.map(serviceKeyOf));
  const services = lbs.map((svc) => {
    const key = serviceKeyOf(svc);
    return {
      service: key,
      ...(svc.spec.loadBalancerClass ? { class: svc.spec.loadBalancerClass } : {}),
      owner: expectedAssigner(svc, snap.config.lbClass, served),
      ips: ingressIPs(svc),
      findings: findings.filter((f) => f.service === key),
    };
  });
  const other = findings.filter((f) => !f.service || !known.has(f.service));
  const counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return {
    config: snap.config,
    services,
    other,
    counts,
    exitCode: counts.error + counts.warning > 0 ? 1 : 0,
  };
}
