import { readFileSync } from "node:fs";
import { injectFault } from "./faults.js";
import type { Lab, LabNode } from "./lab.js";
import { nsRun } from "./sh.js";
import type { SpeakerSnapshot } from "../src/speaker/snapshot.js";

/** A speaker's /state, as the speaker writes it. */
export type SpeakerState = SpeakerSnapshot;

/** The speaker's metrics and state endpoint: the node's InternalIP:7472, the chart's default. */
export function speakerUrl(node: LabNode): string {
  return `http://${node.internalIp}:7472`;
}

/** A speaker's own account of itself (its /state endpoint), or undefined if it does not answer. */
export async function speakerState(node: LabNode, timeoutS = 1): Promise<SpeakerState | undefined> {
  try {
    const out = await nsRun(node.ns, "curl", ["-sS", "-m", String(timeoutS), `${speakerUrl(node)}/state`], {
      timeoutMs: (timeoutS + 2) * 1000,
    });
    return JSON.parse(out) as SpeakerState;
  } catch {
    return undefined;
  }
}

/** A speaker's /metrics text, or undefined if it does not answer. */
export async function speakerMetricsText(node: LabNode): Promise<string | undefined> {
  try {
    return await nsRun(node.ns, "curl", ["-sS", "-m", "2", `${speakerUrl(node)}/metrics`], {
      timeoutMs: 5000,
    });
  } catch {
    return undefined;
  }
}

/** The sum of a speaker metric's samples (all label sets), or undefined if it does not answer. */
export async function speakerMetric(node: LabNode, name: string): Promise<number | undefined> {
  const text = await speakerMetricsText(node);
  if (text === undefined) return undefined;
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[2]);
  }
  return sum;
}

export async function speakerReady(node: LabNode): Promise<boolean> {
  try {
    await nsRun(node.ns, "curl", ["-sSf", "-m", "1", `${speakerUrl(node)}/readyz`]);
    return true;
  } catch {
    return false;
  }
}

/** Nodes whose speaker says it answers for `ip`. */
export async function announcers(lab: Lab, ip: string): Promise<string[]> {
  const states = await Promise.all(lab.nodes.map((n) => speakerState(n)));
  return states.filter((s): s is SpeakerState => !!s && ip in s.announcing).map((s) => s.node);
}

/**
 * The cluster has settled on `owner` for `ip`: every speaker sees every node alive and eligible
 * (quorum formed; start-up hand-overs and quorum withdrawals are over) and only `owner` announces.
 * "Announces alone" by itself can hold for a moment while the quorum is still forming.
 */
export async function settledOn(lab: Lab, ip: string, owner: string): Promise<boolean> {
  const states = await Promise.all(lab.nodes.map((n) => speakerState(n)));
  const everyoneSeesAll = states.every(
    (s) => !!s && lab.nodes.every((n) => s.members.some((m) => m.node === n.name && m.alive && m.eligible)),
  );
  const who = states.filter((s): s is SpeakerState => !!s && ip in s.announcing).map((s) => s.node);
  return everyoneSeesAll && who.length === 1 && who[0] === owner;
}

/**
 * When (ms since the epoch, from its log) a node's speaker first announced `ip` at or after `from`:
 * a takeover time that does not depend on a prober getting CPU on a loaded machine.
 */
export function announcedAt(lab: Lab, node: string, ip: string, from: number): number | undefined {
  const log = lab.latest(`speaker-${node}`)?.logFile;
  if (!log) return undefined;
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (!line.includes('"event":"serviceAnnounced"')) continue;
    const e = JSON.parse(line) as { time: string; ips?: string[] };
    const at = Date.parse(e.time);
    if (at >= from && e.ips?.includes(ip)) return at;
  }
  return undefined;
}

/**
 * Crashes a node (faults.ts "crash": every process killed, links down) and returns when its speaker
 * died (ms since the epoch). The speaker is killed first, before the node's other processes are
 * listed: on a loaded machine that listing alone can take hundreds of milliseconds.
 */
export async function crashNode(lab: Lab, node: LabNode): Promise<number> {
  const at = Date.now();
  lab.latest(`speaker-${node.name}`)?.child.kill("SIGKILL");
  await injectFault(lab, node, "crash");
  return at;
}
