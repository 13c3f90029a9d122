// The reflector's retries against a scripted API: what the server asks for (Retry-After) and a
// short backoff while a caller waits for a fresh list (a new leader after an API server restart).
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeApi, WatchHandle } from "../../src/kube/api.js";
import { ApiError } from "../../src/kube/errors.js";
import { Reflector, type CachedObject } from "../../src/kube/reflector.js";

/** Lists fail with `errors` in turn, then return one object; watches stay open until aborted. */
function scriptedApi(errors: ApiError[]): KubeApi {
  const api = {
    get: async () => {
      const err = errors.shift();
      if (err) throw err;
      return {
        metadata: { resourceVersion: "1" },
        items: [{ metadata: { name: "a", resourceVersion: "1" } }],
      };
    },
    watch: (): WatchHandle => {
      let end: () => void = () => undefined;
      const done = new Promise<void>((resolve) => (end = resolve));
      return { done, abort: () => end() };
    },
  };
  return api as unknown as KubeApi;
}

function reflector(api: KubeApi, minBackoffMs: number): Reflector<CachedObject> {
  return new Reflector<CachedObject>({
    name: "things",
    api,
    path: "/things",
    slim: (raw) => raw as CachedObject,
    onChange: () => undefined,
    log: pino({ level: "silent" }),
    minBackoffMs,
    maxBackoffMs: 60_000,
  });
}

describe("Reflector retries", () => {
  it("waits what Retry-After says, not its own backoff", async () => {
    const busy = () => new ApiError(429, "storage is (re)initializing", "TooManyRequests", 0.05);
    const r = reflector(scriptedApi([busy(), busy(), busy()]), 20_000);
    const started = performance.now();
    await r.start();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(r.list().map((o) => o.metadata.name)).toEqual(["a"]);
    await r.stop();
  });

  it("retries at least every second while a fresh list is awaited", async () => {
    // Exponential from 800 ms would wait 0.8 + 1.6 + 3.2 + 6.4 s before the fifth list.
    const down = () => new ApiError(0, "connect ECONNREFUSED");
    const r = reflector(scriptedApi([down(), down(), down(), down()]), 800);
    const started = performance.now();
    await r.start();
    expect(performance.now() - started).toBeLessThan(6000);
    await r.stop();
  }, 15_000);
});
