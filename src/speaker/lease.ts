/**
 * This node's Lease: renewed on a timer, its success is the speaker's measure of API server
 * reachability; it also tells peers where to send heartbeats (an annotation).
 */
import type { Logger } from "pino";
import type { LeaseObservation } from "../election/membership.js";
import { ApiError, errorText, isConflict, isNotFound } from "../kube/errors.js";
import type { KubeApi, RequestOptions } from "../kube/api.js";
import type * as k8s from "../kube/types.js";

export const LEASE_LABEL = "floatip.io/speaker-lease";
export const LEASE_ADDRESS_ANNOTATION = "floatip.io/heartbeat-address";
/** Comma-separated interface names with carrier on the node, for `floatip verify`. */
export const LEASE_INTERFACES_ANNOTATION = "floatip.io/interfaces";
/** The heartbeat keys the speaker signs and accepts with, as fingerprints (heartbeat-keys.ts). */
export const LEASE_KEYS_ANNOTATION = "floatip.io/heartbeat-keys";
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

/** The Lease this speaker writes: holder, timing, and what peers and the runbook read from it. */
export function leaseBody(
  config: LeaseConfig,
  at: {
    address?: string | undefined;
    interfaces?: string[] | undefined;
    keys?: string | undefined;
    renewTime: string;
    acquireTime: string;
  },
): k8s.V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: leaseName(config.nodeName),
      namespace: config.namespace,
      labels: { [LEASE_LABEL]: "true" },
      annotations: {
        ...(at.address ? { [LEASE_ADDRESS_ANNOTATION]: `${at.address}:${config.heartbeatPort}` } : {}),
        "floatip.io/lb-class": config.lbClass ?? "", // read by the runbook's --lb-class check
        ...(at.interfaces ? { [LEASE_INTERFACES_ANNOTATION]: at.interfaces.join(",") } : {}),
        ...(at.keys ? { [LEASE_KEYS_ANNOTATION]: at.keys } : {}),
      },
    },
    spec: {
      holderIdentity: config.nodeName,
      leaseDurationSeconds: Math.ceil(config.leaseDurationMs / 1000),
      renewTime: at.renewTime as unknown as k8s.V1MicroTime,
      acquireTime: at.acquireTime as unknown as k8s.V1MicroTime,
    },
  };
}

export class NodeLease {
  private started = false;
  /** resourceVersion of our Lease after the last write: renewals need no read (409 → read again). */
  private resourceVersion: string | undefined;
  private acquireTime: string | undefined;
  /** Monotonic start time of the last successful renewal: peers can only have seen it later. */
  private lastRenewOk = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly api: KubeApi,
    private readonly config: LeaseConfig,
    /** The address peers should send heartbeats to, read at each renewal (the Node may appear late). */
    private readonly heartbeatAddress: () => string | undefined,
    private readonly log: Logger,
    /** The node's interface names with carrier, read at each renewal (absent: not published). */
    private readonly interfaces?: () => string[],
    /** The heartbeat keys' fingerprints, read at each renewal (absent: not published). */
    private readonly keys?: () => string,
  ) {}

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.config.namespace}/leases`;
  }

  /**
   * Renewals go over the client's priority connections (kept alive: no TLS handshake per renewal,
   * never queued behind status writes), each bounded by the renew interval.
   */
  private get options(): RequestOptions {
    return { priority: true, timeoutMs: this.config.leaseRenewMs };
  }

  async start(): Promise<void> {
    this.started = true;
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

  /** When apiHealthy turns false unless a renewal succeeds first (a step is due then). */
  apiHealthyUntil(): number {
    return this.lastRenewOk > 0 ? this.lastRenewOk + this.config.leaseRenewMs * 2 + 501 : Infinity;
  }

  /** Stops renewing and deletes the Lease so peers drop this node at once (bounded wait). */
  async release(): Promise<void> {
    clearInterval(this.timer);
    if (!this.started) return;
    await Promise.race([
      this.api
        .request("DELETE", `${this.path}/${leaseName(this.config.nodeName)}`, {
          priority: true,
          timeoutMs: 1000,
        })
        .catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private body(): k8s.V1Lease {
    const now = new Date().toISOString().replace("Z", "000Z"); // MicroTime: microseconds
    return leaseBody(this.config, {
      address: this.heartbeatAddress(),
      interfaces: this.interfaces?.(),
      keys: this.keys?.(),
      renewTime: now,
      acquireTime: this.acquireTime ?? now,
    });
  }

  private async write(): Promise<void> {
    const api = this.api;
    const name = leaseName(this.config.nodeName);
    const put = async () => {
      const body = this.body();
      body.metadata!.resourceVersion = this.resourceVersion;
      return api.request<k8s.V1Lease>("PUT", `${this.path}/${name}`, { ...this.options, body });
    };
    let written: k8s.V1Lease;
    try {
      if (this.resourceVersion === undefined) throw new ApiError(409, "no resourceVersion yet");
      written = await put();
    } catch (err) {
      if (!isConflict(err)) throw err;
      // First renewal, or someone else wrote it: read the current version and try once more.
      try {
        const existing = await api.request<k8s.V1Lease>("GET", `${this.path}/${name}`, this.options);
        this.resourceVersion = existing.metadata?.resourceVersion;
        this.acquireTime = existing.spec?.acquireTime as unknown as string | undefined;
        written = await put();
      } catch (readErr) {
        if (!isNotFound(readErr)) throw readErr;
        this.resourceVersion = undefined;
        this.acquireTime = undefined;
        written = await api.request<k8s.V1Lease>("POST", this.path, { ...this.options, body: this.body() });
      }
    }
    this.resourceVersion = written.metadata?.resourceVersion;
    this.acquireTime = written.spec?.acquireTime as unknown as string | undefined;
  }

  /** Renews (or creates) the Lease, bounded by the renew interval. */
  async renew(): Promise<void> {
    if (!this.started) return;
    const startedAt = performance.now();
    const attempt = this.write();
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
        { event: "leaseRenewFailed", error: errorText(err) },
        "cannot renew node lease; keep serving and failing over through heartbeats",
      );
    }
  }
}
