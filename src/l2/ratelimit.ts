// Limits of the ARP/NDP answering path: token buckets per source MAC, and one for all sources together
// (a flood from random source MACs). The buckets themselves run in the raw-socket addon
// (native/src/replylimiter.h), before a frame reaches JS.

export interface ReplyLimits {
  /** Frames per second one source MAC may have answered (or checked for conflicts), sustained. */
  perSourcePerSecond: number;
  /** Frames one source may have handled at once (a client resolving several IPs). */
  perSourceBurst: number;
  /** Frames per second for all sources together. */
  totalPerSecond: number;
  totalBurst: number;
  /** Sources tracked at once; the oldest is forgotten first (bounds memory under spoofed MACs). */
  maxSources: number;
}

/** Far above what clients need (a Linux neighbour entry asks at most about once a second). */
export const DEFAULT_REPLY_LIMITS: ReplyLimits = {
  perSourcePerSecond: 20,
  perSourceBurst: 40,
  totalPerSecond: 5000,
  totalBurst: 5000,
  maxSources: 10_000,
};
