import { Command, Option } from "commander";
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { hostname } from "node:os";
import { CONTROLLER_DEFAULTS } from "../controller/defaults.js";
import { DEFAULT_LEASE_TIMINGS } from "../kube/leader.js";
import { createLogger } from "./logger.js";
import {
  checkControllerTimings,
  integerArg,
  kubeconfigOption,
  lbClassOption,
  lbClassValue,
  metricsAddressOption,
  namespaceOption,
} from "./options.js";

const positiveInt = integerArg(1);

interface ControllerFlags {
  kubeconfig?: string;
  namespace: string;
  lbClass?: string;
  identity?: string;
  metricsAddress: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  writeConcurrency: number;
  poolStatusIntervalMs: number;
}

export function controllerCommand(): Command {
  return new Command("controller")
    .description("Run the allocation controller: assign IPs from IPAddressPools to LoadBalancer Services")
    .addOption(kubeconfigOption())
    .addOption(namespaceOption())
    .addOption(lbClassOption())
    .addOption(
      new Option(
        "--identity <id>",
        "leader election identity (default: pod name or hostname, plus a random suffix)",
      ).env("POD_NAME"),
    )
    .addOption(metricsAddressOption("0.0.0.0:7473", "metrics and health endpoints"))
    .option(
      "--lease-duration-ms <ms>",
      "leader Lease duration",
      positiveInt,
      DEFAULT_LEASE_TIMINGS.leaseDurationMs,
    )
    .option(
      "--renew-deadline-ms <ms>",
      "a leader that cannot renew for this long steps down",
      positiveInt,
      DEFAULT_LEASE_TIMINGS.renewDeadlineMs,
    )
    .option(
      "--retry-period-ms <ms>",
      "pause between Lease attempts",
      positiveInt,
      DEFAULT_LEASE_TIMINGS.retryPeriodMs,
    )
    .option(
      "--write-concurrency <n>",
      "Services written concurrently",
      positiveInt,
      CONTROLLER_DEFAULTS.writeConcurrency,
    )
    .option(
      "--pool-status-interval-ms <ms>",
      "minimum interval between IPAddressPool status updates",
      positiveInt,
      CONTROLLER_DEFAULTS.poolStatusIntervalMs,
    )
    .action(runController);
}

/** The controller until SIGTERM/SIGINT (then it finishes its writes and releases the Lease). */
async function runController(opts: ControllerFlags): Promise<void> {
  checkControllerTimings(opts);
  // Loaded when run: the speaker starts from this CLI too (cli/README.md).
  const { loadConnection } = await import("../kube/connection.js");
  const { Controller } = await import("../controller/controller.js");
  const { serveProbes } = await import("../controller/server.js");
  const log = createLogger("controller");
  const conn = await loadConnection(opts.kubeconfig);
  log.info({ event: "apiServer", server: conn.server, source: conn.source }, "using API server");
  // Unique per process even when a restarted container keeps its pod name.
  const identity = `${opts.identity || hostname()}_${randomUUID().slice(0, 8)}`;
  const controller = new Controller(
    conn,
    {
      namespace: opts.namespace,
      lbClass: lbClassValue(opts.lbClass),
      identity,
      timings: {
        leaseDurationMs: opts.leaseDurationMs,
        renewDeadlineMs: opts.renewDeadlineMs,
        retryPeriodMs: opts.retryPeriodMs,
      },
      writeConcurrency: opts.writeConcurrency,
      poolStatusIntervalMs: opts.poolStatusIntervalMs,
    },
    log,
  );
  let server: Server | undefined;
  if (opts.metricsAddress) {
    server = await serveProbes(opts.metricsAddress, {
      registry: controller.metrics.registry,
      healthy: () => controller.healthy(),
      ready: () => controller.ready(),
    });
    log.info({ event: "listening", address: opts.metricsAddress }, "serving /metrics, /healthz, /readyz");
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ event: "signal", signal }, "graceful shutdown: finishing writes and releasing the lease");
    controller
      .stop()
      .then(
        () => 0,
        (err: unknown) => {
          log.error({ event: "stopFailed", error: String(err) }, "shutdown failed");
          return 1;
        },
      )
      .then((code) => {
        server?.close();
        process.exit(code);
      });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  await controller.start();
}
