import { buildCheckReport, ipsToLookUp, type Target } from "./check.js";
import type { CloudSigmaClient } from "./client.js";
import { formatDiff } from "./diff.js";
import { EXIT, type ExitCode } from "../../cli/run.js";
import { CloudSigmaApiError } from "./errors.js";
import { UsageError } from "../outcome.js";
import { matchNodesToServers, selectServers, CONTROL_PLANE_LABEL, type NodeInfo } from "./match.js";
import { confOf, findPublicNic, nicIpv4, normalizeMac } from "./nic.js";
import {
  PlanError,
  planNicFix,
  READ_ONLY_ITEM_FIELDS,
  READ_ONLY_SERVER_FIELDS,
  redactForDisplay,
  verifyNicFix,
  type NicFixPlan,
} from "./plan.js";
import { renderCheckReport } from "./render.js";
import type { IpObject, Server } from "./types.js";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether a person can answer a prompt (stdin and stdout are terminals). */
  isTTY: boolean;
  confirm(question: string): Promise<boolean>;
}

export interface CommonOptions {
  client: CloudSigmaClient;
  /** --server values (uuid or name); when empty, the control-plane nodes of the cluster are used. */
  servers: string[];
  /** Lists the cluster's control-plane nodes (only called when no --server was given). */
  nodes?: () => Promise<NodeInfo[]>;
  /** --public-interface-mac */
  mac?: string;
  io: Io;
}

export interface CheckOptions extends CommonOptions {
  floatingIps: string[];
  json: boolean;
}

export interface FixNicOptions extends CommonOptions {
  dryRun: boolean;
  yes: boolean;
  /** Switch even when the node's current address is not a subscribed IP. */
  force: boolean;
}

/** The servers to work on: `--server` selections, or the cluster's control-plane nodes matched to servers. */
export async function resolveTargets(
  opts: CommonOptions,
): Promise<{ targets: Target[]; allServers: Server[] }> {
  const allServers = await opts.client.listServers();
  if (opts.servers.length) {
    const sel = selectServers(opts.servers, allServers);
    if (sel.errors.length) throw new UsageError(sel.errors.join("\n"));
    return { targets: sel.servers.map((server) => ({ server })), allServers };
  }
  if (!opts.nodes)
    throw new UsageError("pass --server or --kubeconfig to say which servers are the control plane");
  const nodes = await opts.nodes();
  if (nodes.length === 0) {
    throw new UsageError(`the cluster has no Nodes labelled ${CONTROL_PLANE_LABEL}; pass --server instead`);
  }
  const result = matchNodesToServers(nodes, allServers);
  if (result.errors.length) throw new UsageError(result.errors.join("\n"));
  return {
    targets: result.matches.map((m) => ({ server: m.server, node: m.node, matchedBy: m.by })),
    allServers,
  };
}

async function lookUpIps(
  client: CloudSigmaClient,
  ips: string[],
): Promise<Map<string, IpObject | undefined>> {
  const entries = await Promise.all(ips.map(async (ip) => [ip, await client.getIp(ip)] as const));
  return new Map(entries);
}

function reportError(io: Io, err: unknown, json = false): ExitCode {
  if (err instanceof UsageError || err instanceof CloudSigmaApiError || err instanceof PlanError) {
    if (json) io.out(JSON.stringify({ ok: false, error: err.message }, null, 2));
    io.err(`floatip cloudsigma: ${err.message}`);
    return EXIT.couldNotCheck;
  }
  throw err;
}

export async function runCheck(opts: CheckOptions): Promise<ExitCode> {
  try {
    const { targets, allServers } = await resolveTargets(opts);
    const ips = await lookUpIps(opts.client, ipsToLookUp(targets, opts.floatingIps, opts.mac));
    const report = buildCheckReport({
      targets,
      allServers,
      mac: opts.mac,
      floatingIps: opts.floatingIps,
      ips,
    });
    opts.io.out(opts.json ? JSON.stringify(report, null, 2) : renderCheckReport(report));
    return report.ok ? EXIT.passed : EXIT.failed;
  } catch (err) {
    return reportError(opts.io, err, opts.json);
  }
}

const READ_ONLY_NOTE =
  `read-only fields left out of the PUT body (not changes): ${READ_ONLY_SERVER_FIELDS.join(", ")}, ` +
  Object.entries(READ_ONLY_ITEM_FIELDS)
    .map(([list, fields]) => fields.map((f) => `${list}[].${f}`).join(", "))
    .join(", ");

const RUNNING_HINT =
  "stop the server, run fix-nic again and start it; or set the NIC to manual in the CloudSigma panel";

const OTHER_FAILURE_HINT =
  "fix the cause named above, or set the NIC to manual in the CloudSigma panel; if the server is running, stop it first";

export async function runFixNic(opts: FixNicOptions): Promise<ExitCode> {
  const { io } = opts;
  try {
    const { plans, blocked } = await planFixes(opts);
    if (blocked.length) {
      io.err(`floatip cloudsigma: nothing was changed:\n${blocked.map((b) => `  - ${b}`).join("\n")}`);
      return EXIT.failed;
    }
    if (plans.length === 0) {
      io.out("Nothing to do: every public NIC is already manual.");
      return EXIT.passed;
    }
    showPlans(io, plans);
    if (opts.dryRun) {
      for (const p of plans) {
        io.out(`\nPUT /servers/${p.uuid}/ body:\n${JSON.stringify(redactForDisplay(p.body), null, 2)}`);
      }
      io.out("\nDry run: nothing was sent.");
      return EXIT.passed;
    }
    const refused = await confirmation(opts, plans.length);
    if (refused !== undefined) return refused;
    return await applyPlans(opts, plans);
  } catch (err) {
    return reportError(io, err);
  }
}

/** A plan per server whose public NIC is not manual yet, from a fresh GET; or why it can't be changed. */
async function planFixes(opts: FixNicOptions): Promise<{ plans: NicFixPlan[]; blocked: string[] }> {
  const { io, client } = opts;
  const { targets } = await resolveTargets(opts);
  const blocked: string[] = [];
  const plans: NicFixPlan[] = [];
  for (const t of targets) {
    const found = findPublicNic(t.server, opts.mac);
    if (!found.ok) {
      blocked.push(`${t.server.name} (${t.server.uuid}): server ${found.error}`);
      continue;
    }
    if (confOf(found.nic) === "manual") {
      io.out(`${t.server.name} (${t.server.uuid}): public NIC ${found.nic.mac} is already manual`);
      continue;
    }
    // Plan from a fresh GET of the single server: the PUT must carry its current full definition.
    const fresh = await client.getServer(t.server.uuid);
    const mac = normalizeMac(found.nic.mac ?? "") ?? "";
    const plan = planNicFix(fresh, mac);
    const freshNic = fresh.nics?.find((n) => n.mac && normalizeMac(n.mac) === mac);
    if (freshNic && confOf(freshNic) === "manual") {
      io.out(`${fresh.name} (${fresh.uuid}): public NIC ${mac} became manual meanwhile`);
      continue;
    }
    const ip = freshNic ? nicIpv4(fresh, freshNic) : undefined;
    if (ip && !opts.force && !(await client.getIp(ip))?.subscription) {
      // Manual lets the NIC use only subscribed IPs; the node's own unsubscribed address would be cut off.
      blocked.push(
        `${fresh.name} (${fresh.uuid}): its address ${ip} is not a subscribed IP, so the cloud firewall would ` +
          `drop it once the NIC is manual. Give the node a subscribed IP first, or pass --force`,
      );
      continue;
    }
    plans.push(plan);
  }
  return { plans, blocked };
}

function showPlans(io: Io, plans: readonly NicFixPlan[]): void {
  for (const p of plans) {
    io.out(`\n${p.name} (${p.uuid}), status ${p.status ?? "unknown"}: PUT /servers/${p.uuid}/ changes`);
    io.out(formatDiff(p.diff, "    "));
    if (p.status === "running") {
      io.out(
        "    note: the docs say a running server accepts only name/meta/tags changes; if CloudSigma rejects " +
          "or ignores this, stop the server first",
      );
    }
    io.out(
      `    note: with "manual" the cloud stops assigning the NIC's IP by DHCP; the VM must configure its address itself`,
    );
  }
  io.out(`\n(${READ_ONLY_NOTE})`);
}

/** undefined to go ahead (--yes or "y"); else the exit code of not asking or of a "no". */
async function confirmation(opts: FixNicOptions, count: number): Promise<ExitCode | undefined> {
  const { io } = opts;
  if (opts.yes) return undefined;
  if (!io.isTTY) {
    io.err("floatip cloudsigma: refusing to change servers without confirmation: not a terminal; pass --yes");
    return EXIT.couldNotCheck;
  }
  if (await io.confirm(`Apply these changes to ${count} server(s)? [y/N] `)) return undefined;
  io.out("Aborted: nothing was changed.");
  return EXIT.failed;
}

/** One server at a time, stopping at the first failure, so a rejection never leaves a half-applied batch. */
async function applyPlans(opts: FixNicOptions, plans: readonly NicFixPlan[]): Promise<ExitCode> {
  const { io, client } = opts;
  for (const [i, p] of plans.entries()) {
    const rest = plans.slice(i + 1).map((q) => `${q.name} (${q.uuid})`);
    const untouched = rest.length ? `\n  not attempted: ${rest.join(", ")}` : "";
    try {
      await client.updateServer(p.uuid, p.body);
    } catch (err) {
      if (!(err instanceof CloudSigmaApiError)) throw err;
      const state = await stateAfterFailure(client, p);
      io.err(
        `floatip cloudsigma: CloudSigma refused the update of ${p.name} (${p.uuid}): ${err.message}\n` +
          `  ${state}\n  fix: ${p.status === "running" ? RUNNING_HINT : OTHER_FAILURE_HINT}` +
          untouched,
      );
      return EXIT.couldNotCheck;
    }
    const after = await client.getServer(p.uuid);
    const problems = verifyNicFix(p, after);
    if (problems.length) {
      io.err(
        `floatip cloudsigma: the update of ${p.name} (${p.uuid}) was accepted but did not take effect:\n` +
          problems.map((x) => `  - ${x}`).join("\n") +
          `\n  CloudSigma ignores NIC changes on a running server.\n  fix: ${RUNNING_HINT}${untouched}`,
      );
      return EXIT.failed;
    }
    io.out(`${p.name} (${p.uuid}): public NIC ${p.mac} is now manual (verified)`);
  }
  return EXIT.passed;
}

/** After a failed PUT, says whether the NIC still has its old configuration (re-read, best effort). */
async function stateAfterFailure(client: CloudSigmaClient, p: NicFixPlan): Promise<string> {
  try {
    const now = await client.getServer(p.uuid);
    const nic = now.nics?.find((n) => n.mac && normalizeMac(n.mac) === p.mac);
    const same = JSON.stringify(nic?.ip_v4_conf ?? null) === JSON.stringify(p.before);
    return same
      ? `the server is unchanged (NIC ${p.mac} is still ${JSON.stringify(p.before?.conf ?? null)})`
      : `WARNING: NIC ${p.mac} now reads ${JSON.stringify(nic?.ip_v4_conf ?? null)}; check the server in the panel`;
  } catch {
    return "could not re-read the server to confirm it is unchanged; check it in the panel";
  }
}
