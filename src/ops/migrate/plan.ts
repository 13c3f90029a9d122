// What `floatip migrate` checks and does, decided without I/O from what was read: preflight (is floatip
// ready to serve the IP?) and the plan (the exact patches and the delete). Pure.

import { l2AdvertisementSelectsNode, l2AdvertisementSelectsPool } from "../../api/l2advertisement.js";
import { canonicalIP, parseIP } from "../../api/ip.js";
import { poolRefusal, preparePools } from "../../api/pool.js";
import type { IPAddressPool, L2Advertisement } from "../../api/types.js";
import { stringify } from "yaml";
import {
  allocatedPool,
  CONTROLLER_LEASE,
  freshSpeakerLeases,
  ingressIPs,
  leaseFresh,
  staleSpeakerNodes,
} from "../doctor/evidence.js";
import { mergeValue, renderProxyService } from "../envoy/render.js";
import type { LocatedProxy } from "../envoy/locate.js";
import { envoyServiceSettings } from "../envoy/resolve.js";
import type { EnvoyProxy, Gateway } from "../envoy/types.js";
import { classPatch, dropGatewayAddress, inversePatch, poolPinPatch, type MergePatch } from "./patches.js";
import {
  type KubeNode,
  type KubeService,
  type Lease,
  type ObjectRef,
  refString,
} from "../../kube/objects.js";

/**
 * Everything read from the cluster before deciding: the located proxy (its Service is undefined if
 * it is gone, e.g. after an interrupted earlier run) and floatip's side.
 */
export interface MigrationContext extends LocatedProxy {
  floatipNamespace: string;
  /** Undefined = the metallb.io CRDs are not installed. */
  pools?: IPAddressPool[];
  l2Advertisements?: L2Advertisement[];
  leases: Lease[];
  nodes: KubeNode[];
  /** All Services (to find who else holds the IP). */
  services: KubeService[];
  namespaceLabels: Record<string, Record<string, string>>;
  now: number;
}

export interface Preflight {
  ip?: string;
  pool?: string;
  errors: string[];
  warnings: string[];
}

/** The IP to move to: --ip, else what the old static setup used. */
export function chooseIP(
  ctx: MigrationContext,
  explicit: string | undefined,
): { ip?: string; error?: string } {
  if (explicit !== undefined) {
    const ip = canonicalIP(explicit);
    return ip ? { ip } : { error: `--ip ${JSON.stringify(explicit)} is not an IP address` };
  }
  const candidates = [
    ctx.service?.spec.externalIPs ?? [],
    (envoyServiceSettings(ctx.proxy).requestedIPs?.value ?? "").split(",").filter(Boolean),
    (ctx.gateway.spec.addresses ?? []).map((a) => a.value),
    ctx.service?.spec.loadBalancerIP ? [ctx.service.spec.loadBalancerIP] : [],
  ];
  for (const list of candidates) {
    if (list.length === 1) return { ip: canonicalIP(list[0]!.trim()) ?? list[0]! };
    if (list.length > 1)
      return { error: `the Service uses several addresses (${list.join(", ")}): pass --ip to pick one` };
  }
  return { error: "cannot tell which IP to move to (no externalIPs, no requested IP): pass --ip" };
}

export function preflight(ctx: MigrationContext, opts: { ip?: string; lbClass: string }): Preflight {
  const errors: string[] = [];
  const warnings: string[] = [];
  const chosen = chooseIP(ctx, opts.ip);
  if (chosen.error) errors.push(chosen.error);
  const ip = chosen.ip;
  let pool: string | undefined;

  // (a) floatip installed: CRDs, a pool with the IP, an L2Advertisement, a controller and speakers.
  if (!ctx.pools || !ctx.l2Advertisements) {
    errors.push("floatip is not installed: the metallb.io CRDs (IPAddressPool, L2Advertisement) are missing");
  } else if (ip) {
    pool = checkInstalled(
      ctx,
      { pools: ctx.pools, l2Advertisements: ctx.l2Advertisements },
      ip,
      errors,
      warnings,
    );
  }

  checkProxyCarriesClass(ctx, opts.lbClass, errors, warnings);
  return { ...(ip ? { ip } : {}), ...(pool ? { pool } : {}), errors, warnings };
}

/** (a) for the chosen IP: its pool, who may use it, an L2Advertisement, speakers, a controller, no holder. */
function checkInstalled(
  ctx: MigrationContext,
  installed: {
    pools: NonNullable<MigrationContext["pools"]>;
    l2Advertisements: NonNullable<MigrationContext["l2Advertisements"]>;
  },
  ip: string,
  errors: string[],
  warnings: string[],
): string | undefined {
  const ns = ctx.floatipNamespace;
  let pool: string | undefined;
  const parsed = parseIP(ip)!;
  const pools = preparePools(installed.pools).pools;
  const p = pools.find((q) =>
    q.ranges.some((r) => r.family === parsed.family && parsed.value >= r.start && parsed.value <= r.end),
  );
  if (!p) {
    errors.push(
      `${ip} is in no IPAddressPool in ${ns} (pools: ${pools.map((q) => q.name).join(", ") || "none"}): create one with addresses [${ip}/${parsed.family === "IPv4" ? 32 : 128}], autoAssign: false`,
    );
  } else {
    pool = p.name;
    const labels = renderProxyService(ctx.gateway, ctx.proxy, ctx.serviceRef.namespace).metadata.labels;
    const refusal = poolRefusal(p, {
      namespace: ctx.serviceRef.namespace,
      labels,
      namespaceLabels: ctx.namespaceLabels[ctx.serviceRef.namespace],
    });
    if (refusal) errors.push(refusal);
    const exposure = poolExposure(ctx, p.name);
    if (exposure.error) errors.push(exposure.error);
    if (exposure.warning) warnings.push(exposure.warning);
    const ads = installed.l2Advertisements.filter((a) => l2AdvertisementSelectsPool(a, p));
    if (ads.length === 0) {
      errors.push(
        `no L2Advertisement selects pool ${p.name}: the IP would be assigned but never announced; create one with ipAddressPools: [${p.name}] and your public interface`,
      );
    } else {
      const eligible = ctx.nodes
        .filter((n) => ads.some((a) => l2AdvertisementSelectsNode(a, n.metadata.labels)))
        .map((n) => n.metadata.name);
      const speakers = freshSpeakerLeases(ctx.leases, ctx.now);
      const stale = staleSpeakerNodes(ctx.leases, ctx.now);
      const running = eligible.filter((n) => speakers.has(n));
      const stopped = eligible.filter((n) => stale.has(n));
      if (running.length === 0) {
        errors.push(
          `no floatip speaker is running on the advertised nodes (${eligible.join(", ") || "none"}): nobody would announce ${ip}`,
        );
      } else if (stopped.length > 0) {
        warnings.push(
          `the speakers on ${stopped.join(", ")} stopped renewing their Lease: those nodes cannot take the IP over`,
        );
      }
    }
  }
  const lease = ctx.leases.find((l) => l.metadata.name === CONTROLLER_LEASE);
  if (!lease || !leaseFresh(lease, ctx.now)) {
    errors.push(
      `no floatip controller is running in ${ns} (Lease ${CONTROLLER_LEASE} missing or stale): nothing would assign ${ip}`,
    );
  }
  const holder = ctx.services.find(
    (s) =>
      !(s.metadata.namespace === ctx.serviceRef.namespace && s.metadata.name === ctx.serviceRef.name) &&
      ingressIPs(s).includes(ip),
  );
  if (holder)
    errors.push(`${ip} is already held by Service ${holder.metadata.namespace}/${holder.metadata.name}`);
  return pool;
}

/** (b) the EnvoyProxy must be able to carry the class. */
function checkProxyCarriesClass(
  ctx: MigrationContext,
  lbClass: string,
  errors: string[],
  warnings: string[],
): void {
  const s = envoyServiceSettings(ctx.proxy);
  const providerType = ctx.proxy.spec?.provider?.type;
  if (providerType && providerType !== "Kubernetes") {
    errors.push(
      `EnvoyProxy ${refString(ctx.proxyRef)} uses provider ${providerType}; only Kubernetes creates a Service`,
    );
  }
  if (s.type !== "LoadBalancer") {
    errors.push(
      `EnvoyProxy ${refString(ctx.proxyRef)} sets envoyService.type ${s.type}; loadBalancerClass only applies to type LoadBalancer`,
    );
  }
  if (s.directClass && s.directClass !== lbClass) {
    errors.push(
      `EnvoyProxy ${refString(ctx.proxyRef)} already sets envoyService.loadBalancerClass ${JSON.stringify(s.directClass)}; refusing to replace another implementation's class (use --lb-class ${s.directClass} if that is floatip's)`,
    );
  }
  const svcClass = ctx.service?.spec.loadBalancerClass;
  if (svcClass && svcClass !== lbClass) {
    warnings.push(
      `the Service has class ${JSON.stringify(svcClass)} now; it will be recreated with ${JSON.stringify(lbClass)}`,
    );
  }
  if (s.externalTrafficPolicy === "Local") {
    warnings.push(
      "externalTrafficPolicy is Local (kept): the IP will be announced only from nodes running an Envoy pod",
    );
  }
}

/**
 * Who else could claim the IP while the Service is recreated. A pool open to every namespace is
 * pinned to the Service's (an error if that would take other namespaces' addresses); a pool also
 * open to other namespaces by name or selector is the platform's choice, and only warned about.
 */
function poolExposure(ctx: MigrationContext, pool: string): { error?: string; warning?: string } {
  const raw = ctx.pools?.find((p) => p.metadata.name === pool);
  const ns = ctx.serviceRef.namespace;
  if (!raw) return {};
  const sa = raw.spec?.serviceAllocation;
  if (poolPinPatch(raw, ns)) {
    const others = ctx.services
      .filter((s) => s.metadata.namespace !== ns && allocatedPool(s) === pool && ingressIPs(s).length > 0)
      .map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
    if (others.length === 0) return {};
    return {
      error: `pool ${pool} is open to every namespace and also serves ${others.join(", ")}: pinning it to ${ns} (so no other namespace can take the IP while the Service is recreated) would take their addresses; give the floating IP a pool of its own (floatip render writes one)`,
    };
  }
  const names = (sa?.namespaces ?? []).filter((n) => n !== ns);
  const selectors = sa?.namespaceSelectors?.length ?? 0;
  if (names.length === 0 && selectors === 0) return {};
  const open = [
    ...(names.length > 0 ? [`namespaces ${names.join(", ")}`] : []),
    ...(selectors > 0 ? ["namespaceSelectors"] : []),
  ];
  return {
    warning: `pool ${pool} is also open to ${open.join(" and ")}: a Service there could take the IP while this one is recreated; set its serviceAllocation.namespaces to [${ns}] to rule that out`,
  };
}

export interface MigrationPlan {
  ip: string;
  pool: string;
  lbClass: string;
  /** Pins the pool to the Service's namespace before anything else, so the IP is never claimable. */
  poolPin?: MergePatch;
  /** Undefined when the EnvoyProxy already asks for class and IP. */
  proxyPatch?: MergePatch;
  /** Undoes proxyPatch. */
  proxyRevert?: MergePatch;
  /** Takes the IP out of Gateway spec.addresses (else EG keeps rendering it as externalIPs). */
  gatewayPatch?: MergePatch;
  /** The Service to delete (its class cannot change in place). */
  deleteService?: { ref: ObjectRef; uid: string };
  /** The Service Envoy Gateway will create. */
  expected: KubeService;
  /** Nothing to change: the Service already has the class and the IP. */
  done: boolean;
}

export function planMigration(
  ctx: MigrationContext,
  ip: string,
  pool: string,
  lbClass: string,
): MigrationPlan {
  const patch = classPatch(ctx.proxy, lbClass, ip);
  const merged = mergeValue(ctx.proxy, patch) as EnvoyProxy;
  const proxyChanges = JSON.stringify(merged.spec) !== JSON.stringify(ctx.proxy.spec);
  const gatewayPatch = dropGatewayAddress(ctx.gateway, ip);
  const gateway = gatewayPatch ? (mergeValue(ctx.gateway, gatewayPatch) as Gateway) : ctx.gateway;
  const expected = renderProxyService(gateway, merged, ctx.serviceRef.namespace);
  const svc = ctx.service;
  const wrongClass = svc !== undefined && (svc.spec.loadBalancerClass ?? "") !== lbClass;
  const raw = ctx.pools?.find((p) => p.metadata.name === pool);
  const poolPin = raw ? poolPinPatch(raw, ctx.serviceRef.namespace) : undefined;
  return {
    ip,
    pool,
    lbClass,
    ...(poolPin ? { poolPin } : {}),
    ...(proxyChanges ? { proxyPatch: patch, proxyRevert: inversePatch(ctx.proxy, patch) } : {}),
    ...(gatewayPatch ? { gatewayPatch } : {}),
    ...(wrongClass && svc.metadata.uid
      ? { deleteService: { ref: ctx.serviceRef, uid: svc.metadata.uid } }
      : {}),
    expected,
    done: !proxyChanges && !gatewayPatch && !wrongClass && svc !== undefined && ingressIPs(svc).includes(ip),
  };
}

/** The plan as numbered steps with the exact patches: what --dry-run prints and a run announces. */
export function describePlan(ctx: MigrationContext, plan: MigrationPlan, timeoutMs: number): string[] {
  const lines: string[] = [];
  const steps: string[][] = [];
  const json = (o: unknown) => JSON.stringify(o);
  const proxy = `EnvoyProxy ${refString(ctx.proxyRef)}`;
  const gw = `Gateway ${refString({ namespace: ctx.gateway.metadata.namespace ?? "default", name: ctx.gateway.metadata.name })}`;
  const svc = `Service ${refString(ctx.serviceRef)}`;
  if (plan.poolPin) {
    steps.push([
      `patch IPAddressPool ${ctx.floatipNamespace}/${plan.pool} (JSON merge patch), so only ${ctx.serviceRef.namespace} may take ${plan.ip}, also while the Service is recreated:`,
      `    ${json(plan.poolPin)}`,
    ]);
  }
  if (plan.proxyPatch) {
    steps.push([`patch ${proxy} (JSON merge patch):`, `    ${json(plan.proxyPatch)}`]);
    steps.push([
      `re-read ${proxy}; stop (and undo the patch) unless envoyService.loadBalancerClass is ${JSON.stringify(plan.lbClass)} and the patch requests ${plan.ip}`,
    ]);
  } else {
    steps.push([
      `${proxy} already sets loadBalancerClass ${JSON.stringify(plan.lbClass)} and requests ${plan.ip}: unchanged`,
    ]);
  }
  if (plan.deleteService) {
    steps.push([
      `delete ${svc} (precondition uid ${plan.deleteService.uid}); spec.loadBalancerClass is immutable, so Envoy Gateway must create it anew`,
    ]);
  } else if (!ctx.service) {
    steps.push([`${svc} does not exist (an earlier run deleted it): Envoy Gateway will create it`]);
  }
  const trigger = [
    `make Envoy Gateway render the Service again (a deleted Service alone is not recreated promptly, EG issue 3632):`,
  ];
  if (plan.gatewayPatch)
    trigger.push(
      `    patch ${gw}: ${json(plan.gatewayPatch)} (drops ${plan.ip} from spec.addresses, which EG turns into externalIPs)`,
    );
  trigger.push(
    `    annotate ${gw} and ${proxy} with floatip.io/reconcile-requested-at=<now> (EG reconciles on annotation changes)`,
  );
  steps.push(trigger);
  steps.push([
    `wait up to ${Math.round(timeoutMs / 1000)} s for ${svc} with loadBalancerClass ${JSON.stringify(plan.lbClass)} and status IP ${plan.ip} (pool ${plan.pool}), re-annotating every few seconds`,
  ]);
  steps.push([
    `verify: the status IP, the announcing node (ServiceL2Status), HTTP if --url is given; report the downtime`,
  ]);
  steps.forEach((s, i) => {
    lines.push(`  ${i + 1}. ${s[0]}`);
    lines.push(...s.slice(1));
  });
  lines.push("", "Service Envoy Gateway will create:");
  lines.push(
    ...stringify(plan.expected)
      .trimEnd()
      .split("\n")
      .map((l) => `    ${l}`),
  );
  return lines;
}
