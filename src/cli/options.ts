/**
 * Every option more than one command has, each defined once: one flag, one default, one
 * environment variable, one parser; and the cross-checks of timings in one place. Parsers throw
 * commander's InvalidArgumentError, checks throw UsageError: both are usage errors (exit 2).
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import { UsageError } from "../ops/outcome.js";
import { DEFAULT_EXPECTATION, parseExpectStatus, type Expectation } from "../ops/expect.js";

// ---- parsers ---------------------------------------------------------------------------------

/** An integer from `min` to `max`, as a usage error when it isn't one. */
export function integerArg(min = 0, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === "" || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${JSON.stringify(text)} is not an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` from ${min} to ${max}`}`,
      );
    return n;
  };
}

/** A number of milliseconds (≥ 0, fractions allowed). */
export function positiveMs(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`${JSON.stringify(text)} is not a number of milliseconds`);
  return n;
}

/** "90s", "2m", "500ms", "1h" or a plain number of seconds, in ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new InvalidArgumentError(`not a duration: ${JSON.stringify(text)} (use e.g. 90s, 2m, 500ms)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * unit);
}

/** An IPv4 or IPv6 address, as a usage error when it isn't one. */
export function parseIpArg(flag: string): (text: string) => string {
  return (text) => {
    if (isIP(text.trim()) === 0)
      throw new InvalidArgumentError(`${flag} ${JSON.stringify(text)} is not an IP address`);
    return text.trim();
  };
}

// ---- where floatip runs --------------------------------------------------------------------

/**
 * No environment variable of its own: the loaders read $KUBECONFIG themselves (a path list, as
 * kubectl does), then ~/.kube/config, then the in-cluster service account.
 */
export const kubeconfigOption = () =>
  new Option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)");

export const namespaceOption = () =>
  new Option(
    "--namespace <ns>",
    "floatip's namespace (IPAddressPools, L2Advertisements, speaker and leader Leases)",
  )
    .env("FLOATIP_NAMESPACE")
    .default("metallb-system");

/**
 * MetalLB's --lb-class. One meaning everywhere, no default: unset, the controller and speakers
 * serve Services without a class (as MetalLB does), and the runbook commands use the class those
 * running controllers and speakers use (src/cli/preflight.ts), so both always agree.
 */
export const lbClassOption = () =>
  new Option(
    "--lb-class <class>",
    "serve only LoadBalancer Services with this spec.loadBalancerClass ('' = Services without a class). " +
      "Unset: the controller and speakers serve Services without a class; runbook commands use the class the running ones serve",
  ).env("FLOATIP_LB_CLASS");

/** The value commands hand on: '' and unset both mean "Services without a class". */
export const lbClassValue = (flag: string | undefined): string | undefined => flag || undefined;

export const metricsAddressOption = (defaultAddress: string, serves: string) =>
  new Option("--metrics-address <host:port>", `${serves} ('' disables)`).default(defaultAddress);

// ---- runbook commands ------------------------------------------------------------------------

export const labOption = () =>
  new Option(
    "--lab <socket>",
    "a running 'floatip-lab up' (its control socket): probe from its client namespace, inject its faults",
  );

export const jsonOption = () => new Option("--json", "machine-readable output").default(false);

export const dryRunOption = (what = "print every step with the exact patches; change nothing") =>
  new Option("--dry-run", what).default(false);

export const yesOption = () => new Option("--yes", "do not ask for confirmation").default(false);

/** The Service a command works on, "namespace/name". */
export const serviceOption = (description: string) => new Option("--service <ns/name>", description);

export const envoyNamespaceOption = (defaultNamespace: string) =>
  new Option("--envoy-namespace <ns>", "Envoy Gateway's namespace (where proxy Services live)").default(
    defaultNamespace,
  );

/** A time limit in ms, written as a duration ("120s", "5m"; a plain number is seconds). */
export const timeoutOption = (description = "give up waiting after this long", defaultMs = 120_000) =>
  new Option("--timeout <duration>", `${description} (e.g. 90s, 5m)`)
    .default(defaultMs, `${defaultMs / 1000}s`)
    .argParser(parseDuration);

export const ipOption = (description: string) =>
  new Option("--ip <address>", description).argParser(parseIpArg("--ip"));

export const expectStatusOption = () =>
  new Option(
    "--expect-status <codes>",
    "HTTP statuses that count as the floating IP answering: codes, classes or ranges, e.g. 200,3xx",
  )
    .default(DEFAULT_EXPECTATION.status, "2xx,3xx")
    .argParser((text) => {
      const parsed = parseExpectStatus(text);
      if (typeof parsed === "string") throw new InvalidArgumentError(parsed);
      return parsed;
    });

export const expectBodyOption = () =>
  new Option("--expect-body <text>", "text the answer's body must contain (e.g. your app's name)");

/** The expectation from --expect-status / --expect-body. */
export function expectationFrom(opts: {
  expectStatus?: Expectation["status"];
  expectBody?: string;
}): Expectation {
  return {
    status: opts.expectStatus ?? DEFAULT_EXPECTATION.status,
    ...(opts.expectBody !== undefined ? { body: opts.expectBody } : {}),
  };
}

// ---- groups ------------------------------------------------------------------------------------

/** Where floatip runs: --kubeconfig, --namespace, --lb-class (every command that reads the cluster). */
export function withClusterOptions(cmd: Command): Command {
  return cmd.addOption(kubeconfigOption()).addOption(namespaceOption()).addOption(lbClassOption());
}

/** How the floating IP is probed: from a lab (--lab), and what counts as answering. */
export function withProbeOptions(cmd: Command): Command {
  return cmd.addOption(labOption()).addOption(expectStatusOption()).addOption(expectBodyOption());
}

/** The help paragraph on the runbook lock (change.ts takes it). */
export const LOCK_HELP =
  "\nA Lease (floatip-runbook-lock) keeps a second failover-test, migrate or rollback from running\nat the same time (not taken with --dry-run).\n";

/** What migrate and rollback share: Envoy Gateway's namespace, --dry-run, --yes, --timeout. */
export function withChangeOptions(cmd: Command, envoyNamespace: string): Command {
  return cmd
    .addOption(envoyNamespaceOption(envoyNamespace))
    .addOption(dryRunOption())
    .addOption(yesOption())
    .addOption(timeoutOption());
}

// ---- cross-checks ------------------------------------------------------------------------------

/** `flag` (value) must stay below `limitFlag` (limit); `orEqual` allows the limit itself. */
export interface TimingOrder {
  flag: string;
  value: number;
  limitFlag: string;
  limit: number;
  orEqual?: boolean;
}

/** Throws a usage error (exit 2) naming the first pair out of order. */
export function checkTimingOrder(pairs: readonly TimingOrder[]): void {
  for (const { flag, value, limitFlag, limit, orEqual } of pairs)
    if (!(value < limit || (orEqual && value === limit)))
      throw new UsageError(
        `${flag} (${value} ms) must be ${orEqual ? "at most" : "below"} ${limitFlag} (${limit} ms)`,
      );
}

/**
 * The speaker's timings in order: a heartbeat period at or above the suspicion timeout declares
 * every healthy peer dead between two heartbeats; a node Lease renewed no faster than it expires
 * lapses at every renewal.
 */
export function checkSpeakerTimings(t: {
  heartbeatIntervalMs: number;
  suspectAfterMs: number;
  maxSuspectAfterMs: number;
  leaseRenewMs: number;
  leaseDurationMs: number;
}): void {
  checkTimingOrder([
    {
      flag: "--heartbeat-interval-ms",
      value: t.heartbeatIntervalMs,
      limitFlag: "--suspect-after-ms",
      limit: t.suspectAfterMs,
    },
    {
      flag: "--suspect-after-ms",
      value: t.suspectAfterMs,
      limitFlag: "--max-suspect-after-ms",
      limit: t.maxSuspectAfterMs,
      orEqual: true,
    },
    {
      flag: "--lease-renew-ms",
      value: t.leaseRenewMs,
      limitFlag: "--lease-duration-ms",
      limit: t.leaseDurationMs,
    },
  ]);
}

/**
 * Sticky ownership needs every speaker to hear every other first-hand (election/claims.ts), which
 * the sparse fan-out never gives: refuse the pair rather than run sticky as strict unannounced.
 */
export function checkFanoutOwnership(t: { heartbeatFanout: string; ownership: string }): void {
  if (t.heartbeatFanout === "sparse" && t.ownership !== "strict")
    throw new UsageError(
      `--heartbeat-fanout sparse needs --ownership strict (got ${t.ownership}): sticky ownership needs ` +
        "every speaker to hear every other, which only --heartbeat-fanout all gives",
    );
}

/** The controller's leader election in client-go's order: retry < renew deadline < Lease duration. */
export function checkControllerTimings(t: {
  retryPeriodMs: number;
  renewDeadlineMs: number;
  leaseDurationMs: number;
}): void {
  checkTimingOrder([
    {
      flag: "--retry-period-ms",
      value: t.retryPeriodMs,
      limitFlag: "--renew-deadline-ms",
      limit: t.renewDeadlineMs,
    },
    {
      flag: "--renew-deadline-ms",
      value: t.renewDeadlineMs,
      limitFlag: "--lease-duration-ms",
      limit: t.leaseDurationMs,
    },
  ]);
  if (t.leaseDurationMs % 1000 !== 0)
    throw new UsageError(
      `--lease-duration-ms (${t.leaseDurationMs}) must be whole seconds: the Lease stores leaseDurationSeconds`,
    );
}

// ---- the version -------------------------------------------------------------------------------

const require = createRequire(import.meta.url);

/** floatip's version (package.json): `--version`, and the chart version `render` writes. */
export function packageVersion(): string {
  // src/cli/ when run from source (tsx), dist/src/cli/ after tsc: package.json is two or three up.
  for (const path of ["../../package.json", "../../../package.json"]) {
    try {
      return (require(path) as { version: string }).version;
    } catch {
      // the other layout
    }
  }
  throw new Error("cannot find floatip's package.json: the installation is incomplete");
}
/** Long-lived keep-alive clients beside the new-connection probes (failover-test, lab demo). */
export const connectionsOption = () =>
  new Option(
    "--connections <n>",
    "established keep-alive connections sending a request every 50 ms through the IP, counted per move (0: none)",
  )
    .default(20)
    .argParser((text) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 1000)
        throw new InvalidArgumentError(`--connections ${JSON.stringify(text)} is not a count from 0 to 1000`);
      return n;
    });
