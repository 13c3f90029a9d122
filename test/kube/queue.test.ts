import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../src/kube/queue.js";

const tick = (ms = 0): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("WorkQueue", () => {
  it("de-duplicates queued keys and keeps FIFO order", async () => {
    const seen: string[] = [];
    const q = new WorkQueue({ concurrency: 1, handler: async (k) => void seen.push(k) });
    for (const k of ["a", "b", "a", "c", "b"]) q.add(k);
    q.start();
    await q.idle();
    expect(seen).toEqual(["a", "b", "c"]);
  });

  it("never runs one key twice at once, but re-runs it if it changed meanwhile", async () => {
    let running = 0;
    let maxSame = 0;
    let runs = 0;
    let release!: () => void;
    const q = new WorkQueue({
      concurrency: 4,
      handler: async () => {
        running++;
        maxSame = Math.max(maxSame, running);
        runs++;
        if (runs === 1) await new Promise<void>((r) => (release = r));
        running--;
      },
    });
    q.start();
    q.add("svc");
    await tick();
    q.add("svc");
    q.add("svc");
    await tick();
    expect(runs).toBe(1);
    release();
    await q.idle();
    expect(runs).toBe(2);
    expect(maxSame).toBe(1);
  });

  it("bounds concurrency", async () => {
    let running = 0;
    let max = 0;
    const q = new WorkQueue({
      concurrency: 3,
      handler: async () => {
        running++;
        max = Math.max(max, running);
        await tick(5);
        running--;
      },
    });
    for (let i = 0; i < 20; i++) q.add(String(i));
    q.start();
    await q.idle();
    expect(max).toBe(3);
  });

  it("retries failures with growing backoff and reports each", async () => {
    const times: number[] = [];
    const errors: number[] = [];
    const q = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 20,
      handler: async () => {
        times.push(performance.now());
        if (times.length < 3) throw new Error("conflict");
      },
      onError: (_k, _e, attempt) => errors.push(attempt),
    });
    q.add("k");
    q.start();
    await q.idle();
    expect(times).toHaveLength(3);
    expect(errors).toEqual([1, 2]);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(15);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(35);
  });

  it("a new change cuts a pending retry short", async () => {
    let calls = 0;
    const q = new WorkQueue({
      concurrency: 1,
      baseDelayMs: 60_000,
      handler: async () => {
        if (++calls === 1) throw new Error("boom");
      },
    });
    q.add("k");
    q.start();
    await tick(10);
    expect(q.pendingRetries).toBe(1);
    q.add("k");
    await q.idle();
    expect(calls).toBe(2);
  });

  it("pause stops dispatching; clear forgets everything", async () => {
    const seen: string[] = [];
    const q = new WorkQueue({ concurrency: 1, handler: async (k) => void seen.push(k) });
    q.add("a");
    await tick();
    expect(seen).toEqual([]);
    q.clear();
    q.start();
    await q.idle();
    expect(seen).toEqual([]);
    expect(q.length).toBe(0);
  });
});
