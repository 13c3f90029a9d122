// Token buckets for the ARP/NDP answering path: per source MAC, and one for all sources together
// (a flood from random source MACs). Pure: the caller passes a monotonic `now` in milliseconds.

export interface ReplyLimits {
  /** Replies per second one source MAC may get, sustained. */
  perSourcePerSecond: number;
  /** Replies one source may get at once (a client resolving several IPs). */
  perSourceBurst: number;
  /** Replies per second for all sources together. */
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

interface Bucket {
  tokens: number;
  at: number;
}

function take(bucket: Bucket, ratePerSecond: number, burst: number, now: number): boolean {
  const elapsed = Math.max(0, now - bucket.at);
  bucket.tokens = Math.min(burst, bucket.tokens + (elapsed * ratePerSecond) / 1000);
  bucket.at = Math.max(bucket.at, now);
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

export class ReplyRateLimiter {
  private readonly sources = new Map<number, Bucket>();
  private readonly total: Bucket;

  constructor(private readonly limits: ReplyLimits = DEFAULT_REPLY_LIMITS) {
    this.total = { tokens: limits.totalBurst, at: -Infinity };
  }

  /** Whether a reply to `source` (a MAC as a 48-bit number, see macKey) may go out at `now`. */
  allow(source: number, now: number): boolean {
    let bucket = this.sources.get(source);
    if (!bucket) {
      if (this.sources.size >= this.limits.maxSources) {
        const oldest = this.sources.keys().next().value;
        if (oldest !== undefined) this.sources.delete(oldest);
      }
      bucket = { tokens: this.limits.perSourceBurst, at: now };
      this.sources.set(source, bucket);
    }
    // The per-source bucket first: one noisy source must not use up everyone's share.
    if (!take(bucket, this.limits.perSourcePerSecond, this.limits.perSourceBurst, now)) return false;
    return take(this.total, this.limits.totalPerSecond, this.limits.totalBurst, now);
  }

  /** Sources tracked now (for tests and metrics). */
  get trackedSources(): number {
    return this.sources.size;
  }
}

/** The Ethernet source MAC of a frame as a number (no allocation), or -1 for a runt frame. */
export function sourceMacKey(frame: Uint8Array): number {
  if (frame.length < 12) return -1;
  return (
    frame[6]! * 2 ** 40 +
    frame[7]! * 2 ** 32 +
    ((frame[8]! << 24) >>> 0) +
    (frame[9]! << 16) +
    (frame[10]! << 8) +
    frame[11]!
  );
}
