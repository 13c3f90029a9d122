/**
 * What a step writes about its effects: the logs, metrics, ServiceL2Status and Events. The step
 * itself only answers (or stops answering) and arms the heartbeat pump; this runs after it, in
 * chunks between steps. A takeover of thousands of IPs then tells clients and peers first, and
 * no step holds the event loop long enough to trip the pump's watchdog (2 s): at 5,000 Services
 * a take-all step spent 0.6-1.7 s writing about what it had already done.
 * Order is kept: effects are written in the order the steps made them.
 */
import type { Logger } from "pino";
import type { ClusterView } from "../election/membership.js";
import { failoverMs, type SpeakerMetrics } from "./metrics.js";
import type { Effect } from "./reconcile.js";
import type { StatusWriter } from "./status.js";
import type { WithdrawReason } from "./withdraw.js";

/** Effects written per turn of the event loop: about 5-10 ms of work. */
const CHUNK = 100;

/** What a step's effects are written with: taken once per step, not per effect. */
export interface BookkeepingContext {
  view: ClusterView;
  now: number;
  /** The Services sharing each Service's IP (status goes to every one). */
  members: ReadonlyMap<string, readonly string[]>;
  /** Nodes whose speakers are alive in `view`. */
  live: ReadonlySet<string>;
  /** The view of the step before (who announced an IP before it moved: the failover metric). */
  previous: ClusterView | undefined;
  /** When each member not alive in `view` was last heard, as of the step (monotonic ms). */
  lastHeard: ReadonlyMap<string, number | undefined>;
}

export interface BookkeepingDeps {
  nodeName: string;
  log: Logger;
  metrics: SpeakerMetrics;
  status: StatusWriter;
}

export class Bookkeeping {
  private readonly pending: { effect: Effect; ctx: BookkeepingContext }[] = [];
  private next = 0;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly deps: BookkeepingDeps) {
    // How far behind the writing is (thousands after a start at scale), read at each scrape.
    deps.metrics.onScrape(() => {
      const { status, events } = deps.status.pending;
      deps.metrics.writesPending.set({ kind: "effects" }, this.backlog);
      deps.metrics.writesPending.set({ kind: "status" }, status);
      deps.metrics.writesPending.set({ kind: "events" }, events);
    });
  }

  /** Effects recorded and not written yet. */
  get backlog(): number {
    return this.pending.length - this.next;
  }

  /** Writes about these effects soon, after what earlier steps left. */
  record(effects: readonly Effect[], ctx: BookkeepingContext): void {
    for (const effect of effects) this.pending.push({ effect, ctx });
    if (this.backlog > 0) this.scheduled ??= setImmediate(() => this.run());
  }

  /** A withdrawal outside a step (shutdown): written at once, after the backlog. */
  withdrawn(ip: string, service: string, reason: WithdrawReason): void {
    this.flush();
    this.writeWithdrawn(ip, service, reason);
  }

  /** Writes everything still pending now (shutdown). */
  flush(): void {
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.runUpTo(Infinity);
  }

  private run(): void {
    this.scheduled = undefined;
    this.runUpTo(CHUNK);
    if (this.backlog > 0) this.scheduled = setImmediate(() => this.run());
  }

  private runUpTo(count: number): void {
    const end = Math.min(this.pending.length, this.next + count);
    while (this.next < end) {
      const { effect, ctx } = this.pending[this.next]!;
      this.next++;
      try {
        this.write(effect, ctx);
      } catch (err) {
        // A bug here must not stop the rest (or the next steps): said once per effect.
        this.deps.log.error(
          { event: "bookkeepingFailed", effect: effect.kind, error: String(err) },
          "cannot record an effect",
        );
      }
    }
    if (this.next === this.pending.length || this.next > 4096) {
      this.pending.splice(0, this.next);
      this.next = 0;
    }
  }

  private write(effect: Effect, { view, previous, now, members, live, lastHeard }: BookkeepingContext): void {
    const { nodeName: node, log, metrics, status } = this.deps;
    switch (effect.kind) {
      case "announce": {
        if (!effect.took) return;
        metrics.ownershipChanges.inc({ change: "announce", reason: effect.took });
        metrics.announced.set({ service: effect.service, protocol: "layer2", node, ip: effect.ip }, 1);
        for (const ms of failoverMs(effect.ip, node, previous, view, now, (peer) => lastHeard.get(peer)))
          metrics.failoverSeconds.observe(ms / 1000);
        return;
      }
      case "handover":
        log.info(
          { event: "handoverStarted", ip: effect.ip, service: effect.service, to: effect.to },
          "successor chosen; answering until it announces",
        );
        return;
      case "withdraw":
        this.writeWithdrawn(effect.ip, effect.service, effect.reason);
        return;
      case "status": {
        const a = effect.announced;
        // A shared IP's entry stands for every Service using the IP: each gets its status.
        const services = members.get(effect.service) ?? [effect.service];
        if (!a) {
          for (const service of services) status.withdrawn(service, effect.service);
          return;
        }
        log.info(
          {
            event: "serviceAnnounced",
            ips: a.ips,
            pool: a.pool,
            protocol: "layer2",
            service: effect.service,
            node,
            interfaces: a.interfaces,
          },
          "service has IP, announcing",
        );
        const dead = live.size < view.members.size;
        for (const service of services)
          status.announced(service, a.interfaces, a.ips, live, dead, effect.service);
        return;
      }
    }
  }

  private writeWithdrawn(ip: string, service: string, reason: WithdrawReason): void {
    const { nodeName: node, log, metrics } = this.deps;
    metrics.ownershipChanges.inc({ change: "withdraw", reason });
    metrics.announced.remove({ service, protocol: "layer2", node, ip });
    log.info({ event: "serviceWithdrawn", ip, service, reason, node }, "withdrawing service announcement");
  }
}
