// After a failed migration: what the cluster looks like now and how to get out of it. Pure.

import type { MigrationContext, MigrationPlan } from "./plan.js";
import { refString } from "../../kube/objects.js";

/** What a run has done so far. */
export interface Journal {
  poolPinned: boolean;
  proxyPatched: boolean;
  proxyReverted: boolean;
  gatewayPatched: boolean;
  serviceDeleted: boolean;
  recreated: boolean;
  ipAssigned: boolean;
  announced: boolean;
}

export const emptyJournal = (): Journal => ({
  poolPinned: false,
  proxyPatched: false,
  proxyReverted: false,
  gatewayPatched: false,
  serviceDeleted: false,
  recreated: false,
  ipAssigned: false,
  announced: false,
});

export function describeState(
  j: Journal,
  ctx: MigrationContext,
  plan: MigrationPlan,
  how: { interrupted?: boolean } = {},
): string[] {
  const proxy = `EnvoyProxy ${refString(ctx.proxyRef)}`;
  const gw = `${ctx.gateway.metadata.namespace ?? "default"}/${ctx.gateway.metadata.name}`;
  const svc = `Service ${refString(ctx.serviceRef)}`;
  const rollback = `floatip rollback --service ${refString(ctx.serviceRef)} --external-ip ${plan.ip}`;
  const lines = ["State of the cluster now:"];
  const pinned = `  - IPAddressPool ${plan.pool}: pinned to namespace ${ctx.serviceRef.namespace} (kept: it only stops other namespaces from claiming ${plan.ip}).`;
  if (!j.proxyPatched && !j.gatewayPatched && !j.serviceDeleted) {
    lines.push(j.poolPinned ? pinned : "  Nothing was changed.");
    if (j.poolPinned) lines.push("  Nothing else was changed.");
    return lines;
  }
  if (j.poolPinned) lines.push(pinned);
  lines.push(
    j.proxyReverted
      ? `  - ${proxy}: patched, then restored to its previous spec.`
      : j.proxyPatched
        ? `  - ${proxy}: now sets loadBalancerClass ${JSON.stringify(plan.lbClass)} and requests ${plan.ip}.`
        : `  - ${proxy}: unchanged.`,
  );
  if (j.gatewayPatched) lines.push(`  - Gateway ${gw}: ${plan.ip} removed from spec.addresses.`);
  if (!j.serviceDeleted) {
    lines.push(`  - ${svc}: unchanged (old class; still served as before).`);
  } else if (!j.recreated) {
    lines.push(`  - ${svc}: DELETED and not recreated by Envoy Gateway yet: ${plan.ip} is NOT served.`);
  } else if (!j.ipAssigned) {
    lines.push(
      `  - ${svc}: recreated with class ${JSON.stringify(plan.lbClass)} but without ${plan.ip} in its status: not served.`,
    );
  } else if (!j.announced && how.interrupted) {
    lines.push(
      `  - ${svc}: recreated with class ${JSON.stringify(plan.lbClass)} and has ${plan.ip}: the migration's change is complete; it was not verified (interrupted).`,
    );
  } else if (!j.announced) {
    lines.push(`  - ${svc}: has ${plan.ip} but no node announces it yet.`);
  } else {
    lines.push(`  - ${svc}: has ${plan.ip} and is announced, but did not answer HTTP.`);
  }
  lines.push("What to do:");
  if (!j.serviceDeleted && j.proxyPatched && !j.proxyReverted && plan.proxyRevert) {
    lines.push(
      `  - To undo: kubectl patch envoyproxy -n ${ctx.proxyRef.namespace} ${ctx.proxyRef.name} --type merge -p '${JSON.stringify(plan.proxyRevert)}'`,
    );
  } else if (j.serviceDeleted && !j.recreated) {
    lines.push(
      `  - Make Envoy Gateway recreate it: kubectl annotate gateway -n ${ctx.gateway.metadata.namespace} ${ctx.gateway.metadata.name} floatip.io/reconcile-requested-at="$(date -u +%FT%TZ)" --overwrite`,
      "    or restart it: kubectl rollout restart deployment/envoy-gateway -n envoy-gateway-system (the new pod renders only after its predecessor's leader lease expires: ~15-20 s)",
      `    then run the same floatip migrate command again (it continues where it stopped).`,
    );
  } else if (j.serviceDeleted && j.ipAssigned && how.interrupted) {
    lines.push(`  - Check it: floatip verify --lb-class ${plan.lbClass}`);
  } else if (j.serviceDeleted) {
    lines.push(`  - Find out why: floatip doctor --lb-class ${plan.lbClass}`);
  }
  if (j.serviceDeleted || j.gatewayPatched) lines.push(`  - To go back to externalIPs: ${rollback}`);
  if (lines.at(-1) === "What to do:")
    lines.push(
      "  - Nothing: the Service is served as before; run the same floatip migrate again when ready.",
    );
  return lines;
}
