/**
 * The I/O edge of handover forwarding: feeds the pure planner (forward-plan.ts) once per speaker
 * step, loads the rendered ruleset (forward-nft.ts) with `nft -f` when it changes (one atomic
 * transaction, applied in order, never two at once), reads the counters back while grace periods
 * run, and removes the tables at start (a crashed run's rules), when the last grace period ends
 * and at exit. Needs CAP_NET_ADMIN; without it the speaker logs the error and forwards nothing.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { V1Node } from "../kube/types.js";
import type { Logger } from "pino";
import { listSome } from "../common/text.js";
import { Counter, Gauge, type Registry } from "prom-client";
import type { ClusterView } from "../election/membership.js";
import { ownerOf } from "../election/ranking.js";
import type { IpPlan } from "./plan.js";
import {
  EMPTY_FORWARD_STATE,
  planForwarding,
  type ForwardOptions,
  type ForwardState,
  type PeerLiveness,
} from "./forward-plan.js";
import {
  familyOf,
  NFT_TABLE,
  parseCounters,
  pollIntervalMs,
  renderCleanup,
  renderForwarding,
  type Family,
  type ForwardCounters,
} from "./forward-nft.js";

/** Runs `nft` with the given arguments (and stdin); resolves stdout. Replaceable in tests. */
export type NftRunner = (args: string[], input?: string) => Promise<string>;

export const runNft: NftRunner = (args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile("nft", args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`nft ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });

/** Items grouped by a key, in the order their groups first appear. */
function grouped<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

/** A log line's IP fields for one IP or thousands: the first, a short list, the count. */
function someIps(ips: readonly string[]): { ip: string | undefined; ips: string; count: number } {
  return { ip: ips[0], ips: listSome(ips), count: ips.length };
}

/** Longest a takeover's announcement waits for its forwarding rules (nft missing or hung). */
const LOAD_WAIT_MS = 3000;

class ForwardMetrics {
  readonly graces: Gauge;
  readonly packets: Counter;
  readonly flows: Gauge;
  readonly ended: Counter;
  constructor(registry: Registry) {
    this.graces = new Gauge({
      name: "floatip_forward_grace_periods",
      help: "Grace periods running: IPs whose mid-flow packets go to their previous owner",
      registers: [registry],
    });
    this.packets = new Counter({
      name: "floatip_forwarded_packets_total",
      help: "TCP segments without conntrack state sent on to the previous owner, per IP",
      labelNames: ["ip"],
      registers: [registry],
    });
    this.flows = new Gauge({
      name: "floatip_forwarded_flows",
      help: "Flows forwarded to the previous owner within the idle timeout, per IP",
      labelNames: ["ip"],
      registers: [registry],
    });
    this.ended = new Counter({
      name: "floatip_forward_grace_periods_total",
      help: "Grace periods by how they ended or why none started (notOwner, previousOwnerDead, idle, limit, noAddress)",
      labelNames: ["reason"],
      registers: [registry],
    });
  }
}

type PlanOwner = Pick<IpPlan, "ip" | "owner" | "candidates" | "scores">;

/**
 * The node that owned `ip` before this node: the last other owner an earlier step planned, or,
 * when none did (a restarted speaker can meet its peers and become eligible in one step), a peer
 * whose heartbeats say it announces the IP (make-before-break: the previous owner answers until
 * this node takes over, even when it is no candidate any more: leaving, cordoned), else the
 * planner's rule (`ownerOf` with the plan's preferredNodeSelectors scores) among this step's
 * candidates without this node. A wrong pick forwards to a node without the flows' state, which
 * answers as it would have without forwarding.
 */
export function previousOwnerOf(
  before: ReadonlyMap<string, string | undefined>,
  now: ReadonlyMap<string, PlanOwner>,
  self: string,
  ip: string,
  announcing: readonly string[] = [],
): string | undefined {
  const owner = before.get(ip);
  if (owner !== undefined && owner !== self) return owner;
  const plan = now.get(ip);
  const peers = announcing.filter((n) => n !== self);
  if (peers.length > 0) return ownerOf(peers, ip, plan?.scores);
  return (
    plan &&
    ownerOf(
      plan.candidates.filter((n) => n !== self),
      ip,
      plan.scores,
    )
  );
}

/** The members whose heartbeats say they announce `ip`. */
function announcersOf(view: ClusterView, ip: string): string[] {
  const out: string[] = [];
  for (const m of view.members.values()) if (m.announcing.has(ip)) out.push(m.node);
  return out;
}

export interface ForwardStepInput {
  now: number;
  /**
   * This step's re-planned IPs (their planned owners are the next step's previous owners): only
   * those whose plans changed (all after a change of the member view), with `gone` the IPs no
   * Service has any more.
   */
  plans: readonly PlanOwner[];
  gone: readonly string[];
  owned: ReadonlySet<string>;
  view: ClusterView;
  node: (name: string) => V1Node | undefined;
}

/** A Node's InternalIP of the family of `ip` (what the previous owner is reached at). */
export function internalAddress(node: V1Node | undefined, ip: string): string | undefined {
  const v6 = ip.includes(":");
  return node?.status?.addresses?.find((a) => a.type === "InternalIP" && a.address.includes(":") === v6)
    ?.address;
}

export class HandoverForwarder {
  private state: ForwardState = EMPTY_FORWARD_STATE;
  private readonly metrics: ForwardMetrics;
  private applied = "";
  /** The latest ruleset asked for, rendered once when its turn comes. */
  private wanted: { render: () => string; text?: string } = { render: () => this.applied };
  private applying: Promise<void> = Promise.resolve();
  /** The next counter reading; one chain of readings at a time (a new one after the last ended). */
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private pollChain = 0;
  private readonly lastPackets = new Map<string, number>();
  /** The flows gauge's values: set only on change (thousands of series at scale). */
  private readonly lastFlows = new Map<string, number>();
  private active = new Set<string>();
  /**
   * The last owner other than this node that any earlier step planned, per IP: a step that named
   * nobody (this node isolated for a moment, or just restarted) does not forget who owned it.
   */
  private readonly otherOwners = new Map<string, string>();
  private closed = false;
  /** IPs whose grace period started but whose rules are not loaded yet. */
  private readonly loadingIps = new Map<string, Promise<void>>();

  constructor(
    private readonly self: string,
    private readonly options: ForwardOptions,
    registry: Registry,
    private readonly log: Logger,
    private readonly nft: NftRunner = runNft,
  ) {
    this.metrics = new ForwardMetrics(registry);
  }

  /** Removes what a previous run may have left (it crashed with grace periods running). */
  async start(): Promise<void> {
    this.applied = renderCleanup();
    await this.load(this.applied);
    const strict = strictReversePathInterfaces();
    if (strict.length > 0)
      this.log.warn(
        { event: "strictReversePathFilter", interfaces: strict },
        "rp_filter=1 on these interfaces drops packets a successor forwards here after a handover (client address on the internal interface): set net.ipv4.conf.<if>.rp_filter=2",
      );
  }

  /** One speaker step: plan, and load the ruleset if it changed (asynchronously, in order). */
  step(input: ForwardStepInput): void {
    if (this.closed) return;
    const peers = new Map<string, PeerLiveness>();
    // A member "rejoining" is heard but not yet trusted to own IPs (a restarted peer's view of its
    // peers settles that way too): its node is up, and that is all forwarding needs.
    for (const m of input.view.members.values())
      peers.set(m.node, { alive: m.alive || m.reason.startsWith("rejoining"), leaving: m.leaving });
    let current: Map<string, PlanOwner> | undefined;
    const result = planForwarding(this.state, {
      self: this.self,
      now: input.now,
      previousOwner: (ip) =>
        previousOwnerOf(
          this.otherOwners,
          (current ??= new Map(input.plans.map((p) => [p.ip, p]))),
          this.self,
          ip,
          announcersOf(input.view, ip),
        ),
      owned: input.owned,
      peers,
      addressOf: (name, ip) => internalAddress(input.node(name), ip),
      active: this.active,
      options: this.options,
    });
    this.active = new Set();
    this.state = result.state;
    for (const ip of input.gone) this.otherOwners.delete(ip);
    for (const p of input.plans)
      if (p.owner !== undefined && p.owner !== this.self && this.otherOwners.get(p.ip) !== p.owner)
        this.otherOwners.set(p.ip, p.owner);
    // One line per previous owner and reason: a crash refuses, a start storm starts and an idle
    // timeout ends thousands at once.
    for (const group of grouped(result.started, (g) => `${g.from}/${g.address}`)) {
      const { from, address } = group[0]!;
      this.log.info(
        { event: "forwardStarted", from, address, ...someIps(group.map((g) => g.ip)) },
        "forwarding mid-flow packets to the previous owner",
      );
    }
    for (const { grace, reason } of result.ended) {
      this.metrics.ended.inc({ reason });
      this.metrics.flows.remove({ ip: grace.ip });
      this.lastFlows.delete(grace.ip);
    }
    for (const group of grouped(result.ended, (e) => `${e.reason}/${e.grace.from}`)) {
      const { reason, grace } = group[0]!;
      this.log.info(
        { event: "forwardEnded", from: grace.from, reason, ...someIps(group.map((e) => e.grace.ip)) },
        "grace period ended",
      );
    }
    for (const r of result.refused) this.metrics.ended.inc({ reason: r.reason });
    for (const group of grouped(result.refused, (r) => `${r.reason}/${r.from}`)) {
      const { from, reason } = group[0]!;
      this.log.info(
        { event: "forwardRefused", from, reason, ...someIps(group.map((r) => r.ip)) },
        "no grace period after this move",
      );
    }
    this.metrics.graces.set(result.state.graces.size);
    if (result.started.length === 0 && result.ended.length === 0) return;
    const graces = [...result.state.graces.values()];
    const idleS = this.options.idleMs / 1000;
    const loaded = this.schedule(() =>
      graces.length === 0 ? renderCleanup() : renderForwarding(graces, idleS),
    );
    if (result.started.length > 0) {
      // One wait per load, not per IP: a timer per IP fired one at a time after a slow load, and
      // each announced its IP on its own (the announcer's filter rebuilt per IP: O(IPs²) at scale).
      const waited = Promise.race([loaded, new Promise<void>((r) => setTimeout(r, LOAD_WAIT_MS).unref())]);
      const ips = result.started.map((g) => g.ip);
      for (const ip of ips) this.loadingIps.set(ip, waited);
      void waited.then(() => {
        for (const ip of ips) if (this.loadingIps.get(ip) === waited) this.loadingIps.delete(ip);
      });
    }
    if (graces.length > 0) this.startPolling();
    else this.stopPolling();
  }

  /**
   * Resolves when the rules of a grace period that just started for `ip` are loaded (or after at
   * most 3 s); undefined when nothing is loading for it. The takeover's gratuitous ARP waits
   * for it: a client that switched before the rules exist would have its connections reset.
   */
  loading(ip: string): Promise<void> | undefined {
    return this.loadingIps.get(ip);
  }

  /** Removes every rule (exit); later steps do nothing. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopPolling();
    await this.schedule(renderCleanup);
  }

  private startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    this.armPoll(++this.pollChain);
  }

  /** The next reading after the last one ended: a slow `nft` delays readings, never piles them up. */
  private armPoll(chain: number): void {
    const wait = pollIntervalMs(this.state.graces.size, this.options.idleMs);
    this.poller = setTimeout(() => {
      void this.poll().then(() => {
        if (chain === this.pollChain) this.armPoll(chain);
      });
    }, wait);
    this.poller.unref();
  }

  private stopPolling(): void {
    this.polling = false;
    this.pollChain++;
    clearTimeout(this.poller);
    this.poller = undefined;
  }

  /**
   * Loads the latest ruleset asked for, after the loads before it. It is rendered there, not in the
   * step that asked: thousands of grace periods render in milliseconds, which a step must not spend.
   */
  private schedule(render: () => string): Promise<void> {
    this.wanted = { render };
    return (this.applying = this.applying.then(async () => {
      const wanted = this.wanted;
      const text = (wanted.text ??= wanted.render());
      if (text === this.applied) return;
      await this.load(text);
      this.applied = text;
      // Counters start from zero in the new tables.
      this.lastPackets.clear();
    }));
  }

  private async load(text: string): Promise<void> {
    try {
      await this.nft(["-f", "-"], text);
    } catch (err) {
      this.log.error(
        { event: "forwardRulesFailed", error: err instanceof Error ? err.message : String(err) },
        "cannot load the handover forwarding rules (needs CAP_NET_ADMIN and nft)",
      );
    }
  }

  private async poll(): Promise<void> {
    const counters: ForwardCounters = { packets: new Map(), flows: new Map() };
    // Only the families with grace periods have a table: listing a missing one still forks nft.
    const families = new Set<Family>();
    for (const ip of this.state.graces.keys()) families.add(familyOf(ip));
    for (const family of families) {
      try {
        parseCounters(await this.nft(["-j", "list", "table", family, NFT_TABLE]), counters);
      } catch {
        // No table of this family: nothing forwarded there.
      }
    }
    for (const [ip, packets] of counters.packets) {
      const delta = packets - (this.lastPackets.get(ip) ?? 0);
      this.lastPackets.set(ip, packets);
      if (delta <= 0) continue;
      this.active.add(ip);
      this.metrics.packets.inc({ ip }, delta);
    }
    for (const ip of this.state.graces.keys()) {
      const flows = counters.flows.get(ip) ?? 0;
      if (this.lastFlows.get(ip) === flows) continue;
      this.lastFlows.set(ip, flows);
      this.metrics.flows.set({ ip }, flows);
    }
  }
}

/**
 * Interfaces whose effective IPv4 reverse-path filter is strict (the kernel uses the larger of
 * `all` and the interface's value): they would drop forwarded segments, whose source (the client)
 * is routed through another interface.
 */
export function strictReversePathInterfaces(root = "/proc/sys/net/ipv4/conf"): string[] {
  const read = (name: string) => {
    try {
      return Number(readFileSync(`${root}/${name}/rp_filter`, "utf8").trim());
    } catch {
      return 0;
    }
  };
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const all = read("all");
  return names
    .filter((n) => n !== "all" && n !== "default" && n !== "lo")
    .filter((n) => Math.max(all, read(n)) === 1)
    .sort();
}
