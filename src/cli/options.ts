/**
 * Options the runbook commands share, each defined once: one flag, one default, one environment
 * variable, one parser. Parsers throw commander's InvalidArgumentError, a usage error (exit 2).
 */
import { InvalidArgumentError, Option } from "commander";
import { isIP } from "node:net";
import { DEFAULT_EXPECTATION, parseExpectStatus, type Expectation } from "../ops/expect.js";

export const kubeconfigOption = () =>
  new Option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)");

export const namespaceOption = () =>
  new Option("--namespace <ns>", "floatip's namespace (pools, L2Advertisements, speakers, Leases)")
    .env("FLOATIP_NAMESPACE")
    .default("metallb-system");

export const lbClassOption = () =>
  new Option(
    "--lb-class <class>",
    "the loadBalancerClass floatip serves ('' for Services without a class); checked against the running controller and speakers",
  )
    .env("FLOATIP_LB_CLASS")
    .default("metallb");

export const labOption = () =>
  new Option(
    "--lab <socket>",
    "a running 'floatip lab up': probe from its client namespace, inject its faults",
  );

export const jsonOption = () => new Option("--json", "machine-readable output").default(false);

/** An IPv4 or IPv6 address, as a usage error when it isn't one. */
export function parseIpArg(flag: string): (text: string) => string {
  return (text) => {
    if (isIP(text.trim()) === 0)
      throw new InvalidArgumentError(`${flag} ${JSON.stringify(text)} is not an IP address`);
    return text.trim();
  };
}

export const ipOption = (description: string) =>
  new Option("--ip <address>", description).argParser(parseIpArg("--ip"));

export function positiveMs(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`${JSON.stringify(text)} is not a number of milliseconds`);
  return n;
}

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
