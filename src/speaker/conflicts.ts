/**
 * Claims of our IPs by other MACs (the announcer hears them), judged a little later: a takeover's
 * gratuitous ARP precedes its heartbeat, and a handover's tail is no conflict. A genuine conflict
 * is re-announced at most once per hold-off, so two stations never start an ARP war.
 */
import type { Conflict } from "../l2/conflict.js";
import type { MemberView } from "../election/membership.js";
import { isGenuineConflict, type Held } from "./reconcile.js";

/** After acting on a conflict for an IP, ignore further claims for it this long (no ARP war). */
const CONFLICT_HOLDOFF_MS = 10_000;

export type JudgedConflict = Conflict & { iface: string; at: number };

export interface ConflictTiming {
  suspectAfterMs: number;
  handoverTimeoutMs: number;
}

export class ConflictJudge {
  private readonly pending = new Map<string, JudgedConflict>();
  /** When each IP's last conflict was acted on: at most one re-announcement per hold-off. */
  private readonly handled = new Map<string, number>();
  /**
   * When we took each IP: the previous owner keeps answering until it sees our heartbeat list the
   * IP (make-before-break), so claims in that window are the handover's tail, not a conflict.
   */
  private readonly acquiredAt = new Map<string, number>();

  constructor(
    private readonly self: string,
    private readonly timing: ConflictTiming,
  ) {}

  /** A claim heard now; the first one per IP counts until judged. */
  claim(conflict: Conflict, iface: string, now: number): void {
    if (!this.pending.has(conflict.ip)) this.pending.set(conflict.ip, { ...conflict, iface, at: now });
  }

  acquired(ip: string, now: number): void {
    this.acquiredAt.set(ip, now);
  }

  released(ip: string): void {
    this.acquiredAt.delete(ip);
  }

  /** When the next pending claim is due for judging (Infinity: none). */
  nextDue(): number {
    let at = Infinity;
    for (const c of this.pending.values()) at = Math.min(at, c.at + this.timing.suspectAfterMs + 1);
    return at;
  }

  /** The claims due by `now` that are genuine conflicts: the caller re-announces and reports them. */
  judge(now: number, held: ReadonlyMap<string, Held>, members: Iterable<MemberView>): JudgedConflict[] {
    const genuine: JudgedConflict[] = [];
    const views = [...members];
    for (const [ip, c] of this.pending) {
      if (now - c.at < this.timing.suspectAfterMs) continue;
      this.pending.delete(ip);
      const last = this.handled.get(ip);
      if (last !== undefined && now - last < CONFLICT_HOLDOFF_MS) continue;
      const took = this.acquiredAt.get(ip);
      if (took !== undefined && c.at - took < this.timing.handoverTimeoutMs + this.timing.suspectAfterMs)
        continue;
      if (!isGenuineConflict(ip, this.self, held, views.values())) continue;
      this.handled.set(ip, now);
      genuine.push(c);
    }
    return genuine;
  }
}
