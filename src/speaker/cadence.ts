/**
 * When the speaker steps. All-to-all (the default): on each wake of the heartbeat pump (its thread
 * sends every round; wake.ts decides when a step is due) and, at most once per interval, after an
 * input event. Sparse fan-out (manual): every interval, since each round's recipients change and
 * the speaker sends the round itself. Either way a step first drains what the pump sent and heard.
 */
import { setPriority } from "node:os";
import type { Logger } from "pino";

export interface CadenceOptions {
  intervalMs: number;
  suspectAfterMs: number;
  /** The speaker sends every round itself (sparse fan-out): a timer, not the pump, paces the steps. */
  manual: boolean;
  now: () => number;
  /** Hands membership what the pump sent and heard, telling `stalled` first how long the process stood still (ms). */
  drain: (stalled: (stalledMs: number) => void) => void;
  /** One step; in automatic mode returns when the pump will wake us next. */
  step: (now: number) => number;
  /**
   * How long a step took, drain included (milliseconds of the monotonic clock), and how much of
   * that its thread waited for a CPU (NaN without `waited`).
   */
  took: (ms: number, waitedMs: number) => void;
  /** The thread's time spent waiting for a CPU so far, in ms (cpu-wait.ts); none: not measured. */
  waited?: () => number;
  /** The process or its event loop stood still this long: peers may have written us off. */
  stalled: (now: number, lagMs: number) => void;
  log: Logger;
}

export class StepCadence {
  private timer: NodeJS.Timeout | undefined;
  /** A step requested by an input event: at most one per heartbeat interval. */
  private soon: NodeJS.Timeout | undefined;
  private running = false;
  private lastStepAt = -Infinity;
  /** When the pump was asked to wake us (automatic mode), for the lag metric. */
  private wakeAt = Infinity;
  private maxLag = 0;
  /** Wakes in a row within a millisecond of the previous step (a wake loop guard). */
  private atOnce = 0;

  constructor(private readonly o: CadenceOptions) {}

  start(): void {
    this.running = true;
    this.lastStepAt = this.o.now();
    if (this.o.manual) this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    else this.wake();
  }

  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }

  /** The pump woke us (automatic mode). */
  wake(): void {
    if (!this.running || this.o.manual) return;
    clearTimeout(this.soon);
    this.soon = undefined;
    // A trigger already due when armed would wake us at once, forever: after 20 wakes within a
    // millisecond of each other, step at most once per interval until it settles.
    this.atOnce = this.o.now() - this.lastStepAt < 1 ? this.atOnce + 1 : 0;
    if (this.atOnce > 20) {
      if (this.atOnce === 21)
        this.o.log.error({ event: "wakeLoop" }, "the heartbeat pump wakes the speaker in a loop");
      this.soon = setTimeout(() => this.wake(), this.o.intervalMs);
      return;
    }
    this.run((now) => {
      // Late answering the pump (the loop's lag), or the whole process stood still.
      if (now > this.wakeAt) this.maxLag = Math.max(this.maxLag, now - this.wakeAt);
      return 0;
    });
  }

  /** An input changed (a watch event, a Lease, a claim heard): step soon. */
  requestStep(): void {
    if (!this.running || this.o.manual || this.soon) return;
    const due = this.lastStepAt + this.o.intervalMs - this.o.now();
    this.soon = setTimeout(() => this.wake(), Math.max(0, due));
  }

  /** Sparse fan-out: every interval; a late timer is our own stall. */
  private tick(): void {
    if (!this.running) return;
    this.run((now) => {
      const lag = now - this.lastStepAt - this.o.intervalMs;
      this.maxLag = Math.max(this.maxLag, lag);
      return lag;
    });
  }

  private run(lagOf: (now: number) => number): void {
    try {
      const now = this.o.now();
      const waitedBefore = this.o.waited?.() ?? Number.NaN;
      // Noted before the datagrams that queued up meanwhile count: the silence was ours.
      this.o.drain((stalledMs) => {
        const lag = Math.max(lagOf(now), stalledMs);
        if (lag + this.o.intervalMs < this.o.suspectAfterMs) return;
        // Frozen or starved: peers may have taken our IPs. Their next heartbeats tell.
        this.o.stalled(now, lag);
        this.o.log.warn(
          { event: "speakerStalled", lagMs: lag, cause: this.o.manual ? "event loop" : "process" },
          "stalled; checking whether peers wrote this node off",
        );
      });
      this.lastStepAt = now;
      this.wakeAt = this.o.step(now);
      this.o.took(this.o.now() - now, (this.o.waited?.() ?? Number.NaN) - waitedBefore);
    } catch (err) {
      this.o.log.error(
        { event: "tickFailed", error: err instanceof Error ? err.stack : String(err) },
        "speaker step failed",
      );
    }
  }

  /** The longest lag since the last call (the metric, read at each scrape). */
  takeMaxLag(): number {
    const lag = this.maxLag;
    this.maxLag = 0;
    return lag;
  }

  /** A step ran recently (/healthz). */
  healthy(now: number): boolean {
    return !this.running || now - this.lastStepAt < 2000;
  }
}

/** Like keepalived's vrrp_priority: a starved speaker steps late, a slow or spurious failover. */
export function raisePriority(nice: number, log: Pick<Logger, "warn">): void {
  try {
    setPriority(0, nice);
  } catch (err) {
    log.warn(
      { event: "priorityNotRaised", nice, error: String(err) },
      "cannot raise scheduling priority (needs CAP_SYS_NICE)",
    );
  }
}
