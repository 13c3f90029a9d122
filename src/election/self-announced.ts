/**
 * What this node announces, as its heartbeats and views tell it: the IPs, when each was taken (a
 * heartbeat lists those taken within the acquired TTL, or all of them sorted with sticky
 * ownership), their digest and count. Rebuilt only when the set changes: the speaker hands the same
 * set object while its held map is unchanged, and an idle step at thousands of IPs then costs O(1).
 */
import { announcedDigest } from "./heartbeat.js";

export class SelfAnnounced {
  /** IP → when we started announcing it (monotonic ms). */
  private taken = new Map<string, number>();
  private from: ReadonlySet<string> | undefined;
  private newestAt = -Infinity;
  private view: { of: Map<string, number>; ips: ReadonlySet<string> } | undefined;
  private digestOf = announcedDigest([]);
  private sortedOf: string[] = [];

  /** The IPs we answer for now; new ones are dated `now`. */
  set(ips: ReadonlySet<string>, now: number): void {
    if (ips === this.from) return; // the same set as last time: nothing to redo
    this.from = ips;
    const next = new Map<string, number>();
    for (const ip of ips) next.set(ip, this.taken.get(ip) ?? now);
    const changed = next.size !== this.taken.size || [...ips].some((ip) => !this.taken.has(ip));
    if (!changed) return; // the same entries and times: the old map stays
    this.taken = next;
    this.newestAt = -Infinity;
    for (const at of next.values()) if (at > this.newestAt) this.newestAt = at;
    this.digestOf = announcedDigest(next.keys());
    this.sortedOf = [...next.keys()].sort();
  }

  /** IP → when it was taken (the wake policy's deadlines). */
  get times(): ReadonlyMap<string, number> {
    return this.taken;
  }

  get size(): number {
    return this.taken.size;
  }

  get digest(): string {
    return this.digestOf;
  }

  /** Every IP, sorted (sticky ownership lists them all, paged). */
  get sorted(): readonly string[] {
    return this.sortedOf;
  }

  /** The IPs as a set, the same object until they change (views and the planner compare identity). */
  ips(): ReadonlySet<string> {
    if (this.view?.of !== this.taken) this.view = { of: this.taken, ips: new Set(this.taken.keys()) };
    return this.view.ips;
  }

  /** The IPs taken within `ttlMs` of `now` (strict ownership's heartbeat list). */
  acquired(now: number, ttlMs: number): string[] {
    if (now - this.newestAt > ttlMs) return []; // no pass over thousands of IPs per peer per step
    const out: string[] = [];
    for (const [ip, at] of this.taken) if (now - at <= ttlMs) out.push(ip);
    return out;
  }
}
