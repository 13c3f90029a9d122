/**
 * How long this thread has been runnable but waiting for a CPU (Linux schedstat's run_delay). A
 * step's duration minus the wait during it is the speaker's own time; the wait is the node's CPU
 * contention (in the 2-CPU lab, most of the step's tail: bench/README.md). Read through a
 * descriptor opened once, a pread per reading (a few µs).
 */
import { closeSync, openSync, readSync } from "node:fs";

/** Plain functions, not methods: `waitedMs` is handed around on its own (cadence.ts). */
export interface CpuWaitClock {
  /** Milliseconds the opening thread has waited for a CPU since it started; NaN if unreadable. */
  readonly waitedMs: () => number;
  readonly close: () => void;
}

/** The second field of a schedstat line ("<on-CPU ns> <waiting ns> <time slices>"), in ms; NaN if malformed. */
export function parseRunDelayMs(text: string): number {
  const field = /^\d+ (\d+) \d+\s*$/.exec(text)?.[1];
  return field === undefined ? Number.NaN : Number(field) / 1e6;
}

/**
 * Opens the calling thread's schedstat (`/proc/thread-self` names the thread that opens it: call
 * it on the thread whose waits count). Undefined where the kernel keeps none (no procfs, no
 * CONFIG_SCHED_INFO): steps are then timed by the clock alone.
 */
export function openCpuWaitClock(path = "/proc/thread-self/schedstat"): CpuWaitClock | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  const buf = Buffer.alloc(128);
  const clock: CpuWaitClock = {
    waitedMs: () => {
      try {
        return parseRunDelayMs(buf.toString("latin1", 0, readSync(fd, buf, 0, buf.length, 0)));
      } catch {
        return Number.NaN;
      }
    },
    close: () => closeSync(fd),
  };
  if (Number.isNaN(clock.waitedMs())) {
    clock.close();
    return undefined;
  }
  return clock;
}
