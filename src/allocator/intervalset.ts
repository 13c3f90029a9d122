// A set of bigints stored as sorted, disjoint, non-adjacent closed intervals. Used IPs cluster (first-fit
// allocation fills from the bottom), so this stays tiny even with 10,000 addresses in use, and "next
// free address at or after x" is one binary search instead of a walk over every used address.

export class IntervalSet {
  private readonly starts: bigint[] = [];
  private readonly ends: bigint[] = [];
  private count = 0n;

  /** Number of members. */
  get size(): bigint {
    return this.count;
  }

  /** Number of stored intervals (for tests and diagnostics). */
  get intervalCount(): number {
    return this.starts.length;
  }

  /** Index of the last interval whose start is <= x, or -1. */
  private indexAtOrBefore(x: bigint): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= x) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  has(x: bigint): boolean {
    const i = this.indexAtOrBefore(x);
    return i >= 0 && this.ends[i]! >= x;
  }

  add(x: bigint): void {
    const i = this.indexAtOrBefore(x);
    if (i >= 0 && this.ends[i]! >= x) return;
    const joinsLeft = i >= 0 && this.ends[i]! === x - 1n;
    const joinsRight = i + 1 < this.starts.length && this.starts[i + 1]! === x + 1n;
    if (joinsLeft && joinsRight) {
      this.ends[i] = this.ends[i + 1]!;
      this.starts.splice(i + 1, 1);
      this.ends.splice(i + 1, 1);
    } else if (joinsLeft) {
      this.ends[i] = x;
    } else if (joinsRight) {
      this.starts[i + 1] = x;
    } else {
      this.starts.splice(i + 1, 0, x);
      this.ends.splice(i + 1, 0, x);
    }
    this.count += 1n;
  }

  delete(x: bigint): void {
    const i = this.indexAtOrBefore(x);
    if (i < 0 || this.ends[i]! < x) return;
    const s = this.starts[i]!;
    const e = this.ends[i]!;
    if (s === e) {
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    } else if (x === s) {
      this.starts[i] = x + 1n;
    } else if (x === e) {
      this.ends[i] = x - 1n;
    } else {
      this.ends[i] = x - 1n;
      this.starts.splice(i + 1, 0, x + 1n);
      this.ends.splice(i + 1, 0, e);
    }
    this.count -= 1n;
  }

  /** Smallest y >= x that is not a member. Intervals are merged, so one step suffices. */
  nextAbsent(x: bigint): bigint {
    const i = this.indexAtOrBefore(x);
    return i >= 0 && this.ends[i]! >= x ? this.ends[i]! + 1n : x;
  }

  /** Members in [lo, hi], counted without enumerating. */
  countIn(lo: bigint, hi: bigint): bigint {
    let n = 0n;
    for (let i = Math.max(0, this.indexAtOrBefore(lo)); i < this.starts.length; i++) {
      const s = this.starts[i]!;
      if (s > hi) break;
      const e = this.ends[i]!;
      const a = s > lo ? s : lo;
      const b = e < hi ? e : hi;
      if (a <= b) n += b - a + 1n;
    }
    return n;
  }
}
