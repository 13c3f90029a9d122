import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { openCpuWaitClock, parseRunDelayMs } from "../../src/speaker/cpu-wait.js";

describe("parseRunDelayMs", () => {
  it("reads the second field of a schedstat line as milliseconds", () => {
    expect(parseRunDelayMs("183216532 4718394 211\n")).toBeCloseTo(4.718394, 9);
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), (run, wait, slices) => {
        expect(parseRunDelayMs(`${run} ${wait} ${slices}\n`)).toBe(wait / 1e6);
      }),
    );
  });

  it("is NaN for anything else", () => {
    for (const bad of ["", "1 2", "1 2 3 4", "a b c", "1 -2 3", "1 2 3 garbage"])
      expect(parseRunDelayMs(bad)).toBeNaN();
  });
});

describe("openCpuWaitClock", () => {
  const dir = mkdtempSync(join(tmpdir(), "fip-cpuwait-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads this thread's wait, which only grows", () => {
    const clock = openCpuWaitClock();
    expect(clock).toBeDefined(); // Linux with schedstat, as every test machine here
    const first = clock!.waitedMs();
    let x = 0;
    for (let i = 0; i < 1e6; i++) x = (x * 31 + i) | 0; // some CPU, maybe a preemption
    const second = clock!.waitedMs();
    void x;
    expect(Number.isFinite(first)).toBe(true);
    expect(second).toBeGreaterThanOrEqual(first);
    clock!.close();
  });

  it("is undefined without a readable schedstat, so steps are timed by the clock alone", () => {
    expect(openCpuWaitClock(join(dir, "missing"))).toBeUndefined();
    const malformed = join(dir, "schedstat");
    writeFileSync(malformed, "not a schedstat line\n");
    expect(openCpuWaitClock(malformed)).toBeUndefined();
    writeFileSync(malformed, "10 2000000 3\n");
    expect(openCpuWaitClock(malformed)?.waitedMs()).toBe(2);
  });
});
