// One definition per option: every command that has a shared option has the same one (flag,
// default, environment variable), and timings out of order are usage errors (exit 2).
import type { Command, Option } from "commander";
import { describe, expect, it } from "vitest";
import {
  checkControllerTimings,
  checkFanoutOwnership,
  checkSpeakerTimings,
  integerArg,
  parseDuration,
} from "../../src/cli/options.js";
import { buildProgram } from "../../src/cli/program.js";
import { defaultLbClass } from "../../src/ops/lbclass.js";
import { UsageError } from "../../src/ops/outcome.js";
import { runCli } from "../support/cli.js";

function leaves(cmd: Command): Command[] {
  return cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leaves);
}

const shape = (o: Option) => ({
  flags: o.flags,
  description: o.description,
  defaultValue: o.defaultValue as unknown,
  envVar: o.envVar,
});

describe("shared options", () => {
  const commands = leaves(buildProgram());

  it.each([
    "--kubeconfig",
    "--namespace",
    "--lb-class",
    "--json",
    "--dry-run",
    "--yes",
    "--lab",
    "--service",
  ])("%s is the same option in every command that has it", (flag) => {
    const found = commands.flatMap((c) =>
      c.options.filter((o) => o.long === flag).map((o) => [c.name(), o] as const),
    );
    expect(found.length).toBeGreaterThan(0);
    const distinct = new Set(found.map(([, o]) => JSON.stringify({ ...shape(o), description: undefined })));
    expect([...distinct], found.map(([n]) => n).join(", ")).toHaveLength(1);
  });

  it("--lb-class has no default and FLOATIP_LB_CLASS everywhere (controller, speaker and every runbook command)", () => {
    const withClass = commands.filter((c) => c.options.some((o) => o.long === "--lb-class"));
    expect(withClass.map((c) => c.name()).sort()).toEqual(
      ["controller", "doctor", "failover-test", "migrate", "rollback", "speaker", "verify"].sort(),
    );
    for (const c of withClass) {
      const o = c.options.find((x) => x.long === "--lb-class")!;
      expect(o.defaultValue, c.name()).toBeUndefined();
      expect(o.envVar, c.name()).toBe("FLOATIP_LB_CLASS");
    }
  });

  it("--namespace falls back to FLOATIP_NAMESPACE, then metallb-system, everywhere", () => {
    for (const c of commands.filter((x) => x.options.some((o) => o.long === "--namespace"))) {
      const o = c.options.find((x) => x.long === "--namespace")!;
      expect([o.envVar, o.defaultValue], c.name()).toEqual(["FLOATIP_NAMESPACE", "metallb-system"]);
    }
  });
});

describe("parsers", () => {
  it("integers within bounds, durations with units", () => {
    expect(integerArg(1)("40")).toBe(40);
    expect(() => integerArg(1)("0")).toThrow(/integer ≥ 1/);
    expect(() => integerArg(-20, 19)("20")).toThrow(/from -20 to 19/);
    expect(() => integerArg(0)("")).toThrow();
    expect(() => integerArg(0)("1.5")).toThrow();
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30")).toBe(30_000);
    expect(() => parseDuration("soon")).toThrow(/not a duration/);
  });
});

describe("timings in order", () => {
  const speaker = {
    heartbeatIntervalMs: 40,
    suspectAfterMs: 200,
    maxSuspectAfterMs: 1000,
    leaseRenewMs: 2000,
    leaseDurationMs: 6000,
  };

  it("the heartbeat interval must be below the suspicion timeout", () => {
    expect(() => checkSpeakerTimings(speaker)).not.toThrow();
    expect(() => checkSpeakerTimings({ ...speaker, heartbeatIntervalMs: 200 })).toThrow(
      new UsageError("--heartbeat-interval-ms (200 ms) must be below --suspect-after-ms (200 ms)"),
    );
    expect(() => checkSpeakerTimings({ ...speaker, suspectAfterMs: 1000 })).not.toThrow();
    expect(() => checkSpeakerTimings({ ...speaker, suspectAfterMs: 1001 })).toThrow(/at most --max-suspect/);
    expect(() => checkSpeakerTimings({ ...speaker, leaseRenewMs: 6000 })).toThrow(/--lease-renew-ms/);
  });

  it("the sparse fan-out only with strict ownership", () => {
    expect(() => checkFanoutOwnership({ heartbeatFanout: "sparse", ownership: "strict" })).not.toThrow();
    expect(() => checkFanoutOwnership({ heartbeatFanout: "all", ownership: "sticky" })).not.toThrow();
    expect(() => checkFanoutOwnership({ heartbeatFanout: "sparse", ownership: "sticky" })).toThrow(
      /--heartbeat-fanout sparse needs --ownership strict \(got sticky\)/,
    );
  });

  it("the controller's leader election: retry < renew deadline < Lease duration, whole seconds", () => {
    const t = { retryPeriodMs: 2000, renewDeadlineMs: 10_000, leaseDurationMs: 15_000 };
    expect(() => checkControllerTimings(t)).not.toThrow();
    expect(() => checkControllerTimings({ ...t, retryPeriodMs: 10_000 })).toThrow(/--retry-period-ms/);
    expect(() => checkControllerTimings({ ...t, leaseDurationMs: 10_000 })).toThrow(/--renew-deadline-ms/);
    expect(() => checkControllerTimings({ ...t, leaseDurationMs: 15_500 })).toThrow(/whole seconds/);
  });

  it("the speaker refuses them before starting: a clear usage error, exit 2", async () => {
    const r = await runCli([
      "speaker",
      "--insecure-heartbeats",
      "--heartbeat-interval-ms",
      "300",
      "--suspect-after-ms",
      "200",
    ]);
    expect(r.stderr).toContain("--heartbeat-interval-ms (300 ms) must be below --suspect-after-ms (200 ms)");
    expect(r.code).toBe(2);
  });
});

describe("the runbook commands' class without --lb-class", () => {
  it("is the one the running controller and speakers use, '' when none runs, a usage problem when they differ", () => {
    expect(defaultLbClass(new Map())).toBe("");
    expect(defaultLbClass(new Map([["metallb", ["pod c", "Lease s"]]]))).toBe("metallb");
    expect(defaultLbClass(new Map([["", ["pod c"]]]))).toBe("");
    const mixed = defaultLbClass(
      new Map([
        ["metallb", ["pod c"]],
        ["", ["Lease s"]],
      ]),
    );
    expect(mixed).toEqual({
      problem: expect.stringMatching(/different classes: metallb \(pod c\); '' .*Pass --lb-class/),
    });
  });
});
