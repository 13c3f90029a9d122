/**
 * Established connections through the floating IP, the pure part: N long-lived keep-alive clients
 * each send a request every few milliseconds (src/ops/sessions-client.ts); every request is one
 * SessionEvent. Here the events are classified and attributed to the moves of the IP (a fault, a
 * restored node taking it back), so a report can say "20 connections reset by the SIGTERM move".
 */

/** How one request on a long-lived connection ended. */
export type SessionOutcome = "ok" | "reset" | "stall" | "error";

export interface SessionEvent {
  /** The long-lived client, 0..N-1. */
  c: number;
  /** Request start, ms since the epoch. */
  t: number;
  /** Duration until the answer or the error. */
  ms: number;
  outcome: SessionOutcome;
  /** The request went on a connection that had answered before: an established connection. */
  reused: boolean;
  proto: "h1" | "h2";
  status?: number;
  /** Who answered (x-served-by, else Server). */
  server?: string;
  /** The server asked to close after this answer (HTTP/1.1 Connection: close, HTTP/2 GOAWAY). */
  closing?: boolean;
  error?: string;
}

/** A move of the IP: the fault, the return of a restored node; events after it until the next belong to it. */
export interface Move {
  t: number;
  label: string;
}

export interface MoveImpact {
  label: string;
  /** Start of the window (the move), ms since the epoch; -Infinity for "before". */
  t: number;
  requests: number;
  ok: number;
  /** Requests on established connections that ended in a reset (ECONNRESET, socket hang up). */
  resets: number;
  /** Requests on established connections with no answer within the stall limit. */
  stalls: number;
  /** Other failed requests: refused or unreachable reconnects, unexpected answers, resets of fresh connections. */
  errors: number;
  /** Clients whose established connection was lost (reset, stall or error on a reused connection). */
  connectionsLost: number;
  /** Of those, clients whose connection was reset. */
  connectionsReset: number;
  /** Graceful closes asked by the server (Connection: close, GOAWAY): reconnects that are no error. */
  closes: number;
  /** New connections opened after a client's first (after a loss or a graceful close). */
  reconnects: number;
  /** ok answers per server. */
  servedBy: Record<string, number>;
}

export interface SessionsSummary {
  /** Distinct clients seen. */
  connections: number;
  requests: number;
  /** Events before the first move (the baseline: should be all ok). */
  before: MoveImpact;
  moves: MoveImpact[];
  /** Sums over the moves (not the baseline). */
  lost: number;
  resets: number;
  stalls: number;
  errors: number;
}

/** The outcome a transport error means; `stalled` when the client gave up waiting. */
export function classifyError(message: string, stalled = false): Exclude<SessionOutcome, "ok"> {
  if (stalled) return "stall";
  if (/ECONNRESET|socket hang up|NGHTTP2_REFUSED_STREAM|ERR_HTTP2_STREAM_ERROR/.test(message)) return "reset";
  return "error";
}

function emptyImpact(label: string, t: number): MoveImpact {
  return {
    label,
    t,
    requests: 0,
    ok: 0,
    resets: 0,
    stalls: 0,
    errors: 0,
    connectionsLost: 0,
    connectionsReset: 0,
    closes: 0,
    reconnects: 0,
    servedBy: {},
  };
}

/** The window an event belongs to: the last move at or before the moment it ended. */
function windowOf(sortedMoves: readonly Move[], end: number): number {
  let i = -1;
  for (let m = 0; m < sortedMoves.length; m++) if (sortedMoves[m]!.t <= end) i = m;
  return i;
}

/**
 * Classifies and attributes every event to a move by the moment it ended (a request sent before a
 * fault and reset after it belongs to the fault). A reset of a request on a fresh connection is
 * counted as an error: only established connections can be "reset by a move".
 */
export function summarizeSessions(events: readonly SessionEvent[], moves: readonly Move[]): SessionsSummary {
  const sortedMoves = [...moves].sort((a, b) => a.t - b.t);
  const windows = [emptyImpact("before", -Infinity), ...sortedMoves.map((m) => emptyImpact(m.label, m.t))];
  const lost = windows.map(() => new Set<number>());
  const reset = windows.map(() => new Set<number>());
  const seen = new Set<number>();
  for (const e of [...events].sort((a, b) => a.t - b.t || a.c - b.c)) {
    const w = windowOf(sortedMoves, e.t + e.ms) + 1;
    const impact = windows[w]!;
    impact.requests++;
    if (!e.reused && seen.has(e.c)) impact.reconnects++;
    seen.add(e.c);
    if (e.closing) impact.closes++;
    if (e.outcome === "ok") {
      impact.ok++;
      const by = e.server ?? "?";
      impact.servedBy[by] = (impact.servedBy[by] ?? 0) + 1;
      continue;
    }
    if (e.reused) lost[w]!.add(e.c);
    if (e.outcome === "reset" && e.reused) {
      impact.resets++;
      reset[w]!.add(e.c);
    } else if (e.outcome === "stall" && e.reused) impact.stalls++;
    else impact.errors++;
  }
  windows.forEach((w, i) => {
    w.connectionsLost = lost[i]!.size;
    w.connectionsReset = reset[i]!.size;
  });
  const [before, ...moveImpacts] = windows as [MoveImpact, ...MoveImpact[]];
  const sum = (f: (m: MoveImpact) => number) => moveImpacts.reduce((a, m) => a + f(m), 0);
  return {
    connections: seen.size,
    requests: events.length,
    before,
    moves: moveImpacts,
    lost: sum((m) => m.connectionsLost),
    resets: sum((m) => m.resets),
    stalls: sum((m) => m.stalls),
    errors: sum((m) => m.errors),
  };
}

/** One line per move: "sigterm master-1: 20 of 20 connections lost (20 by a reset), 23 requests reset, 0 stalled, ...". */
export function formatMoveImpact(m: MoveImpact, connections: number): string {
  const servers = Object.keys(m.servedBy).join(", ") || "-";
  return `${m.label}: ${m.connectionsLost} of ${connections} connections lost (${m.connectionsReset} by a reset), ${m.resets} requests reset, ${m.stalls} stalled, ${m.errors} other errors, ${m.closes} graceful closes, ${m.reconnects} reconnects; answered by ${servers}`;
}

/** What the established connections went through in a failover test or a benchmark trial. */
export interface EstablishedReport extends Omit<SessionsSummary, "before"> {
  /** Connections lost on planned moves (SIGTERM, drain, a restored node taking the IP back). */
  plannedLost: number;
  /** Connections lost on unplanned moves (a crash): their NAT state died with the node. */
  unplannedLost: number;
  /** Failed requests before the first move (the baseline should have none). */
  baselineFailures: number;
}

/** The summary with each move marked planned or not (by label, in the order of `moves`). */
export function establishedReport(
  events: readonly SessionEvent[],
  moves: readonly (Move & { planned: boolean })[],
): EstablishedReport {
  const { before, ...summary } = summarizeSessions(events, moves);
  const planned = new Map(moves.map((m) => [`${m.t}#${m.label}`, m.planned]));
  const lostWhere = (want: boolean) =>
    summary.moves
      .filter((m) => (planned.get(`${m.t}#${m.label}`) ?? true) === want)
      .reduce((a, m) => a + m.connectionsLost, 0);
  return {
    ...summary,
    plannedLost: lostWhere(true),
    unplannedLost: lostWhere(false),
    baselineFailures: before.requests - before.ok,
  };
}
