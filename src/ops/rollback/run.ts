// `floatip rollback`: the runbook's Rollback. Puts the Envoy Gateway Service back on externalIPs (through
// the EnvoyProxy and the Gateway, so Envoy Gateway keeps it that way) and optionally uninstalls floatip.

import { execFile } from "node:child_process";
import type { ExitCode } from "../../cli/run.js";
import { UsageError } from "../outcome.js";
import { locateProxy, type LocatedProxy } from "../envoy/locate.js";
import { envoyServiceSettings, isEnvoyGatewayService } from "../envoy/resolve.js";
import { inversePatch } from "../migrate/patches.js";
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
import type { EnvoyProxy } from "../envoy/types.js";
import {
  chooseRollbackIP,
  describeRollback,
  planRollback,
  planUninstall,
  type RollbackPlan,
  type UninstallPlan,
} from "./plan.js";
import { errorText } from "../../kube/errors.js";
import { paths } from "../../kube/paths.js";
import { egPaths } from "../envoy/paths.js";
import type { KubeClient } from "../../kube/client.js";
import { type KubeService, type ObjectRef, refString, type Workload } from "../../kube/objects.js";
import { monotonicNow } from "../../common/clock.js";

export interface RollbackOptions extends ProxyChangeOptions {
  externalIp?: string;
  uninstall: boolean;
  /** Helm release name to uninstall. */
  release: string;
  /** Label selector of floatip's workloads when it was not installed with Helm. */
  selector: string;
  helm: string;
  kubeconfig?: string;
}

export interface RollbackDeps extends ProxyChangeDeps {
  /** Runs helm (default: execFile). */
  runHelm?: (args: string[]) => Promise<string>;
  /**
   * Ctrl-C/SIGTERM. Before the Service is deleted, the EnvoyProxy patch is undone; once it is
   * deleted, the step is finished (Envoy Gateway recreates it on externalIPs); --uninstall is not
   * started. Then it stops and says what is done (exit 130).
   */
  signal?: AbortSignal;
}

/** Thrown at a step boundary when the run was interrupted (after undoing what was half done). */
class RollbackInterrupted extends Error {}

export interface RollbackResult {
  exitCode: ExitCode | 130;
  plan?: RollbackPlan;
  uninstall?: UninstallPlan;
}

/** The Envoy Gateway Service floatip serves, when --service is not given: there must be exactly one. */
async function findServedService(client: KubeClient, opts: RollbackOptions): Promise<ObjectRef | undefined> {
  const all = (await client.list<KubeService>(paths.services(opts.envoyNamespace))) ?? [];
  const ours = all.filter((s) => isEnvoyGatewayService(s) && s.spec.loadBalancerClass === opts.lbClass);
  if (ours.length > 1) {
    throw new UsageError(
      `several Envoy Gateway Services have class ${opts.lbClass} (${ours.map((s) => s.metadata.name).join(", ")}): pass --service`,
    );
  }
  return ours[0] ? { namespace: opts.envoyNamespace, name: ours[0].metadata.name } : undefined;
}

export async function runRollback(opts: RollbackOptions, deps: RollbackDeps): Promise<RollbackResult> {
  const { client, progress, out } = deps;
  const serviceRef = opts.service ?? (await findServedService(client, opts));
  if (!serviceRef && !opts.uninstall) {
    throw new UsageError(
      `no Envoy Gateway Service with class ${opts.lbClass} in ${opts.envoyNamespace}: pass --service <ns/name> (or --uninstall alone to remove floatip)`,
    );
  }
  let located: LocatedProxy | undefined;
  let plan: RollbackPlan | undefined;
  if (serviceRef) {
    progress(`reading Service ${refString(serviceRef)}, its Gateway and EnvoyProxy`);
    located = await locateProxy(client, { service: serviceRef }, opts.envoyNamespace);
    const chosen = chooseRollbackIP(located, opts.externalIp);
    if (!chosen.ip) throw new UsageError(chosen.error!);
    plan = planRollback(located, chosen.ip);
  }
  const uninstall = opts.uninstall ? await readUninstallPlan(client, opts) : undefined;

  if (located && plan) {
    out(
      `Service ${refString(located.serviceRef)}${located.service ? "" : " (does not exist now)"}: back to externalIPs [${plan.ip}]`,
    );
    if (plan.done && !uninstall) {
      out("Already rolled back: the Service has no class and the IP in externalIPs. Nothing to do.");
      return { exitCode: 0, plan };
    }
  }
  out("Plan:");
  for (const line of describeRollback(located, plan?.done ? undefined : plan, uninstall, opts.helm))
    out(line);
  if (plan)
    out(
      `Afterwards floatip no longer announces ${plan.ip}: put it back where the old setup had it (e.g. ip addr add ${plan.ip}/32 dev ens3 on one node).`,
    );

  if (opts.dryRun) return dryRun(located, plan, uninstall, deps);
  const confirmed = !deps.signal?.aborted && (await deps.confirm());
  if (deps.signal?.aborted) {
    out("Interrupted before any change: nothing was changed.");
    return { exitCode: 130, ...(plan ? { plan } : {}) };
  }
  if (!confirmed) {
    out("Not confirmed; nothing was changed.");
    return { exitCode: 1, ...(plan ? { plan } : {}) };
  }

  const changed: string[] = [];
  try {
    if (located && plan && !plan.done) await restoreService(located, plan, opts, deps, changed);
    if (uninstall && deps.signal?.aborted) throw new RollbackInterrupted("floatip was not uninstalled");
    if (uninstall) await removeFloatip(uninstall, opts, deps, changed);
  } catch (err) {
    if (err instanceof RollbackInterrupted || (deps.signal?.aborted && changed.length === 0)) {
      out("Interrupted.");
      out(
        changed.length > 0
          ? `State of the cluster now:\n${changed.map((c) => `  - ${c}`).join("\n")}${err instanceof RollbackInterrupted && err.message ? `\n  - ${err.message}` : ""}`
          : "Nothing was changed.",
      );
      if (changed.length > 0) out("Run the same command again to continue; it skips what is already done.");
      return { exitCode: 130, ...(plan ? { plan } : {}), ...(uninstall ? { uninstall } : {}) };
    }
    out(`Rollback failed: ${failureText(err)}`);
    out(
      changed.length > 0
        ? `Done before the failure:\n${changed.map((c) => `  - ${c}`).join("\n")}`
        : "Nothing was changed.",
    );
    if (changed.length > 0) out("Run the same command again to continue; it skips what is already done.");
    return { exitCode: 1, ...(plan ? { plan } : {}), ...(uninstall ? { uninstall } : {}) };
  }
  out("Rolled back.");
  for (const c of changed) out(`  - ${c}`);
  return { exitCode: 0, ...(plan ? { plan } : {}), ...(uninstall ? { uninstall } : {}) };
}

/** --uninstall: what floatip left in its namespace (Helm release secrets, its Deployment and DaemonSet). */
async function readUninstallPlan(
  client: RollbackDeps["client"],
  opts: RollbackOptions,
): Promise<UninstallPlan> {
  if (!(await client.get(paths.namespace(opts.namespace)))) {
    throw new UsageError(
      `namespace ${opts.namespace} does not exist: pass --namespace with the namespace floatip is installed in`,
    );
  }
  const secrets =
    (await client.list(paths.secrets(opts.namespace), {
      labelSelector: `owner=helm,name=${opts.release}`,
    })) ?? [];
  const query = { labelSelector: opts.selector };
  const workloads = [
    ...((await client.list<Workload>(paths.deployments(opts.namespace), query)) ?? []).map((w) => ({
      ...w,
      kind: "Deployment" as const,
    })),
    ...((await client.list<Workload>(paths.daemonsets(opts.namespace), query)) ?? []).map((w) => ({
      ...w,
      kind: "DaemonSet" as const,
    })),
  ];
  return planUninstall(opts.namespace, opts.release, secrets.length, opts.selector, workloads);
}

async function dryRun(
  located: LocatedProxy | undefined,
  plan: RollbackPlan | undefined,
  uninstall: UninstallPlan | undefined,
  deps: RollbackDeps,
): Promise<RollbackResult> {
  const { client, out } = deps;
  try {
    if (located && plan?.proxyPatch) {
      await patchIfUnchanged(client, egPaths.envoyProxy(located.proxyRef), located.proxy, plan.proxyPatch, {
        dryRun: true,
      });
      out("Server-side dry run: the API server accepts the EnvoyProxy patch.");
    }
    if (located && plan?.gatewayPatch) {
      const ref = {
        namespace: located.gateway.metadata.namespace ?? "default",
        name: located.gateway.metadata.name,
      };
      await patchIfUnchanged(client, egPaths.gateway(ref), located.gateway, plan.gatewayPatch, {
        dryRun: true,
      });
      out("Server-side dry run: the API server accepts the Gateway patch.");
    }
  } catch (err) {
    out(`Server-side dry run: the API server rejects a patch: ${errorText(err)}`);
    out("Dry run: nothing was changed.");
    return { exitCode: 1 };
  }
  out("Dry run: nothing was changed.");
  return { exitCode: 0, ...(plan ? { plan } : {}), ...(uninstall ? { uninstall } : {}) };
}

async function restoreService(
  located: LocatedProxy,
  plan: RollbackPlan,
  opts: RollbackOptions,
  deps: RollbackDeps,
  changed: string[],
): Promise<void> {
  const { client, progress } = deps;
  const pollMs = opts.pollMs ?? 100;
  const deadline = monotonicNow() + opts.timeoutMs;
  const proxyPath = egPaths.envoyProxy(located.proxyRef);
  if (plan.proxyPatch) {
    progress(`patching EnvoyProxy ${refString(located.proxyRef)}: no loadBalancerClass, no loadBalancerIPs`);
    await patchIfUnchanged(client, proxyPath, located.proxy, plan.proxyPatch);
    changed.push(`EnvoyProxy ${refString(located.proxyRef)}: class and loadBalancerIPs removed`);
    const fresh = await client.get<EnvoyProxy>(proxyPath);
    const s = fresh ? envoyServiceSettings(fresh) : undefined;
    if (!s || s.effectiveClass || s.requestedIPs) {
      throw new StepError(
        `re-reading the EnvoyProxy still shows class ${JSON.stringify(s?.effectiveClass ?? null)} / loadBalancerIPs ${JSON.stringify(s?.requestedIPs?.value ?? null)}: something puts them back (GitOps?); the Service is unchanged`,
      );
    }
    if (deps.signal?.aborted) {
      // Half done: the EnvoyProxy says "no class" while the Service still has it. Undo.
      progress(`interrupted: restoring EnvoyProxy ${refString(located.proxyRef)}`);
      await client.patch(proxyPath, inversePatch(located.proxy, plan.proxyPatch));
      changed.splice(
        0,
        changed.length,
        `EnvoyProxy ${refString(located.proxyRef)}: patched, then restored to its previous spec`,
        `Service ${refString(located.serviceRef)}: unchanged (still served by floatip)`,
      );
      throw new RollbackInterrupted("");
    }
  } else if (deps.signal?.aborted) {
    throw new RollbackInterrupted("");
  }
  // From the delete on, an interrupt finishes this step: no Service at all is worse than either.
  let deletedAt = monotonicNow();
  if (plan.deleteService) {
    progress(`deleting Service ${refString(located.serviceRef)}`);
    deletedAt = monotonicNow();
    await deleteService(client, located.serviceRef, plan.deleteService.uid, { deadline, pollMs, progress });
    changed.push(`Service ${refString(located.serviceRef)} deleted`);
  }
  const gwRef = {
    namespace: located.gateway.metadata.namespace ?? "default",
    name: located.gateway.metadata.name,
  };
  const trigger = new EnvoyGatewayTrigger(
    client,
    { ref: gwRef, original: located.gateway },
    located.proxyRef,
  );
  progress(`triggering Envoy Gateway (Gateway spec.addresses += ${plan.ip}, reconcile annotation)`);
  await trigger.fire(plan.gatewayPatch);
  if (plan.gatewayPatch) changed.push(`Gateway ${refString(gwRef)}: ${plan.ip} added to spec.addresses`);
  const { readyAt } = await waitForService(client, located.serviceRef, {
    ...(plan.deleteService ? { oldUid: plan.deleteService.uid } : {}),
    expectedClass: null,
    ready: (svc) => (svc.spec.externalIPs ?? []).includes(plan.ip),
    trigger: () => trigger.fire(),
    retriggerMs: opts.retriggerMs ?? 5000,
    deadline,
    pollMs,
    progress,
  });
  progress(`Service is back without a class, externalIPs [${plan.ip}] (+${readyAt - deletedAt} ms)`);
  changed.push(
    `Service ${refString(located.serviceRef)} recreated by Envoy Gateway without class, externalIPs [${plan.ip}]`,
  );
}

function execHelm(helm: string): (args: string[]) => Promise<string> {
  return (args) =>
    new Promise((resolve, reject) =>
      execFile(helm, args, { timeout: 120_000 }, (err, stdout, stderr) =>
        err
          ? reject(new StepError(`${helm} ${args.join(" ")} failed: ${(stderr || err.message).trim()}`))
          : resolve(stdout),
      ),
    );
}

async function removeFloatip(
  u: UninstallPlan,
  opts: RollbackOptions,
  deps: RollbackDeps,
  changed: string[],
): Promise<void> {
  const { client, progress } = deps;
  if (u.helmRelease) {
    const args = [
      "uninstall",
      u.helmRelease,
      "-n",
      u.namespace,
      ...(opts.kubeconfig ? ["--kubeconfig", opts.kubeconfig] : []),
    ];
    progress(`${opts.helm} ${args.join(" ")}`);
    await (deps.runHelm ?? execHelm(opts.helm))(args);
    changed.push(`Helm release ${u.helmRelease} uninstalled from ${u.namespace}`);
    return;
  }
  for (const w of u.workloads) {
    const path = `${w.kind === "Deployment" ? paths.deployments(w.ref.namespace) : paths.daemonsets(w.ref.namespace)}/${w.ref.name}`;
    progress(`deleting ${w.kind} ${refString(w.ref)}`);
    await client.delete(path);
    changed.push(`${w.kind} ${refString(w.ref)} deleted`);
  }
}
