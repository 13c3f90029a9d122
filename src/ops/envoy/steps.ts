// I/O steps migrate and rollback share: guarded patches, deleting the proxy Service, and making
// Envoy Gateway render it again.

import { errorCode, errorText } from "../../kube/errors.js";
import { sleep } from "../../common/wait.js";
import { RECONCILE_TRIGGER_ANNOTATION } from "./types.js";
import { paths } from "../../kube/paths.js";
import { egPaths } from "./paths.js";
import type { KubeClient } from "../../kube/client.js";
import type { KubeService, Meta, ObjectRef } from "../../kube/objects.js";
import { monotonicNow } from "../../common/clock.js";

/** A step failed after the run may have changed something; the caller reports the cluster state. */
export class StepError extends Error {
  override name = "StepError";
}

export function failureText(err: unknown): string {
  return err instanceof StepError ? err.message : errorText(err);
}

/**
 * Applies a merge patch planned from `original` if the object's spec is still what the plan was made
 * from. Status writes (Envoy Gateway updates Gateway status, the controller pool status) bump
 * resourceVersion without changing what we planned from, so the precondition uses the fresh
 * resourceVersion; a spec change stops the run. A dry run goes the same way (dryRun=All), or a status
 * write between the plan and the dry run would make it fail with 409. Returns the patched object.
 */
export async function patchIfUnchanged<T = unknown>(
  client: KubeClient,
  path: string,
  original: { spec?: unknown },
  patch: Record<string, unknown>,
  opts: { dryRun?: boolean } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const fresh = await client.get<{ metadata: Meta; spec?: unknown }>(path);
    if (!fresh) throw new StepError(`${path} no longer exists`);
    if (JSON.stringify(fresh.spec) !== JSON.stringify(original.spec)) {
      throw new StepError(
        `${path} was changed by someone else since the plan was made; run the command again`,
      );
    }
    const meta = {
      ...((patch.metadata as Record<string, unknown>) ?? {}),
      resourceVersion: fresh.metadata.resourceVersion,
    };
    try {
      return await client.patch<T>(path, { ...patch, metadata: meta }, opts);
    } catch (err) {
      if (errorCode(err) !== 409 || attempt >= 4) throw err;
    }
  }
}

/** Deletes the Service (uid precondition) and waits until it is gone; finalizers are reported. */
export async function deleteService(
  client: KubeClient,
  ref: ObjectRef,
  uid: string,
  opts: { deadline: number; pollMs: number; progress: (line: string) => void },
): Promise<void> {
  const path = paths.service(ref);
  await client.delete(path, uid);
  let said = false;
  for (;;) {
    const cur = await client.get<KubeService>(path);
    if (!cur || cur.metadata.uid !== uid) return;
    if (!said && cur.metadata.finalizers?.length) {
      opts.progress(
        `waiting for finalizers ${cur.metadata.finalizers.join(", ")} (another controller must release the Service)`,
      );
      said = true;
    }
    if (monotonicNow() > opts.deadline) {
      throw new StepError(
        `the Service was not removed in time (finalizers: ${cur.metadata.finalizers?.join(", ") || "none"})`,
      );
    }
    await sleep(opts.pollMs);
  }
}

/**
 * Makes Envoy Gateway reconcile: it watches generation, label and annotation changes of Gateways and
 * EnvoyProxies, but a deleted Service alone is not recreated promptly (EG #3632). The first call may
 * carry a planned Gateway change (applied only if the Gateway spec is unchanged).
 */
export class EnvoyGatewayTrigger {
  count = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly gateway: { ref: ObjectRef; original: { spec?: unknown } },
    private readonly proxy: ObjectRef,
  ) {}

  async fire(gatewayPatch?: Record<string, unknown>): Promise<void> {
    const note = { metadata: { annotations: { [RECONCILE_TRIGGER_ANNOTATION]: new Date().toISOString() } } };
    const gwPath = egPaths.gateway(this.gateway.ref);
    if (gatewayPatch) {
      const meta = { ...((gatewayPatch.metadata as Record<string, unknown>) ?? {}), ...note.metadata };
      await patchIfUnchanged(this.client, gwPath, this.gateway.original, { ...gatewayPatch, metadata: meta });
    } else {
      await this.client.patch(gwPath, note);
    }
    await this.client.patch(egPaths.envoyProxy(this.proxy), note);
    this.count++;
  }
}

/** How often a Service Envoy Gateway rendered from a stale EnvoyProxy is deleted again. */
const STALE_RENDERS = 3;

/**
 * Polls until the proxy Service exists as a new object (uid ≠ `oldUid`) and `ready` accepts it,
 * re-triggering Envoy Gateway every `retriggerMs` while it does not exist.
 */
export async function waitForService(
  client: KubeClient,
  ref: ObjectRef,
  opts: {
    oldUid?: string;
    /**
     * The class the new Service must have (null: none). Envoy Gateway renders from its informer
     * cache, which can lag behind an EnvoyProxy change made a moment ago: a Service created with
     * another class is deleted again (uid precondition) and Envoy Gateway triggered again, up to
     * STALE_RENDERS times (the class is immutable, so it could never become ready).
     */
    expectedClass?: string | null;
    ready: (svc: KubeService) => boolean;
    /** Called once when the new Service first shows up; may throw a StepError. */
    onCreated?: (svc: KubeService) => void;
    trigger: () => Promise<void>;
    retriggerMs: number;
    deadline: number;
    pollMs: number;
    progress: (line: string) => void;
  },
): Promise<{ service: KubeService; createdAt: number; readyAt: number }> {
  const start = monotonicNow();
  let lastTrigger = start;
  let createdAt: number | undefined;
  let last: KubeService | undefined;
  let oldUid = opts.oldUid;
  let stale = 0;
  for (;;) {
    const cur = await client.get<KubeService>(paths.service(ref));
    if (cur && (oldUid === undefined || cur.metadata.uid !== oldUid)) {
      if (createdAt === undefined) {
        createdAt = monotonicNow();
        opts.onCreated?.(cur);
      }
      const cls = cur.spec.loadBalancerClass ?? null;
      if (opts.expectedClass !== undefined && cls !== opts.expectedClass) {
        if (++stale > STALE_RENDERS)
          throw new StepError(
            `Envoy Gateway created the Service with class ${JSON.stringify(cls)}, not ${JSON.stringify(opts.expectedClass)}, ${stale} times: was the EnvoyProxy changed meanwhile?`,
          );
        opts.progress(
          `Envoy Gateway created the Service with class ${JSON.stringify(cls)} from an EnvoyProxy it had not re-read yet: deleting it again (${stale} of ${STALE_RENDERS})`,
        );
        await deleteService(client, ref, cur.metadata.uid!, opts);
        oldUid = cur.metadata.uid;
        await opts.trigger();
        lastTrigger = monotonicNow();
        continue;
      }
      last = cur;
      if (opts.ready(cur)) return { service: cur, createdAt, readyAt: monotonicNow() };
    } else if (monotonicNow() - lastTrigger >= opts.retriggerMs) {
      opts.progress(
        `Service not recreated after ${Math.round((monotonicNow() - start) / 1000)} s: annotating the Gateway and EnvoyProxy again`,
      );
      await opts.trigger();
      lastTrigger = monotonicNow();
    }
    if (monotonicNow() > opts.deadline) {
      throw new StepError(
        last
          ? `the Service exists but did not reach the expected state in time (class ${JSON.stringify(last.spec.loadBalancerClass ?? null)}, status ${JSON.stringify(last.status?.loadBalancer?.ingress ?? [])}, externalIPs ${JSON.stringify(last.spec.externalIPs ?? [])})`
          : "Envoy Gateway did not recreate the Service in time",
      );
    }
    await sleep(opts.pollMs);
  }
}

/** What migrate and rollback are both told. */
export interface ProxyChangeOptions {
  /** The proxy Service (else found from the EnvoyProxy or the class). */
  service?: ObjectRef;
  lbClass: string;
  /** floatip's namespace (pools, L2Advertisements, Leases, ServiceL2Status). */
  namespace: string;
  /** Envoy Gateway's controller namespace, where it creates proxy Services. */
  envoyNamespace: string;
  dryRun: boolean;
  timeoutMs: number;
  /** Re-annotate the Gateway/EnvoyProxy this often while the Service has not come back. */
  retriggerMs?: number;
  pollMs?: number;
}

/** What migrate and rollback both talk through. */
export interface ProxyChangeDeps {
  client: KubeClient;
  /** Progress while it runs (stderr). */
  progress: (line: string) => void;
  /** The report (stdout). */
  out: (line: string) => void;
  /** Asked once, after the plan is shown, before anything changes. */
  confirm: () => Promise<boolean>;
}
