/**
 * This node's Lease: renewed on a timer, its success is the speaker's measure of API server
 * reachability; it also tells peers where to send heartbeats (an annotation).
 */
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { LeaseObservation } from "../election/membership.js";
import { apiErrorMessage } from "../kube/client.js";

export const LEASE_LABEL = "floatip.io/speaker-lease";
export const LEASE_ADDRESS_ANNOTATION = "floatip.io/heartbeat-address";
export const leaseName = (node: string) => `floatip-speaker-${node}`;

export interface LeaseConfig {
  nodeName: string;
  namespace: string;
  heartbeatPort: number;
  leaseDurationMs: number;
  leaseRenewMs: number;
  /** Shown on the Lease so the runbook can tell a mistyped --lb-class from a cluster fault. */
  lbClass?: string | undefined;
}

/** What a peer's Lease tells us: that the node lives, for how long, and its heartbeat address. */
export interface PeerLease {
  node: string;
  observation: LeaseObservation;
  /** "host:port" from the annotation, if any. */
  address: string | undefined;
}

/** Reads a watched Lease; undefined for our own Lease or one without a holder. */
export function readPeerLease(lease: k8s.V1Lease, self: string, now: number): PeerLease | undefined {
  const node = lease.spec?.holderIdentity;
  if (!node || node === self) return undefined;
  return {
    node,
    observation: { observedRenewAt: now, durationMs: (lease.spec?.leaseDurationSeconds ?? 6) * 1000 },
    address: lease.metadata?.annotations?.[LEASE_ADDRESS_ANNOTATION],
  };
}

export class NodeLease {
  private readonly coordination: k8s.CoordinationV1Api;
  /** Monotonic start time of the last successful renewal: peers can only have seen it later. */
  private lastRenewOk = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kc: k8s.KubeConfig,
    private readonly config: LeaseConfig,
    /** The address peers should send heartbeats to, read at each renewal (the Node may appear late). */
    private readonly heartbeatAddress: () => string | undefined,
    private readonly log: Logger,
  ) {
    this.coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.renew(), this.config.leaseRenewMs);
  }

  /**
   * The API server confirms us: the last successful renewal started recently (now is monotonic).
   * Shorter than the Lease duration, so we stop relying on it before any peer sees it expire.
   */
  apiHealthy(now: number): boolean {
    return this.lastRenewOk > 0 && now - this.lastRenewOk <= this.config.leaseRenewMs * 2 + 500;
  }

  /** Stops renewing and deletes the Lease so peers drop this node at once (bounded wait). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await Promise.race([
      this.coordination
        .deleteNamespacedLease({ name: leaseName(this.config.nodeName), namespace: this.config.namespace })
        .catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private body(): k8s.V1Lease {
    const address = this.heartbeatAddress();
    return {
      metadata: {
        name: leaseName(this.config.nodeName),
        namespace: this.config.namespace,
        labels: { [LEASE_LABEL]: "true" },
        annotations: {
          ...(address ? { [LEASE_ADDRESS_ANNOTATION]: `${address}:${this.config.heartbeatPort}` } : {}),
          "floatip.io/lb-class": this.config.lbClass ?? "", // read by the runbook's --lb-class check
        },
      },
      spec: {
        holderIdentity: this.config.nodeName,
        leaseDurationSeconds: Math.ceil(this.config.leaseDurationMs / 1000),
        renewTime: new k8s.V1MicroTime(),
      },
    };
  }

  /** Renews (or creates) the Lease, bounded by the renew interval. */
  async renew(): Promise<void> {
    const ns = this.config.namespace;
    const name = leaseName(this.config.nodeName);
    const body = this.body();
    const startedAt = performance.now();
    const attempt = (async () => {
      try {
        const existing = await this.coordination.readNamespacedLease({ name, namespace: ns });
        body.metadata!.resourceVersion = existing.metadata?.resourceVersion;
        body.spec!.acquireTime = existing.spec?.acquireTime;
        body.spec!.leaseTransitions = existing.spec?.leaseTransitions;
        await this.coordination.replaceNamespacedLease({ name, namespace: ns, body });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
        body.spec!.acquireTime = new k8s.V1MicroTime();
        await this.coordination.createNamespacedLease({ namespace: ns, body });
      }
    })();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("lease renewal timed out")), this.config.leaseRenewMs).unref(),
    );
    try {
      await Promise.race([attempt, timeout]);
      if (this.lastRenewOk === 0 || startedAt - this.lastRenewOk > this.config.leaseRenewMs * 2) {
        this.log.info({ event: "apiServerReachable", node: this.config.nodeName }, "lease renewed");
      }
      this.lastRenewOk = Math.max(this.lastRenewOk, startedAt);
    } catch (err) {
      attempt.catch(() => undefined);
      this.log.warn(
        { event: "leaseRenewFailed", error: apiErrorMessage(err) },
        "cannot renew node lease; keep serving and failing over through heartbeats",
      );
    }
  }
}
