/**
 * Where a step's time goes: the step marks the end of each phase, and the durations go to a
 * histogram per phase. A step slower than a threshold is also reported whole, so a slow takeover
 * step at scale says which phase it spent its time in (one line, not one per phase).
 */
export type StepPhase =
  | "drain"
  | "inputs"
  | "membership"
  | "plan"
  | "reconcile"
  | "forward"
  | "effects"
  | "fence"
  | "heartbeats"
  | "wake";

export class StepPhases {
  private last = 0;
  private readonly spent = new Map<StepPhase, number>();

  /** `now` is a monotonic clock in milliseconds (performance.now in the speaker, a fake in tests). */
  constructor(private readonly now: () => number) {}

  begin(): void {
    this.spent.clear();
    this.last = this.now();
  }

  /** The phase that just ended (a phase marked twice in one step adds up). */
  mark(phase: StepPhase): void {
    const t = this.now();
    this.spent.set(phase, (this.spent.get(phase) ?? 0) + (t - this.last));
    this.last = t;
  }

  /** Milliseconds per phase since `begin`, rounded to 0.01 ms, phases in the order first marked. */
  result(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [phase, ms] of this.spent) out[phase] = Math.round(ms * 100) / 100;
    return out;
  }

  entries(): IterableIterator<[StepPhase, number]> {
    return this.spent.entries();
  }
}

/** A step this slow is logged with its phases (`slowStep`): a takeover at scale, a GC pause. */
export const SLOW_STEP_MS = 100;

interface PhaseHistogram {
  observe(labels: { phase: string }, seconds: number): void;
}
interface WarnLog {
  warn(fields: object, message: string): void;
}

/**
 * The step's phases into the histogram; a slow step also into the log, with `context` and how long
 * the thread waited for a CPU meanwhile (`waitedMs`, NaN where unknown: cpu-wait.ts), so a slow
 * takeover at scale says whether it was the speaker's work or the node's other work.
 */
export function reportStep(
  phases: StepPhases,
  histogram: PhaseHistogram,
  log: WarnLog,
  context: object,
  waitedMs = Number.NaN,
): void {
  let total = 0;
  for (const [phase, ms] of phases.entries()) {
    histogram.observe({ phase }, ms / 1000);
    total += ms;
  }
  if (total < SLOW_STEP_MS) return;
  log.warn(
    {
      event: "slowStep",
      ms: Math.round(total),
      ...(waitedMs >= 0 ? { cpuWaitMs: Math.round(waitedMs * 10) / 10 } : {}),
      phases: phases.result(),
      ...context,
    },
    "a speaker step took long; phases in milliseconds",
  );
}
