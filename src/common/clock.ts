/**
 * The one clock for instants that are measured against each other (a fault, a probe, a new
 * announcement) and for deadlines: monotonic, so an NTP step or a suspended VM never stretches
 * or cuts a measurement, but on the epoch scale (the wall clock at process start plus the
 * monotonic time since), so an instant still reads as a time for display and lines up with the
 * probes' timestamps. Comparisons with timestamps written by others (a Lease's renewTime) need
 * the wall clock, Date.now(), and say so where they use it.
 */
export function monotonicNow(): number {
  return Math.round(preciseMonotonicNow()); // whole milliseconds, as Date.now() gave: messages print it
}

/** The same clock with sub-millisecond precision: the probes' timestamps and latencies. */
export function preciseMonotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The wall clock, for comparing with timestamps others wrote from theirs (a Lease's renewTime, an
 * HTTP-date Retry-After) and for timestamps floatip writes into objects. Never for a duration.
 */
export function wallNow(): number {
  return Date.now();
}
