/**
 * Member reports: what each heartbeat says of every member (heartbeat.ts PeerReport). Built once
 * per round, O(members); each heartbeat then takes its page in O(page), so a round costs
 * O(members + datagrams × page) instead of O(members × datagrams). Pure.
 */
import { MAX_DATAGRAM, summarizeCarrier, type PeerReport } from "./heartbeat.js";
import type { PeerTable } from "./peers.js";

/** More reports than one datagram carries (7 bytes each): the encoder cuts what does not fit. */
export const MAX_REPORTS = Math.ceil(MAX_DATAGRAM / 7);
/** How far the rotating reports advance per heartbeat to a peer (about what fits one datagram). */
const REPORT_PAGE = 120;

/** Our report on every peer: our contact with it, and what it said of itself when heard directly. */
export function memberReports(table: PeerTable, alive: (node: string) => boolean, now: number): PeerReport[] {
  const out: PeerReport[] = [];
  for (const [node, state] of table.entries()) {
    const direct = table.directFresh(state, now);
    // Relay what the node itself said (its flags), not our opinion of it: our hysteresis (say,
    // just after our own restart) must not make others think it ineligible while it owns IPs.
    const own = direct ? state.last : undefined;
    const report: PeerReport = {
      hash: table.hashOf(node),
      ageMs: state.lastDirect === undefined ? 0xffff : Math.min(0xffff, now - state.lastDirect),
      direct,
      alive: alive(node),
      eligible: own ? own.ready && own.quorum && !own.leaving : false,
      leaving: own?.leaving ?? false,
    };
    // Assigned, not spread into the literal: the spread was most of an idle speaker's CPU.
    if (own) report.carrier = summarizeCarrier(own.carrier);
    out.push(report);
  }
  return out;
}

/**
 * The pages of one round's reports, each at most `limit` long, in the order the encoder keeps
 * them when it must cut (direct contacts first, stable). Within that: the members someone watches
 * closely (`hot`, by name hash; their liveness must travel every round) first, then the rest
 * rotated a page further per `page`, so each member comes round within a few heartbeats.
 */
export function reportPager(
  all: readonly PeerReport[],
  hot: ReadonlySet<number>,
  limit = MAX_REPORTS,
): (page: number) => PeerReport[] {
  const hotDirect: PeerReport[] = [];
  const hotOther: PeerReport[] = [];
  const restDirect: PeerReport[] = [];
  const restOther: PeerReport[] = [];
  /** Direct reports among the rest before each position: where a rotation starts in restDirect. */
  const directBefore: number[] = [];
  for (const r of all) {
    if (hot.has(r.hash)) (r.direct ? hotDirect : hotOther).push(r);
    else {
      directBefore.push(restDirect.length);
      (r.direct ? restDirect : restOther).push(r);
    }
  }
  const rest = directBefore.length;
  return (page) => {
    const at = rest > 0 ? (page * REPORT_PAGE) % rest : 0;
    const p = directBefore[at] ?? 0;
    const out: PeerReport[] = [];
    const take = (xs: readonly PeerReport[], from: number) => {
      for (let i = 0; i < xs.length && out.length < limit; i++) out.push(xs[(from + i) % xs.length]!);
    };
    take(hotDirect, 0);
    take(restDirect, p);
    take(hotOther, 0);
    take(restOther, at - p);
    return out;
  };
}
