// The harness of the handover-forwarding lab tests (test/speaker/lab-forward*.test.ts): keep-alive
// clients across a move, who announces, which table the speaker loaded, its forwarding log.
import * as k8s from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { rankNodes } from "../../src/election/ranking.js";
import type { LabCluster } from "../../lab/cluster.js";
import type { LabNode } from "../../lab/lab.js";
import { nsRun } from "../../lab/sh.js";
import { announcers, speakerReady, speakerUrl } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";
import { KeepAliveClients, type KeepAliveStats } from "./keepalive.js";

export const CONNECTIONS = 20;

/**
 * Planned moves do not depend on the failure detector's speed; a relaxed one keeps a loaded test
 * machine (2 cores shared with other labs) from adding quorum flaps (unplanned moves).
 */
export const FORWARD_SPEAKER_ARGS = ["--suspect-after-ms", "600", "--max-suspect-after-ms", "2000"];

/** What one move did to the connections that were open across it. */
export interface MoveResult {
  resets: number;
  stalls: number;
  closed: number;
  errors: number;
  requests: number;
}

export const diff = (a: KeepAliveStats, b: KeepAliveStats): MoveResult => ({
  resets: b.resets - a.resets,
  stalls: b.stalls - a.stalls,
  closed: b.closed - a.closed,
  errors: b.errors - a.errors,
  requests: b.requests - a.requests,
});

export class Harness {
  constructor(readonly c: LabCluster) {}

  ranking(vip: string): LabNode[] {
    return rankNodes(
      this.c.lab.nodes.map((n) => n.name),
      vip,
    ).map((n) => this.c.lab.node(n));
  }

  startSpeakers(forwarding: boolean): void {
    for (const node of this.c.lab.nodes) {
      this.c.lab.forget(`speaker-${node.name}`);
      this.c.startSpeaker(node, forwarding ? [] : ["--no-handover-forwarding"]);
    }
  }

  async stopSpeakers(): Promise<void> {
    const procs = this.c.lab.nodes.map((n) => this.c.lab.latest(`speaker-${n.name}`)).filter((p) => !!p);
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited));
  }

  async ready(owners: Record<string, LabNode>): Promise<void> {
    await waitFor(
      "all speakers ready",
      async () => (await Promise.all(this.c.lab.nodes.map(speakerReady))).every(Boolean),
      60_000,
    );
    for (const [vip, node] of Object.entries(owners)) await this.soleAnnouncer(vip, node);
  }

  soleAnnouncer(vip: string, node: LabNode, timeoutMs = 40_000): Promise<true> {
    return waitFor(
      `${node.name} as the only announcer of ${vip}`,
      async () => {
        const who = await announcers(this.c.lab, vip);
        return who.length === 1 && who[0] === node.name;
      },
      timeoutMs,
      200,
    );
  }

  private async mac(node: LabNode): Promise<string> {
    const link = JSON.parse(await nsRun(node.ns, "ip", ["-j", "link", "show", "ens3"])) as {
      address: string;
    }[];
    return link[0]!.address;
  }

  /** The client sends to `node` (its neighbour entry for the IP has that node's MAC). */
  async clientUses(vip: string, node: LabNode): Promise<void> {
    const mac = await this.mac(node);
    await waitFor(
      `the client to send ${vip} to ${node.name}`,
      async () => (await this.c.lab.client("ip", ["neigh", "show", vip])).includes(mac),
      30_000,
    );
  }

  /** The speaker's forwarding table of one family on a node ("" when there is none). */
  async table(node: LabNode, family: "ip" | "ip6" = "ip"): Promise<string> {
    try {
      return await nsRun(node.ns, "nft", ["list", "table", family, "floatip"]);
    } catch {
      return "";
    }
  }

  async metric(node: LabNode, name: string): Promise<number> {
    const text = await nsRun(node.ns, "curl", ["-sS", "-m", "2", `${speakerUrl(node)}/metrics`]).catch(
      () => "",
    );
    let total = 0;
    for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, "gm"))) total += Number(m[1]);
    return total;
  }

  /**
   * Runs `move` under keep-alive traffic and waits until the client sends to `to` and every
   * connection made ~10 more requests; returns what happened to the connections.
   */
  async underTraffic(
    clients: KeepAliveClients,
    vip: string,
    to: LabNode,
    move: () => Promise<unknown>,
    { forwarded = false } = {},
  ): Promise<MoveResult> {
    const packets = await this.metric(to, "floatip_forwarded_packets_total");
    const before = await clients.stats();
    await move();
    await this.soleAnnouncer(vip, to);
    await this.clientUses(vip, to);
    const result = diff(before, await clients.requestsMore(CONNECTIONS * 10));
    if (forwarded && result.resets > 0)
      console.log(`resets moving ${vip} to ${to.name}`, JSON.stringify(result), this.forwardLog(to));
    // The connections really took the forwarding path (the counters are read once a second).
    if (forwarded)
      await waitFor(`${to.name} to count forwarded packets`, async () =>
        (await this.metric(to, "floatip_forwarded_packets_total")) > packets ? true : undefined,
      ).catch(async (err: unknown) => {
        console.log(JSON.stringify(result), await this.table(to), this.forwardLog(to));
        throw err;
      });
    return result;
  }

  /** The speaker's forwarding events on a node (for failure reports). */
  forwardLog(node: LabNode): string {
    const file = this.c.lab.latest(`speaker-${node.name}`)?.logFile;
    if (!file) return "";
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => /forward|serviceAnnounced|handover|serviceWithdrawn/.test(l))
      .join("\n");
  }

  setCordon(node: LabNode, unschedulable: boolean): Promise<unknown> {
    return this.c.core.patchNode(
      { name: node.name, body: { spec: { unschedulable } } },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  }

  /** SIGTERM to the node's speaker only (a rolling update of the DaemonSet); waits for its exit. */
  async stopSpeaker(node: LabNode): Promise<void> {
    const p = this.c.lab.latest(`speaker-${node.name}`)!;
    p.child.kill("SIGTERM");
    await p.exited;
  }
}

/** Opens keep-alive clients, runs `body`, and always stops them. */
export async function withClients<T>(
  c: LabCluster,
  vip: string,
  body: (clients: KeepAliveClients) => Promise<T>,
): Promise<T> {
  const clients = await KeepAliveClients.start(c.lab, vip, { connections: CONNECTIONS });
  try {
    return await body(clients);
  } finally {
    await clients.stop();
  }
}

/** What a planned move must not do to a connection. */
export const clean = (r: MoveResult) => ({ resets: r.resets, stalls: r.stalls, errors: r.errors });
