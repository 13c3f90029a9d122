/**
 * A keyed work queue in the style of client-go's: a key is queued at most once, never processed by two
 * workers at the same time, and re-queued if it changes while being processed. Failed keys come back
 * after a per-key exponential backoff. At most `concurrency` handlers run at once, which bounds the
 * number of API writes in flight.
 */

export interface WorkQueueOptions {
  concurrency: number;
  handler: (key: string) => Promise<void>;
  /** Called when a handler throws; the key is retried after the returned delay. */
  onError?: (key: string, err: unknown, attempt: number) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Delay override for an error (e.g. a server-sent Retry-After). */
  delayFor?: (err: unknown) => number | undefined;
}

export class WorkQueue {
  /** Insertion-ordered: a Set doubles as a FIFO with de-duplication. */
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Keys added while active; processed again once their current run finishes. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly o: WorkQueueOptions) {}

  get length(): number {
    return this.queued.size + this.dirty.size;
  }

  get activeCount(): number {
    return this.active.size;
  }

  get pendingRetries(): number {
    return this.timers.size;
  }

  add(key: string): void {
    const t = this.timers.get(key);
    if (t) {
      clearTimeout(t);
      this.timers.delete(key);
    }
    if (this.active.has(key)) this.dirty.add(key);
    else this.queued.add(key);
    this.pump();
  }

  addAfter(key: string, ms: number): void {
    if (this.timers.has(key) || this.queued.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.timers.set(key, timer);
  }

  /** Starts (or resumes) dispatching. */
  start(): void {
    this.running = true;
    this.pump();
  }

  /** Stops dispatching new work; running handlers finish. Resolves when none are running. */
  async pause(): Promise<void> {
    this.running = false;
    await Promise.allSettled([...this.inflight]);
  }

  /** Forgets every queued key, retry and failure count (used when leadership is lost). */
  clear(): void {
    this.queued.clear();
    this.dirty.clear();
    this.failures.clear();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Resolves when nothing is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return (
      this.queued.size === 0 && this.active.size === 0 && this.dirty.size === 0 && this.timers.size === 0
    );
  }

  private pump(): void {
    while (this.running && this.active.size < this.o.concurrency && this.queued.size > 0) {
      const key = this.queued.values().next().value as string;
      this.queued.delete(key);
      this.active.add(key);
      const p = this.process(key);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
    if (this.isIdle()) {
      const waiters = this.idleWaiters.splice(0);
      for (const w of waiters) w();
    }
  }

  private async process(key: string): Promise<void> {
    try {
      await this.o.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.o.onError?.(key, err, attempt);
      const base = this.o.baseDelayMs ?? 50;
      const delay =
        this.o.delayFor?.(err) ??
        Math.min(base * 2 ** Math.min(attempt - 1, 16), this.o.maxDelayMs ?? 30_000);
      if (!this.dirty.has(key)) {
        this.active.delete(key);
        this.addAfter(key, delay);
        this.pump();
        return;
      }
    }
    this.active.delete(key);
    if (this.dirty.delete(key)) this.queued.add(key);
    this.pump();
  }
}
