/**
 * Makes each refusal visible (limits.ts): a log line and a metric on every speaker, and one Warning
 * Event on the Service from one speaker. The model reports a refusal once per change (a new
 * reason, or refused again after being accepted), never per tick or per EndpointSlice event.
 *
 * The Event comes from one speaker, not every one: with hundreds of nodes every refusal would
 * otherwise write hundreds of Events. The poster is the ranking winner for the Service's key among
 * the speakers this one sees alive, decided a few seconds after the refusal (at start-up peers are
 * heard within a round or two; until then each speaker would pick itself).
 */
import type { Logger } from "pino";
import type { ClusterView } from "../election/membership.js";
import { ownerOf } from "../election/ranking.js";
import type { Refusal, RefusalCode } from "./limits.js";

/** How long Events wait before the poster is chosen (and whether the refusal still stands is checked). */
export const EVENT_DELAY_MS = 3000;

/** The speaker that posts the Event for `service`: the same on every speaker that sees the same set. */
export function eventPoster(service: string, alive: Iterable<string>): string | undefined {
  return ownerOf(alive, service);
}

export function aliveMembers(view: ClusterView): string[] {
  return [...view.members.values()].filter((m) => m.alive).map((m) => m.node);
}

export interface RefusalReporterDeps {
  self: string;
  log: Logger;
  /** The refusal counter, by code. */
  count: (code: RefusalCode) => void;
  /** Posts the Warning Event on the Service. */
  postEvent: (service: string, message: string) => void;
  /** Services refused right now and why (the model's): a refusal lifted meanwhile posts nothing. */
  current: () => ReadonlyMap<string, string>;
  /** The speakers this one sees alive, itself included. */
  alive: () => Iterable<string>;
  delayMs?: number;
}

export class RefusalReporter {
  private readonly pending = new Map<string, Refusal>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly d: RefusalReporterDeps) {}

  report(r: Refusal): void {
    this.d.log.warn(
      { event: "serviceRefused", service: r.service, code: r.code, reason: r.reason },
      r.code === "tooManyIPs"
        ? "not announcing some of this Service's IPs"
        : "not announcing this Service's IP",
    );
    this.d.count(r.code);
    this.pending.set(r.service, r);
    this.timer ??= setTimeout(() => this.postEvents(), this.d.delayMs ?? EVENT_DELAY_MS).unref();
  }

  /** Posts the pending Events this speaker is the poster of (the timer calls it). */
  postEvents(): void {
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const alive = new Set(this.d.alive());
    alive.add(this.d.self);
    const current = this.d.current();
    for (const r of this.pending.values()) {
      if (current.get(r.service) !== r.reason) continue;
      if (eventPoster(r.service, alive) === this.d.self) this.d.postEvent(r.service, r.reason);
    }
    this.pending.clear();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}
