import { Command, Option } from "commander";
import { parseIPDetailed } from "../api/ip.js";
import { apiUrlForLocation, CloudSigmaClient, CLIENT_DEFAULTS } from "../ops/cloudsigma/client.js";
import { resolveCredentials } from "../ops/cloudsigma/credentials.js";
import { UsageError } from "../ops/outcome.js";
import { normalizeMac } from "../ops/cloudsigma/nic.js";
import type { CommonOptions, Io } from "../ops/cloudsigma/run.js";
import { dryRunOption, jsonOption, kubeconfigOption, timeoutOption, yesOption } from "./options.js";
import { ask } from "./prompt.js";
import { EXIT } from "./run.js";

const collect = (value: string, previous: string[]) => [...previous, value];

interface RawOptions {
  apiUrl?: string;
  location?: string;
  credentialsFile?: string;
  kubeconfig?: string;
  server: string[];
  publicInterfaceMac?: string;
  timeout: number;
}

/** Options shared by check and fix-nic. */
function withCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--api-url <url>", "API base URL (default https://{location}.cloudsigma.com/api/2.0/)").env(
        "CLOUDSIGMA_API_URL",
      ),
    )
    .addOption(new Option("--location <code>", "CloudSigma location, e.g. zrh").env("CLOUDSIGMA_LOCATION"))
    .option(
      "--credentials-file <path>",
      "JSON {username,password} or CLOUDSIGMA_USERNAME=/CLOUDSIGMA_PASSWORD= lines (default: those env vars)",
    )
    .addOption(kubeconfigOption())
    .option(
      "--server <uuid|name>",
      "a control-plane server (repeatable; replaces the lookup in the cluster)",
      collect,
      [],
    )
    .option(
      "--public-interface-mac <mac>",
      "the NIC that carries the floating IP (default: the only public NIC)",
    )
    .addOption(timeoutOption("per-request timeout", CLIENT_DEFAULTS.timeoutMs));
}

function apiUrlFrom(raw: RawOptions): string {
  const text = raw.apiUrl || (raw.location ? apiUrlForLocation(raw.location) : undefined);
  if (!text) throw new UsageError("pass --location (e.g. zrh) or --api-url, or set CLOUDSIGMA_API_URL");
  if (raw.location && !raw.apiUrl && !/^[a-z0-9-]+$/i.test(raw.location)) {
    throw new UsageError(`invalid --location ${JSON.stringify(raw.location)}`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError("--api-url is not a valid URL");
  }
  if (url.username || url.password) {
    // Never echo it: it contains a secret.
    throw new UsageError("--api-url must not contain credentials; use CLOUDSIGMA_USERNAME/PASSWORD");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new UsageError("--api-url must be http(s)");
  return url.toString();
}

function terminalIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    isTTY: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    confirm: ask,
  };
}

/** Builds the client and target source; usage problems become UsageError (exit 2). */
function common(raw: RawOptions, io: Io): CommonOptions {
  const mac = raw.publicInterfaceMac ? normalizeMac(raw.publicInterfaceMac) : undefined;
  if (raw.publicInterfaceMac && !mac) {
    throw new UsageError(
      `--public-interface-mac ${JSON.stringify(raw.publicInterfaceMac)} is not a MAC address`,
    );
  }
  const client = new CloudSigmaClient({
    apiUrl: apiUrlFrom(raw),
    credentials: resolveCredentials(raw.credentialsFile),
    timeoutMs: raw.timeout,
    onRetry: (r) =>
      io.err(`note: ${r.method} ${r.path}: ${r.reason}; retry ${r.attempt} in ${Math.round(r.delayMs)} ms`),
  });
  const nodes = async () => {
    const { KubeApi } = await import("../kube/api.js");
    const { loadConnection } = await import("../kube/connection.js");
    const { listControlPlaneNodes } = await import("../ops/cloudsigma/kube.js");
    let api;
    try {
      api = new KubeApi(await loadConnection(raw.kubeconfig));
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    try {
      return await listControlPlaneNodes(api);
    } finally {
      api.close();
    }
  };
  return { client, servers: raw.server, nodes, mac, io };
}

function floatingIps(values: string[]): string[] {
  return values.map((v) => {
    const parsed = parseIPDetailed(v.trim());
    if (!parsed.ok) throw new UsageError(`--floating-ip: ${parsed.error}`);
    if (parsed.ip.family !== "IPv4") {
      throw new UsageError(
        `--floating-ip ${v}: only IPv4 floating IPs are checked (the ip_v4_conf firewall rule)`,
      );
    }
    return v.trim();
  });
}

async function guarded(io: Io, run: () => Promise<number>, json = false): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    if (json) io.out(JSON.stringify({ ok: false, error: err.message }, null, 2));
    io.err(`floatip cloudsigma: ${err.message}`);
    process.exitCode = EXIT.couldNotCheck;
  }
}

export function cloudsigmaCommand(): Command {
  const cmd = new Command("cloudsigma").description(
    "Check and fix CloudSigma prerequisites for the floating IP (manual public NICs, subscribed IP)",
  );
  cmd.addCommand(
    withCommonOptions(
      new Command("check").description(
        "Report per control-plane server whether its public NIC is manual and whether the floating IPs are owned. " +
          "Exit 0 all good, 1 problems, 2 usage/API errors",
      ),
    )
      .option("--floating-ip <ip>", "floating IP to check (repeatable)", collect, [])
      .addOption(jsonOption())
      .action(async (raw: RawOptions & { floatingIp: string[]; json: boolean }) => {
        const { runCheck } = await import("../ops/cloudsigma/run.js"); // loaded when run (cli/README.md)
        const io = terminalIo();
        await guarded(
          io,
          () => runCheck({ ...common(raw, io), floatingIps: floatingIps(raw.floatingIp), json: raw.json }),
          raw.json,
        );
      }),
  );
  cmd.addCommand(
    withCommonOptions(
      new Command("fix-nic").description(
        "Switch each control-plane server's public NIC to ip_v4_conf manual (PUT /servers/{uuid}/), after confirmation",
      ),
    )
      .addOption(dryRunOption("show the diff and PUT body without sending anything"))
      .addOption(yesOption())
      .option("--force", "switch even if the node's current address is not a subscribed IP", false)
      .action(async (raw: RawOptions & { dryRun: boolean; yes: boolean; force: boolean }) => {
        const { runFixNic } = await import("../ops/cloudsigma/run.js"); // loaded when run (cli/README.md)
        const io = terminalIo();
        await guarded(io, () =>
          runFixNic({ ...common(raw, io), dryRun: raw.dryRun, yes: raw.yes, force: raw.force }),
        );
      }),
  );
  cmd.addHelpText(
    "after",
    `
Control-plane servers: --server <uuid|name> (repeatable), otherwise the cluster's Nodes labelled
node-role.kubernetes.io/control-plane (or .../master). A node matches the server whose NIC carries
one of its ExternalIP/InternalIP addresses (static or runtime IP); failing that, the server with its
name (exact, case-insensitive, or the first DNS label). Conflicts and misses are errors (exit 2).
The public NIC is the one with ip_v4_conf (never a VLAN NIC), or --public-interface-mac.
Exit codes: 0 all good, 1 problems found (or change refused/ineffective), 2 usage or API errors.`,
  );
  return cmd;
}
