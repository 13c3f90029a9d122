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
  private waitedAtBegin = Number.NaN;
  private readonly spent = new Map<StepPhase, number>();

  /**
   * `now` is a monotonic clock in milliseconds (performance.now in the speaker, a fake in tests);
   * `waited`, when given, the thread's total wait for a CPU (cpu-wait.ts): a slow step then says
   * how much of it the node's other work took.
   */
  constructor(
    private readonly now: () => number,
    private readonly waited?: () => number,
  ) {}

  begin(): void {
    this.spent.clear();
    this.last = this.now();
    this.waitedAtBegin = this.waited?.() ?? Number.NaN;
  }

  /** Milliseconds this thread waited for a CPU since `begin` (0.1 ms), or undefined where unknown. */
  cpuWaitMs(): number | undefined {
    const ms = (this.waited?.() ?? Number.NaN) - this.waitedAtBegin;
    return ms >= 0 ? Math.round(ms * 10) / 10 : undefined;
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

/** The step's phases into the histogram; a slow step also into the log, with `context`. */
export function reportStep(
  phases: StepPhases,
  histogram: PhaseHistogram,
  log: WarnLog,
  context: object,
): void {
  let total = 0;
  for (const [phase, ms] of phases.entries()) {
    histogram.observe({ phase }, ms / 1000);
    total += ms;
  }
  if (total < SLOW_STEP_MS) return;
  const cpuWaitMs = phases.cpuWaitMs();
  log.warn(
    {
      event: "slowStep",
      ms: Math.round(total),
      ...(cpuWaitMs !== undefined ? { cpuWaitMs } : {}),
      phases: phases.result(),
      ...context,
    },
    "a speaker step took long; phases in milliseconds",
  );
}
