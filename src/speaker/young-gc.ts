/**
 * A young-generation collection between steps, when the young generation is half full, so that
 * none falls inside a step: the step then starts with room for far more than it allocates. V8
 * otherwise scavenges whenever an allocation finds the young generation full, inside a step as
 * often as anywhere (the chart caps it at 2 MB for the idle RSS; bench/README.md, "Idle speaker").
 * Measured in the idle lab: bench/README.md, "Garbage collection between steps".
 *
 * The collector is V8's `gc` function, which Node exposes only under --expose-gc: the flag is set
 * here, then a new context (which V8 gives the function) hands it over. Where that fails the
 * speaker steps as before and V8 collects when it must.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Gc = (options: { type: "minor" }) => void;

/** Collects now whether `room` (bytes still free) is under half of `capacity`: a pure rule. */
export function wantsCollection(young: { used: number; available: number }): boolean {
  return young.available < (young.used + young.available) / 2;
}

/** The young generation's use as V8 reports it (~1 µs). */
function youngSpace(): { used: number; available: number } | undefined {
  for (const space of getHeapSpaceStatistics())
    if (space.space_name === "new_space")
      return { used: space.space_used_size, available: space.space_available_size };
  return undefined;
}

/**
 * Returns the between-steps collector: call it after each step; it collects when the young
 * generation is half full and says whether it did. Undefined where V8 will not hand over `gc`.
 */
export function openYoungCollector(): (() => boolean) | undefined {
  let gc: unknown;
  try {
    if (typeof globalThis.gc === "function") gc = globalThis.gc;
    else {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc");
    }
  } catch {
    return undefined;
  }
  if (typeof gc !== "function" || !youngSpace()) return undefined;
  const collect = gc as Gc;
  return () => {
    const young = youngSpace();
    if (!young || !wantsCollection(young)) return false;
    collect({ type: "minor" });
    return true;
  };
}
