/**
 * Leader election on a coordination.k8s.io/v1 Lease. Every write is a compare-and-swap on the Lease's
 * resourceVersion, so two candidates can never both believe they took it. A leader stops acting as one
 * `renewDeadlineMs` after its last successful renewal (measured from when that renewal was *sent*);
 * the others take over only `leaseDurationMs` after they last saw the Lease change. The gap between
 * the two (5 s by default) covers writes still in flight when the old leader stops.
 */
import type { Logger } from "pino";
import type { KubeApi } from "./api.js";
import { errorText, isAlreadyExists, isConflict, isNotFound } from "./errors.js";
import {
  decideLease,
  observe,
  stillLeading,
  type LeaseObservation,
  type LeaseState,
  type LeaseTimings,
} from "./leader.js";

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface ElectorOptions {
  namespace: string;
  name: string;
  identity: string;
  timings: LeaseTimings;
  log: Logger;
  /** `acquiredAt`: monotonic time (performance.now()) by which the Lease was ours. */
  onStartedLeading: (acquiredAt: number) => void;
  onStoppedLeading: (reason: string) => void;
  /** Monotonic clock, injectable for tests. */
  now?: () => number;
}

/** metav1.MicroTime wants six fractional digits. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private leading = false;
  private lastRenewAt: number | undefined;
  private observation: LeaseObservation | undefined;
  /** The Lease as our last successful write left it (lets renewals skip the GET). */
  private mine: Lease | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private ticking: Promise<void> | undefined;
  private lastWaitLog = "";
  private readonly now: () => number;
  private readonly path: string;

  constructor(
    private readonly api: KubeApi,
    private readonly o: ElectorOptions,
  ) {
    this.now = o.now ?? (() => performance.now());
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases`;
  }

  /** True only while leading and the last renewal is within the renew deadline. */
  isLeader(): boolean {
    return this.leading && stillLeading(this.lastRenewAt, this.now(), this.o.timings);
  }

  /** Starts campaigning; resolves after the first attempt (won or not). */
  start(): Promise<void> {
    this.stopped = false;
    const loop = (): void => {
      if (this.stopped) return;
      this.ticking = this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.o.timings.retryPeriodMs);
      });
    };
    loop();
    return this.ticking ?? Promise.resolve();
  }

  /** Stops campaigning; a leader hands the Lease back at once so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    if (this.leading) {
      this.lose("stopping");
      await this.release();
    }
  }

  private async tick(): Promise<void> {
    const sentAt = this.now();
    try {
      if (this.leading && this.mine) {
        // Fast path: renew straight from our last write; a conflict falls back to a fresh read.
        try {
          await this.write(this.renewed(this.mine), sentAt);
          return;
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
      }
      const lease = await this.read();
      // Expiry counts from when we saw this version, i.e. after the read: never earlier than it was.
      const readAt = this.now();
      const state: LeaseState | undefined = lease && {
        holder: lease.spec?.holderIdentity || undefined,
        durationSeconds: lease.spec?.leaseDurationSeconds,
        resourceVersion: lease.metadata.resourceVersion ?? "",
      };
      this.observation = observe(state, this.observation, readAt);
      const action = decideLease(state, this.observation, this.o.identity, readAt, this.o.timings);
      if (action.kind === "wait") {
        if (this.leading) this.lose(`lease taken by ${action.holder}`);
        const msg = `${action.holder}`;
        if (msg !== this.lastWaitLog) {
          this.lastWaitLog = msg;
          this.o.log.info(
            { event: "leaderElection", leader: action.holder, identity: this.o.identity },
            "another controller is leader; standing by",
          );
        }
        return;
      }
      if (action.kind === "create") await this.create(sentAt);
      else if (action.kind === "renew" && lease) await this.write(this.renewed(lease), sentAt);
      else if (action.kind === "acquire" && lease) {
        const spec = lease.spec ?? {};
        const body: Lease = {
          ...lease,
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: this.o.timings.leaseDurationMs / 1000,
            acquireTime: microTime(),
            renewTime: microTime(),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (spec.holderIdentity ? 1 : 0),
          },
        };
        await this.write(body, sentAt);
        this.o.log.info(
          { event: "leaseAcquired", identity: this.o.identity, why: action.why },
          "acquired controller lease",
        );
      }
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) {
        this.mine = undefined; // someone else wrote first; re-read next time
      } else {
        this.o.log.warn(
          { event: "leaseError", identity: this.o.identity, error: errorText(err) },
          "cannot read or renew the controller lease",
        );
      }
    } finally {
      if (this.leading && !stillLeading(this.lastRenewAt, this.now(), this.o.timings)) {
        this.lose("renew deadline passed");
      }
    }
  }

  private renewed(lease: Lease): Lease {
    return {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.o.timings.leaseDurationMs / 1000,
        renewTime: microTime(),
      },
    };
  }

  private async read(): Promise<Lease | undefined> {
    try {
      return await this.api.request<Lease>("GET", `${this.path}/${this.o.name}`, this.reqOptions());
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private reqOptions(): { priority: true; timeoutMs: number } {
    return { priority: true, timeoutMs: Math.max(1000, this.o.timings.retryPeriodMs) };
  }

  private async create(sentAt: number): Promise<void> {
    const body: Lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.o.name, namespace: this.o.namespace },
      spec: {
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.o.timings.leaseDurationMs / 1000,
        acquireTime: microTime(),
        renewTime: microTime(),
        leaseTransitions: 0,
      },
    };
    const created = await this.api.request<Lease>("POST", this.path, { ...this.reqOptions(), body });
    this.won(created, sentAt);
    this.o.log.info(
      { event: "leaseAcquired", identity: this.o.identity, why: "created" },
      "created controller lease",
    );
  }

  /** PUT carries metadata.resourceVersion: the API server rejects it (409) if anyone wrote in between. */
  private async write(body: Lease, sentAt: number): Promise<void> {
    const saved = await this.api.request<Lease>("PUT", `${this.path}/${this.o.name}`, {
      ...this.reqOptions(),
      body,
    });
    this.won(saved, sentAt);
  }

  private won(lease: Lease, sentAt: number): void {
    // isLeader() has been false since the renew deadline passed, and callers acted on it (the
    // controller drops a takeover or a write that sees it): a late renewal must not quietly resume
    // that term. It ends here and, if this renewal is in time, a new one starts with its callback.
    const now = this.now();
    if (this.leading && !stillLeading(this.lastRenewAt, now, this.o.timings)) {
      this.lose("renew deadline passed");
    }
    this.mine = lease;
    this.lastRenewAt = sentAt;
    this.observation = { resourceVersion: lease.metadata.resourceVersion ?? "", observedAt: sentAt };
    this.lastWaitLog = "";
    // A write slower than the renew deadline holds the Lease but may not lead: the next one will.
    if (!this.leading && stillLeading(sentAt, now, this.o.timings)) {
      this.leading = true;
      this.o.log.info({ event: "startedLeading", identity: this.o.identity }, "became leader");
      // Anything the previous leader wrote happened before this moment; a list started later sees it.
      this.o.onStartedLeading(this.now());
    }
  }

  private lose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.mine = undefined;
    this.o.log.warn({ event: "stoppedLeading", identity: this.o.identity, reason }, "no longer leader");
    this.o.onStoppedLeading(reason);
  }

  private async release(): Promise<void> {
    const lease = await this.read().catch(() => undefined);
    if (!lease || lease.spec?.holderIdentity !== this.o.identity) return;
    const body: Lease = {
      ...lease,
      spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: microTime() },
    };
    try {
      await this.api.request("PUT", `${this.path}/${this.o.name}`, { ...this.reqOptions(), body });
      this.o.log.info({ event: "leaseReleased", identity: this.o.identity }, "released controller lease");
    } catch (err) {
      this.o.log.warn({ event: "leaseReleaseFailed", error: errorText(err) }, "could not release the lease");
    }
  }
}
