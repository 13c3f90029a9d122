// `floatip migrate`: moves an Envoy Gateway proxy Service from externalIPs to a floatip floating IP,
// following the runbook: class on the EnvoyProxy first (verified), then delete the Service and make
// Envoy Gateway create it again, then wait, verify and report the downtime.

import type { IPAddressPool, L2Advertisement, ServiceL2Status } from "../../api/types.js";
import { probeLocally, probeOnce, type ProbeSession } from "../probing.js";
import { summarizeProbes } from "../timeline.js";
import type { ExitCode } from "../../cli/run.js";
import { sleep } from "../../common/wait.js";
import { UsageError } from "../outcome.js";
import { locateProxy, type LocatedProxy } from "../envoy/locate.js";
import {
  EnvoyGatewayTrigger,
  StepError,
  deleteService,
  failureText,
  patchIfUnchanged,
  waitForService,
  type ProxyChangeDeps,
  type ProxyChangeOptions,
} from "../envoy/steps.js";
import { envoyServiceSettings } from "../envoy/resolve.js";
import { RECONCILE_TRIGGER_ANNOTATION, type EnvoyProxy } from "../envoy/types.js";
import { ingressIPs } from "../doctor/evidence.js";
import { describePlan, planMigration, preflight, type MigrationContext, type MigrationPlan } from "./plan.js";
import { formatSuccess } from "./report.js";
import { describeState, emptyJournal, type Journal } from "./state.js";
import type { AnnouncedBy, Downtime } from "./types.js";
import { errorText } from "../../kube/errors.js";
import { paths } from "../../kube/paths.js";
import { egPaths } from "../envoy/paths.js";
import type { KubeClient } from "../../kube/client.js";
import {
  type KubeNode,
  type KubeService,
  type Lease,
  type Meta,
  type ObjectRef,
  refString,
} from "../../kube/objects.js";
import { monotonicNow, wallNow } from "../../common/clock.js";

export type { AnnouncedBy, Downtime };

export interface MigrateOptions extends ProxyChangeOptions {
  envoyProxy?: ObjectRef;
  ip?: string;
  /** Verify with one successful GET after the IP is assigned. */
  url?: string;
  /** Probe every 10 ms through the whole migration to measure real unavailability. */
  probeUrl?: string;
}

export interface MigrateDeps extends ProxyChangeDeps {
  /** Starts the probe loop (default: from this process). The lab probes from its client namespace. */
  probe?: (url: string) => ProbeSession;
  /** One HTTP check (default: a GET from this process). */
  httpCheck?: (url: string) => Promise<boolean>;
  /**
   * Ctrl-C/SIGTERM. Before the Service is deleted, the run undoes its EnvoyProxy patch and stops;
   * once it is deleted, it finishes that step (waits until Envoy Gateway recreated it and floatip
   * assigned the IP, within the timeout) rather than leave no Service; then it stops (exit 130).
   */
  signal?: AbortSignal;
}

/** 130: interrupted (the CLI's exit-code contract). */
export const INTERRUPTED = 130;

export interface MigrateResult {
  exitCode: ExitCode | typeof INTERRUPTED;
  plan?: MigrationPlan;
  downtime?: Downtime;
  announcedBy?: AnnouncedBy;
  journal?: Journal;
}

async function readContext(client: KubeClient, located: LocatedProxy, ns: string): Promise<MigrationContext> {
  if (!(await client.get(paths.namespace(ns)))) {
    throw new UsageError(
      `namespace ${ns} does not exist: pass --namespace with the namespace floatip is installed in`,
    );
  }
  const [pools, l2Advertisements, leases, nodes, services, namespaces] = await Promise.all([
    client.list<IPAddressPool>(paths.pools(ns)),
    client.list<L2Advertisement>(paths.l2advertisements(ns)),
    client.list<Lease>(paths.leases(ns)),
    client.list<KubeNode>(paths.nodes()),
    client.list<KubeService>(paths.services()),
    client.list<{ metadata: Meta }>("/api/v1/namespaces"),
  ]);
  return {
    ...located,
    floatipNamespace: ns,
    ...(pools ? { pools } : {}),
    ...(l2Advertisements ? { l2Advertisements } : {}),
    leases: leases ?? [],
    nodes: nodes ?? [],
    services: services ?? [],
    namespaceLabels: Object.fromEntries(
      (namespaces ?? []).map((n) => [n.metadata.name, n.metadata.labels ?? {}]),
    ),
    now: wallNow(),
  };
}

export async function runMigrate(opts: MigrateOptions, deps: MigrateDeps): Promise<MigrateResult> {
  const { client, progress, out } = deps;
  progress(
    `reading ${opts.service ? `Service ${refString(opts.service)}` : `EnvoyProxy ${refString(opts.envoyProxy!)}`}, its Gateway and EnvoyProxy`,
  );
  const located = await locateProxy(
    client,
    { service: opts.service, envoyProxy: opts.envoyProxy },
    opts.envoyNamespace,
  );
  progress(
    `preflight: floatip in ${opts.namespace} (pools, L2Advertisements, controller and speaker Leases)`,
  );
  const ctx = await readContext(client, located, opts.namespace);
  const pre = preflight(ctx, { ip: opts.ip, lbClass: opts.lbClass });

  out(`Service ${refString(ctx.serviceRef)}${ctx.service ? "" : " (does not exist now)"}`);
  out(
    `  Gateway ${ctx.gateway.metadata.namespace}/${ctx.gateway.metadata.name}, GatewayClass ${ctx.gatewayClass}, EnvoyProxy ${refString(ctx.proxyRef)} (via the ${ctx.proxyVia})`,
  );
  for (const w of pre.warnings) out(`  warning: ${w}`);
  if (pre.errors.length > 0 || !pre.ip || !pre.pool) {
    out("Refusing to migrate:");
    for (const e of pre.errors) out(`  - ${e}`);
    out("Nothing was changed.");
    return { exitCode: 1 };
  }
  const plan = planMigration(ctx, pre.ip, pre.pool, opts.lbClass);
  if (plan.done) {
    out(
      `Already migrated: the Service has class ${JSON.stringify(opts.lbClass)} and ${plan.ip}. Nothing to do.`,
    );
    return { exitCode: 0, plan };
  }
  out(`Plan (move to ${plan.ip} from pool ${plan.pool}, class ${JSON.stringify(opts.lbClass)}):`);
  for (const line of describePlan(ctx, plan, opts.timeoutMs)) out(line);

  if (opts.dryRun) return dryRun(ctx, plan, deps);
  const confirmed = !deps.signal?.aborted && (await deps.confirm());
  if (deps.signal?.aborted) {
    out("Interrupted before any change: nothing was changed.");
    return { exitCode: INTERRUPTED, plan };
  }
  if (!confirmed) {
    out("Not confirmed; nothing was changed.");
    return { exitCode: 1, plan };
  }
  return execute(ctx, plan, opts, deps);
}

const poolPath = (ctx: MigrationContext, plan: MigrationPlan) =>
  `${paths.pools(ctx.floatipNamespace)}/${plan.pool}`;
/** The pool as planned from (its spec); the patch's resourceVersion guards it when there is none. */
const pinnedPool = (ctx: MigrationContext, plan: MigrationPlan): { spec?: unknown } =>
  ctx.pools?.find((p) => p.metadata.name === plan.pool) ?? {};

/** Lets the API server validate the patches (dryRun=All: admission runs, nothing is stored). */
async function dryRun(ctx: MigrationContext, plan: MigrationPlan, deps: MigrateDeps): Promise<MigrateResult> {
  const { client, out } = deps;
  try {
    if (plan.proxyPatch) {
      const result = await patchIfUnchanged<EnvoyProxy>(
        client,
        egPaths.envoyProxy(ctx.proxyRef),
        ctx.proxy,
        plan.proxyPatch,
        { dryRun: true },
      );
      const s = envoyServiceSettings(result);
      out(
        `Server-side dry run: the API server accepts the EnvoyProxy patch (envoyService.loadBalancerClass would be ${JSON.stringify(s.directClass ?? null)}).`,
      );
      if (s.directClass !== plan.lbClass) {
        out(
          "  ...but the class does not stick (an admission policy or webhook removes it): a real run would stop at step 2.",
        );
        return { exitCode: 1, plan };
      }
    }
    if (plan.poolPin) {
      await patchIfUnchanged(client, poolPath(ctx, plan), pinnedPool(ctx, plan), plan.poolPin, {
        dryRun: true,
      });
      out("Server-side dry run: the API server accepts the IPAddressPool patch.");
    }
    if (plan.gatewayPatch) {
      await patchIfUnchanged(client, egPaths.gateway(gatewayRef(ctx)), ctx.gateway, plan.gatewayPatch, {
        dryRun: true,
      });
      out("Server-side dry run: the API server accepts the Gateway patch.");
    }
  } catch (err) {
    out(`Server-side dry run: the API server rejects a patch: ${errorText(err)}`);
    out("Dry run: nothing was changed.");
    return { exitCode: 1, plan };
  }
  out("Dry run: nothing was changed.");
  return { exitCode: 0, plan };
}

/** Polls ServiceL2Status until a node announces the Service; undefined at the deadline. */
async function waitAnnounced(
  client: KubeClient,
  namespace: string,
  ref: ObjectRef,
  deadline: number,
  pollMs: number,
): Promise<{ at: number; by: AnnouncedBy } | undefined> {
  for (;;) {
    const list = (await client.list<ServiceL2Status>(paths.l2statuses(namespace))) ?? [];
    const st = list.find(
      (s) =>
        s.status?.serviceName === ref.name && s.status?.serviceNamespace === ref.namespace && s.status.node,
    );
    if (st?.status?.node) {
      const interfaces = (st.status.interfaces ?? []).map((i) => i.name);
      return { at: monotonicNow(), by: { node: st.status.node, interfaces } };
    }
    if (monotonicNow() > deadline) return undefined;
    await sleep(pollMs);
  }
}

/** Lets the probe loop see the IP answer again (plus a short tail), then summarizes it. */
async function finishProbing(
  prober: ProbeSession,
  since: number,
  from: number,
  remainingMs: number,
): Promise<NonNullable<Downtime["probe"]>> {
  const until = monotonicNow() + Math.min(10_000, Math.max(remainingMs, 0));
  while (!prober.results.some((p) => p.ok && p.t > since) && monotonicNow() < until) await sleep(20);
  await sleep(500); // a tail, so the last outage has a clear end
  const s = summarizeProbes(await prober.stop(), from);
  return {
    probes: s.probes,
    failed: s.failed,
    unavailableMs: s.unavailableMs,
    spanMs: s.spanMs,
    outages: s.outages.length,
    totalMs: s.outages.reduce((sum, o) => sum + o.durationMs, 0),
  };
}

const gatewayRef = (ctx: MigrationContext): ObjectRef => ({
  namespace: ctx.gateway.metadata.namespace ?? "default",
  name: ctx.gateway.metadata.name,
});

/** One migration run: what every step needs. */
interface Run {
  ctx: MigrationContext;
  plan: MigrationPlan;
  opts: MigrateOptions;
  deps: MigrateDeps;
  j: Journal;
  deadline: number;
  pollMs: number;
}

async function execute(
  ctx: MigrationContext,
  plan: MigrationPlan,
  opts: MigrateOptions,
  deps: MigrateDeps,
): Promise<MigrateResult> {
  const run: Run = {
    ctx,
    plan,
    opts,
    deps,
    j: emptyJournal(),
    deadline: monotonicNow() + opts.timeoutMs,
    pollMs: opts.pollMs ?? 100,
  };
  const { j } = run;
  let prober: ProbeSession | undefined;
  const aborted = () => deps.signal?.aborted === true;
  const interrupted = async () => {
    if (prober) await prober.stop();
    return interruptedResult(run);
  };
  try {
    // (a) Pin the pool first: from here on no other namespace can claim the IP, whenever the Service
    // is deleted or recreated (by us or by Envoy Gateway), and across controller restarts.
    await pinPool(run);
    if (aborted()) return await interrupted();
    // (b) The class goes on the EnvoyProxy first, and must be there before the Service is deleted.
    await patchProxy(run);
    if (aborted()) return await interrupted();
    prober = await startProbing(run);
    // (c) Delete, then make Envoy Gateway render the Service again; (d) wait for it with the class
    // and IP. From here on an interrupt finishes this step: a deleted Service is worse than either
    // the old or the new one.
    if (aborted()) return await interrupted();
    const startedAt = monotonicNow();
    const { deletedAt, recreatedAt, ipAt } = await recreateService(run);
    if (aborted()) return await interrupted();
    // (e) Verify: who announces, and HTTP if asked.
    const { announcedAt, announcedBy, answeringAt } = await verifyServing(run, deletedAt);
    // (f) Downtime.
    const probe = prober
      ? await finishProbing(prober, ipAt, startedAt, run.deadline - monotonicNow())
      : undefined;
    prober = undefined;
    const rel = (t: number | undefined) => (t === undefined ? undefined : t - deletedAt);
    const downtime: Downtime = {
      basis: probe ? "probe" : answeringAt ? "http" : "announce",
      ms: probe ? probe.totalMs : rel(answeringAt ?? announcedAt)!,
      ...(recreatedAt ? { recreatedMs: rel(recreatedAt) } : {}),
      ipAssignedMs: rel(ipAt)!,
      announcedMs: rel(announcedAt)!,
      ...(answeringAt ? { answeringMs: rel(answeringAt) } : {}),
      ...(probe ? { probe } : {}),
    };
    for (const line of formatSuccess(ctx, plan, downtime, announcedBy)) deps.out(line);
    return { exitCode: 0, plan, downtime, announcedBy, journal: j };
  } catch (err) {
    if (aborted() && !j.serviceDeleted) return interrupted();
    if (prober) await prober.stop();
    deps.out(`Migration failed: ${failureText(err)}`);
    for (const line of describeState(j, ctx, plan)) deps.out(line);
    return { exitCode: 1, plan, journal: j };
  }
}

/**
 * Interrupted: undo what is half done (the EnvoyProxy patch while the Service still exists) and
 * say exactly where the cluster is.
 */
async function interruptedResult({ ctx, plan, deps, j }: Run): Promise<MigrateResult> {
  deps.out("Interrupted.");
  if (j.proxyPatched && !j.proxyReverted && !j.serviceDeleted && plan.proxyRevert) {
    deps.progress(`restoring EnvoyProxy ${refString(ctx.proxyRef)}`);
    try {
      await deps.client.patch(egPaths.envoyProxy(ctx.proxyRef), plan.proxyRevert);
      j.proxyReverted = true;
    } catch (err) {
      deps.out(`Could not restore EnvoyProxy ${refString(ctx.proxyRef)}: ${errorText(err)}`);
    }
  }
  for (const line of describeState(j, ctx, plan, { interrupted: true })) deps.out(line);
  return { exitCode: INTERRUPTED, plan, journal: j };
}

async function pinPool({ ctx, plan, deps, j }: Run): Promise<void> {
  if (!plan.poolPin) return;
  deps.progress(`pinning IPAddressPool ${plan.pool} to namespace ${ctx.serviceRef.namespace}`);
  try {
    await patchIfUnchanged(deps.client, poolPath(ctx, plan), pinnedPool(ctx, plan), plan.poolPin);
  } catch (err) {
    throw new StepError(`cannot pin IPAddressPool ${plan.pool}: ${errorText(err)}`);
  }
  j.poolPinned = true;
}

/** Patches the EnvoyProxy and re-reads it: something rewriting it must stop the run before the delete. */
async function patchProxy({ ctx, plan, deps, j }: Run): Promise<void> {
  if (!plan.proxyPatch) return;
  const { client, progress } = deps;
  const proxyPath = egPaths.envoyProxy(ctx.proxyRef);
  progress(
    `patching EnvoyProxy ${refString(ctx.proxyRef)}: loadBalancerClass ${plan.lbClass}, loadBalancerIPs ${plan.ip}`,
  );
  try {
    await patchIfUnchanged(client, proxyPath, ctx.proxy, plan.proxyPatch);
  } catch (err) {
    throw new StepError(`cannot update EnvoyProxy ${refString(ctx.proxyRef)}: ${errorText(err)}`);
  }
  j.proxyPatched = true;
  const fresh = await client.get<EnvoyProxy>(proxyPath);
  const s = fresh ? envoyServiceSettings(fresh) : undefined;
  const asks = (s?.requestedIPs?.value ?? "").split(",").map((x) => x.trim());
  if (!s || s.directClass !== plan.lbClass || s.effectiveClass !== plan.lbClass || !asks.includes(plan.ip)) {
    progress("the EnvoyProxy does not show the change on re-read: restoring it");
    try {
      await client.patch(proxyPath, plan.proxyRevert!);
      j.proxyReverted = true;
    } catch (err) {
      progress(`could not restore the EnvoyProxy: ${errorText(err)}`);
    }
    throw new StepError(
      `refusing to continue: re-reading EnvoyProxy ${refString(ctx.proxyRef)} shows loadBalancerClass ${JSON.stringify(s?.directClass ?? null)} and loadBalancerIPs ${JSON.stringify(s?.requestedIPs?.value ?? null)} (something rewrote it: an admission policy or webhook, a GitOps controller). The class is immutable on the Service: deleting it now would bring it back without the class.`,
    );
  }
  progress(`EnvoyProxy verified: envoyService.loadBalancerClass=${plan.lbClass}, requests ${plan.ip}`);
}

async function startProbing({ opts, deps }: Run): Promise<ProbeSession | undefined> {
  if (!opts.probeUrl) return undefined;
  const prober = (deps.probe ?? probeLocally)(opts.probeUrl);
  const until = monotonicNow() + 3000;
  while (prober.results.length === 0 && monotonicNow() < until && !deps.signal?.aborted) await sleep(20);
  deps.progress(
    `probing ${opts.probeUrl} every 10 ms (${prober.results.some((p) => p.ok) ? "answering now" : "not answering now"})`,
  );
  return prober;
}

/** Deletes the Service (if the plan says so), triggers Envoy Gateway and waits for the new one with the IP. */
async function recreateService(
  run: Run,
): Promise<{ deletedAt: number; recreatedAt: number | undefined; ipAt: number }> {
  const { ctx, plan, opts, deps, j, deadline, pollMs } = run;
  const { client, progress } = deps;
  let deletedAt = monotonicNow();
  if (plan.deleteService) {
    progress(`deleting Service ${refString(ctx.serviceRef)}`);
    deletedAt = monotonicNow();
    j.serviceDeleted = true; // from here on the Service may be gone
    await deleteService(client, ctx.serviceRef, plan.deleteService.uid, { deadline, pollMs, progress });
    progress("Service deleted");
  } else if (!ctx.service) {
    j.serviceDeleted = true;
  }
  const trigger = new EnvoyGatewayTrigger(
    client,
    { ref: gatewayRef(ctx), original: ctx.gateway },
    ctx.proxyRef,
  );
  progress(
    `triggering Envoy Gateway (${plan.gatewayPatch ? `Gateway spec.addresses without ${plan.ip}, ` : ""}${RECONCILE_TRIGGER_ANNOTATION} on Gateway and EnvoyProxy)`,
  );
  await trigger.fire(plan.gatewayPatch);
  if (plan.gatewayPatch) j.gatewayPatched = true;
  const { createdAt: recreatedAt, readyAt: ipAt } = await waitForService(client, ctx.serviceRef, {
    ...(plan.deleteService ? { oldUid: plan.deleteService.uid } : {}),
    onCreated: (svc) => {
      j.recreated = true;
      progress(
        `Envoy Gateway created the Service (+${monotonicNow() - deletedAt} ms), class ${JSON.stringify(svc.spec.loadBalancerClass ?? null)}`,
      );
    },
    expectedClass: plan.lbClass,
    ready: (svc) => ingressIPs(svc).includes(plan.ip),
    trigger: () => trigger.fire(),
    retriggerMs: opts.retriggerMs ?? 5000,
    deadline,
    pollMs,
    progress,
  });
  j.ipAssigned = true;
  progress(`floatip assigned ${plan.ip} (+${ipAt - deletedAt} ms)`);
  return { deletedAt, recreatedAt, ipAt };
}

/** A node announces the IP (ServiceL2Status) and, with --url, the URL answers. */
async function verifyServing(
  { ctx, plan, opts, deps, j, deadline, pollMs }: Run,
  deletedAt: number,
): Promise<{ announcedAt: number; announcedBy: AnnouncedBy; answeringAt: number | undefined }> {
  const announced = await waitAnnounced(deps.client, opts.namespace, ctx.serviceRef, deadline, pollMs);
  if (!announced) {
    throw new StepError(
      `${plan.ip} is assigned but no node announces it (no ServiceL2Status) within the timeout`,
    );
  }
  const { at: announcedAt, by: announcedBy } = announced;
  j.announced = true;
  deps.progress(
    `announced by node ${announcedBy.node} on ${announcedBy.interfaces.join(", ") || "?"} (+${announcedAt - deletedAt} ms)`,
  );
  if (!opts.url) return { announcedAt, announcedBy, answeringAt: undefined };
  const httpCheck = deps.httpCheck ?? (async (url: string) => (await probeOnce(url, 1000)).ok);
  while (!(await httpCheck(opts.url))) {
    if (deadline - monotonicNow() <= 0) throw new StepError(`${opts.url} did not answer within the timeout`);
    await sleep(pollMs);
  }
  const answeringAt = monotonicNow();
  deps.progress(`${opts.url} answers (+${answeringAt - deletedAt} ms)`);
  return { announcedAt, announcedBy, answeringAt };
}
