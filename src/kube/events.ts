/**
 * Kubernetes Events (core/v1), written in the background so they never hold up an allocation. Like
 * client-go's recorder, a repeat of the same event on the same object within ten minutes bumps the
 * existing Event's count instead of creating another one. Best effort: a few retries, then dropped.
 */
import type { Logger } from "pino";
import type { KubeApi } from "./api.js";
import { errorCode, errorText, isNotFound } from "./errors.js";
import { wallNow } from "../common/clock.js";

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export interface RecorderOptions {
  /** source.component (kubectl's "From"), e.g. floatip-controller. */
  component: string;
  /** reportingInstance: the process or node writing. */
  instance: string;
  /** source.host: the node the event comes from (the speaker's). */
  host?: string;
  /** reportingComponent, when it differs from `component`. */
  reportingComponent?: string;
  log: Logger;
  /** Events are writes: only the leader sends them. */
  canWrite: () => boolean;
  /** Events sent at once; a function lets the caller give way to more important writes. */
  concurrency?: number | (() => number);
  maxQueued?: number;
  onResult?: (result: "created" | "updated" | "dropped" | "failed") => void;
}

interface Pending {
  obj: InvolvedObject;
  type: string;
  reason: string;
  message: string;
  attempts: number;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  at: number;
}

const AGGREGATE_WINDOW_MS = 10 * 60_000;
const MAX_SEEN = 8192;
const MAX_ATTEMPTS = 4;

/** Short key for "same event on the same object" (a hash, so 8k remembered events stay small). */
function aggregationKey(p: Pending): string {
  const text = `${p.obj.kind}\u0000${p.type}\u0000${p.reason}\u0000${p.message}`;
  let h = 0x811c9dc5; // FNV-1a, 32 bit
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return `${p.obj.uid ?? `${p.obj.namespace}/${p.obj.name}`}/${(h >>> 0).toString(36)}`;
}

/** metav1.Time: RFC 3339 with whole seconds. */
export function kubeTime(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class EventRecorder {
  private readonly queue: Pending[] = [];
  private running = 0;
  private readonly seen = new Map<string, Seen>();
  private seq = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly api: KubeApi,
    private readonly o: RecorderOptions,
  ) {}

  get pending(): number {
    return this.queue.length + this.running;
  }

  record(obj: InvolvedObject, type: "Normal" | "Warning", reason: string, message: string): void {
    if (this.stopped) return;
    if (this.queue.length >= (this.o.maxQueued ?? 50_000)) {
      this.o.onResult?.("dropped");
      return;
    }
    this.queue.push({ obj, type, reason, message: message.slice(0, 1024), attempts: 0 });
    this.pump();
  }

  /** Waits until everything queued was sent (or given up on), at most `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    if (this.pending === 0) return;
    await Promise.race([
      new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
      new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  /** Forgets aggregation state (a new leader starts with fresh Events). */
  reset(): void {
    this.queue.length = 0;
    this.seen.clear();
  }

  private pump(): void {
    const c = this.o.concurrency ?? 2;
    const limit = Math.max(1, typeof c === "function" ? c() : c);
    while (this.running < limit && this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.running++;
      void this.send(item).finally(() => {
        this.running--;
        this.pump();
      });
    }
    if (this.pending === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async send(item: Pending): Promise<void> {
    if (!this.o.canWrite()) {
      this.o.onResult?.("dropped");
      return;
    }
    const { obj } = item;
    const key = aggregationKey(item);
    const now = performance.now(); // the aggregation window is a duration
    try {
      const prev = this.seen.get(key);
      if (prev && now - prev.at < AGGREGATE_WINDOW_MS) {
        try {
          await this.api.request("PATCH", `/api/v1/namespaces/${prev.namespace}/events/${prev.name}`, {
            patch: "merge",
            body: { count: prev.count + 1, lastTimestamp: kubeTime() },
          });
          prev.count++;
          prev.at = now;
          this.o.onResult?.("updated");
          return;
        } catch (err) {
          if (!isNotFound(err)) throw err;
          this.seen.delete(key); // expired or deleted: create a fresh one
        }
      }
      // The name is unique by the wall-clock time (an integer, as client-go names them) and a sequence.
      const name = `${obj.name}.${(BigInt(wallNow()) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16)}`;
      const ts = kubeTime();
      await this.api.request("POST", `/api/v1/namespaces/${obj.namespace}/events`, {
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name, namespace: obj.namespace },
          involvedObject: obj,
          reason: item.reason,
          message: item.message,
          type: item.type,
          source: { component: this.o.component, ...(this.o.host ? { host: this.o.host } : {}) },
          reportingComponent: this.o.reportingComponent ?? this.o.component,
          reportingInstance: this.o.instance,
          firstTimestamp: ts,
          lastTimestamp: ts,
          count: 1,
        },
      });
      this.seen.set(key, { name, namespace: obj.namespace, count: 1, at: now });
      if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.keys().next().value as string);
      this.o.onResult?.("created");
    } catch (err) {
      const code = errorCode(err) ?? 0;
      const retriable = code === 0 || code === 429 || code >= 500;
      if (retriable && ++item.attempts < MAX_ATTEMPTS && !this.stopped) {
        setTimeout(
          () => {
            this.queue.push(item);
            this.pump();
          },
          250 * 2 ** item.attempts,
        ).unref();
        return;
      }
      this.o.onResult?.("failed");
      this.o.log.debug(
        {
          event: "eventFailed",
          object: `${obj.namespace}/${obj.name}`,
          reason: item.reason,
          error: errorText(err),
        },
        "could not record Event",
      );
    }
  }
}
