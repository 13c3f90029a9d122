import { Command, Option } from "commander";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type { FailMethod, FailoverTestResult } from "../ops/failover-test.js";
import { FAULT_KINDS } from "../ops/lab-control.js";
import { timelineSvg } from "../ops/plot.js";
import {
  connectionsOption,
  expectationFrom,
  jsonOption,
  lbClassValue,
  positiveMs,
  serviceOption,
  withClusterOptions,
  withProbeOptions,
} from "./options.js";
import { EXIT, EXIT_HELP, onInterrupt, runCommand, type ExitCode } from "./run.js";

interface FailoverFlags {
  kubeconfig?: string;
  namespace: string;
  lbClass?: string;
  service?: string;
  method: FailMethod;
  lab?: string;
  timeoutMs: number;
  settleMs: number;
  out: string;
  json: boolean;
  expectStatus: readonly (readonly [number, number])[];
  expectBody?: string;
  connections: number;
  http2Connections: number;
  establishedResets: "fail" | "warn";
}

export function failoverTestCommand(): Command {
  const cmd = new Command("failover-test").description(
    "The seed's Failover Testing as one command: fail the announcing node, probe every 10 ms, measure, restore",
  );
  return withProbeOptions(withClusterOptions(cmd))
    .addOption(serviceOption("the Service to test (default: the Envoy Gateway proxy Service)"))
    .addOption(
      new Option("--method <method>", "how to fail the node (lab faults need --lab)")
        .choices(["drain", ...FAULT_KINDS])
        .default("drain"),
    )
    .option("--timeout-ms <ms>", "longest wait for the new announcement", positiveMs, 60_000)
    .option("--settle-ms <ms>", "probe this long after recovery", positiveMs, 2000)
    .addOption(connectionsOption())
    .option(
      "--http2-connections <n>",
      "of the established connections, how many speak HTTP/2 (cleartext, prior knowledge)",
      (text) => Math.max(0, Math.floor(Number(text)) || 0),
      0,
    )
    .addOption(
      new Option(
        "--established-resets <policy>",
        "established connections lost on a planned move (sigterm, drain, the node's return): fail the test or only warn",
      )
        .choices(["fail", "warn"])
        .default("fail"),
    )
    .option("--out <file>", "timeline plot (SVG)", "failover-timeline.svg")
    .addOption(jsonOption())
    .addHelpText(
      "after",
      `\nCtrl-C stops probing at once, puts the node back (uncordon / lab restore) and exits 130;\nbefore the fault it changes nothing. A Lease (floatip-runbook-lock) keeps a second\nfailover-test, migrate or rollback from running at the same time.\n${EXIT_HELP}`,
    )
    .action((opts: FailoverFlags) =>
      runCommand("failover-test", ({ signal }) => run(opts, signal), { handlesInterrupt: true }),
    );
}

async function run(opts: FailoverFlags, signal: AbortSignal): Promise<ExitCode> {
  const { failoverTest, formatFailoverResult } = await import("../ops/failover-test.js");
  const { acquireLock } = await import("../ops/lock.js");
  const { preflight } = await import("./preflight.js");
  const { probePlace } = await import("./probes.js");
  const { DEFAULT_SESSION_OPTIONS } = await import("../ops/sessions-client.js");
  const place = await probePlace(opts.lab, expectationFrom(opts));
  const kubeconfig = opts.kubeconfig ?? place.kubeconfig;
  const { client, lbClass } = await preflight({ ...opts, kubeconfig });
  try {
    const lock = await acquireLock(client, opts.namespace, "failover-test");
    const unregister = onInterrupt(() => lock.release());
    try {
      const result = await failoverTest(client.api, {
        namespace: opts.namespace,
        lbClass: lbClassValue(lbClass),
        service: opts.service,
        method: opts.method,
        faulter: place.lab,
        probe: (url) => place.probe(url),
        ...(opts.connections > 0
          ? {
              sessions: (url: string) =>
                place.sessions(url, {
                  ...DEFAULT_SESSION_OPTIONS,
                  connections: opts.connections,
                  http2: Math.min(opts.http2Connections, opts.connections),
                }),
            }
          : {}),
        establishedResets: opts.establishedResets,
        timeoutMs: opts.timeoutMs,
        settleMs: opts.settleMs,
        progress: (line) => process.stderr.write(`${line}\n`),
        signal,
      });
      const svgPath = writePlot(result, opts.out);
      const { timeline: _timeline, summary: _summary, sessionEvents: _events, ...brief } = result;
      console.log(
        opts.json
          ? JSON.stringify({ ...brief, plot: svgPath }, null, 2)
          : `${formatFailoverResult(result)}${svgPath ? `\ntimeline plot: ${svgPath}` : ""}`,
      );
      return result.interrupted ? EXIT.interrupted : result.ok ? EXIT.passed : EXIT.failed;
    } finally {
      unregister();
      await lock.release();
    }
  } finally {
    client.close();
  }
}

function writePlot(result: FailoverTestResult, out: string): string | undefined {
  if (result.timeline.length === 0 && result.sessionEvents.length === 0) return undefined;
  const markers = [{ t: result.faultAt, label: `${result.method} ${result.failedNode}` }];
  if (result.newAnnouncementMs !== undefined)
    markers.push({ t: result.faultAt + result.newAnnouncementMs, label: `${result.newNode} announces` });
  if (result.restoredAt !== undefined)
    markers.push({ t: result.restoredAt, label: `${result.failedNode} restored` });
  if (result.returnedAt !== undefined)
    markers.push({ t: result.returnedAt, label: `${result.failedNode} announces again` });
  const path = resolve(out);
  writeFileSync(
    path,
    timelineSvg(
      result.timeline,
      markers,
      `floatip failover-test: ${result.service} ${result.ip}, ${result.method} of ${result.failedNode}`,
      result.sessionEvents,
    ),
  );
  return path;
}
