/**
 * Which floating IPs this node forwards mid-flow packets for, to which previous owner, until when.
 * Pure: the speaker's plans, its held IPs and the member view come in, time comes in as a number.
 *
 * After a planned move (the previous owner is alive: SIGTERM, cordon, a restored node taking an IP
 * back, a config change) the previous owner still holds the conntrack/NAT state of the flows it
 * carried. For a grace period the new owner sends it the TCP segments it has no state for; the
 * grace period ends when this node stops owning the IP, when the previous owner dies (membership),
 * when nothing was forwarded for `idleMs`, or after `limitMs`.
 */

export interface ForwardOptions {
  /** End a grace period after this long without a forwarded packet. */
  idleMs: number;
  /** End a grace period this long after it started, whatever happens. */
  limitMs: number;
}

/**
 * Defaults. The limit is Envoy Gateway's pod termination grace period (drainTimeout 60 s + 300 s):
 * a draining Envoy is gone by then in any case. The idle timeout covers a drain's quiet tail.
 */
export const FORWARD_DEFAULTS: ForwardOptions = { idleMs: 60_000, limitMs: 360_000 };

/** One grace period: segments without state for `ip` go to node `from` at `address`. */
export interface Grace {
  ip: string;
  from: string;
  address: string;
  since: number;
  lastActive: number;
  /** `from` announced a graceful exit: its speaker going silent afterwards is not a crash. */
  leftGracefully: boolean;
  /** Since when `from` has been seen not alive (undefined: alive at the last step). */
  downSince?: number;
  /** Since when this node no longer owns the IP (undefined: owns it). */
  leftSince?: number;
}

/**
 * How long a node keeps forwarding after it stopped owning the IP: clients keep sending to it
 * until the successor's gratuitous ARP, which waits for the successor's own rules (up to a few
 * seconds on a busy node). Meanwhile both may forward (to each other); the rules' TTL guard bounds
 * a segment that neither knows.
 */
export const LINGER_MS = 5000;

/**
 * How long a previous owner must stay not alive before its grace period ends: one verdict can be a
 * restarted peer's view settling. Forwarding to a dead node for this long costs nothing: its flows
 * are dead anyway, and new connections (SYNs) are never forwarded.
 */
export const PREVIOUS_OWNER_DOWN_MS = 1000;

/** What membership says about a peer (absent from the view = no speaker). */
export interface PeerLiveness {
  alive: boolean;
  leaving: boolean;
}

export interface ForwardState {
  graces: ReadonlyMap<string, Grace>;
  /** Last step's IPs this node owned (held, not handing over). */
  owned: ReadonlySet<string>;
  /** The peers' liveness the grace periods were last brought up to date with. */
  peers: ReadonlyMap<string, PeerLiveness>;
  /** The earliest time a running grace period ends by the clock alone (Infinity: none runs). */
  dueAt: number;
}

export const EMPTY_FORWARD_STATE: ForwardState = {
  graces: new Map(),
  owned: new Set(),
  peers: new Map(),
  dueAt: Number.POSITIVE_INFINITY,
};

export interface ForwardInput {
  self: string;
  now: number;
  /** The owner the previous step planned for `ip` (every speaker plans every IP). */
  previousOwner: (ip: string) => string | undefined;
  /** IPs this node owns after this step (held and not handing over); kept as the next state, never changed. */
  owned: ReadonlySet<string>;
  peers: ReadonlyMap<string, PeerLiveness>;
  /** A node's internal address of the IP family of `ip`, or undefined when it has none. */
  addressOf: (node: string, ip: string) => string | undefined;
  /** IPs whose forwarding counters moved since the last step. */
  active: ReadonlySet<string>;
  options: ForwardOptions;
}

export type GraceEnd = "notOwner" | "previousOwnerDead" | "idle" | "limit" | "superseded";
export type GraceRefused = "previousOwnerDead" | "noAddress";

export interface ForwardStep {
  state: ForwardState;
  started: Grace[];
  ended: { grace: Grace; reason: GraceEnd }[];
  refused: { ip: string; from: string; reason: GraceRefused }[];
}

/** Why a running grace period must end now, if it must. */
function endReason(grace: Grace, input: ForwardInput): GraceEnd | undefined {
  if (grace.leftSince !== undefined && input.now - grace.leftSince >= LINGER_MS) return "notOwner";
  // A speaker that said it was leaving and then went silent exited; its node still forwards.
  if (
    grace.downSince !== undefined &&
    !grace.leftGracefully &&
    input.now - grace.downSince >= PREVIOUS_OWNER_DOWN_MS
  )
    return "previousOwnerDead";
  if (input.now - grace.since >= input.options.limitMs) return "limit";
  if (input.now - grace.lastActive >= input.options.idleMs) return "idle";
  return undefined;
}

/** When `grace` ends by the clock if nothing else changes (endReason's deadlines, the earliest). */
function dueAt(grace: Grace, options: ForwardOptions): number {
  let at = Math.min(grace.since + options.limitMs, grace.lastActive + options.idleMs);
  if (grace.leftSince !== undefined) at = Math.min(at, grace.leftSince + LINGER_MS);
  if (grace.downSince !== undefined && !grace.leftGracefully)
    at = Math.min(at, grace.downSince + PREVIOUS_OWNER_DOWN_MS);
  return at;
}

function samePeers(a: ReadonlyMap<string, PeerLiveness>, b: ReadonlyMap<string, PeerLiveness>): boolean {
  if (a.size !== b.size) return false;
  for (const [node, p] of a) {
    const q = b.get(node);
    if (!q || q.alive !== p.alive || q.leaving !== p.leaving) return false;
  }
  return true;
}

function advance(grace: Grace, input: ForwardInput): Grace {
  const peer = input.peers.get(grace.from);
  let leftGracefully = grace.leftGracefully;
  if (peer?.alive) leftGracefully = peer.leaving;
  const downSince = peer?.alive ? undefined : (grace.downSince ?? input.now);
  const leftSince = input.owned.has(grace.ip) ? undefined : (grace.leftSince ?? input.now);
  const lastActive = input.active.has(grace.ip) ? input.now : grace.lastActive;
  if (
    leftGracefully === grace.leftGracefully &&
    lastActive === grace.lastActive &&
    downSince === grace.downSince &&
    leftSince === grace.leftSince
  )
    return grace;
  return { ...grace, leftGracefully, lastActive, downSince, leftSince };
}

/**
 * One step. A step in which nothing a grace period reads changed (the same owned set, the same
 * peers' liveness, no counter moved) and no deadline came returns the state as it is: thousands of
 * grace periods after a start at scale cost nothing per step instead of a pass over all of them.
 */
export function planForwarding(state: ForwardState, input: ForwardInput): ForwardStep {
  if (
    input.owned === state.owned &&
    input.active.size === 0 &&
    input.now < state.dueAt &&
    samePeers(state.peers, input.peers)
  )
    return { state, started: [], ended: [], refused: [] };
  const graces = new Map<string, Grace>();
  const started: Grace[] = [];
  const ended: ForwardStep["ended"] = [];
  const refused: ForwardStep["refused"] = [];
  let due = Number.POSITIVE_INFINITY;
  for (const [ip, old] of state.graces) {
    const grace = advance(old, input);
    const reason = endReason(grace, input);
    if (reason) ended.push({ grace, reason });
    else {
      graces.set(ip, grace);
      due = Math.min(due, dueAt(grace, input.options));
    }
  }
  // The same set as last step (the speaker rebuilds it only when what it holds changed): no IP is new.
  const newlyOwned = input.owned === state.owned ? [] : input.owned;
  for (const ip of newlyOwned) {
    if (state.owned.has(ip)) continue;
    const from = input.previousOwner(ip);
    const running = graces.get(ip);
    if (running) {
      // This node takes back an IP whose grace period still lingers from an earlier ownership: a
      // new move. The flows now live on the node that owned it in between, not on the old `from`.
      if (from === undefined || from === input.self || from === running.from) continue;
      graces.delete(ip);
      ended.push({ grace: running, reason: "superseded" });
    }
    if (from === undefined || from === input.self) continue;
    const peer = input.peers.get(from);
    // A crashed owner's NAT state died with it: nothing to forward to.
    if (!peer?.alive) {
      refused.push({ ip, from, reason: "previousOwnerDead" });
      continue;
    }
    const address = input.addressOf(from, ip);
    if (address === undefined) {
      refused.push({ ip, from, reason: "noAddress" });
      continue;
    }
    const grace: Grace = {
      ip,
      from,
      address,
      since: input.now,
      lastActive: input.now,
      leftGracefully: peer.leaving,
    };
    graces.set(ip, grace);
    started.push(grace);
    due = Math.min(due, dueAt(grace, input.options));
  }
  return {
    // The caller hands a fresh set (and peers map) each time they change and never changes them.
    state: { graces, owned: input.owned, peers: input.peers, dueAt: due },
    started,
    ended,
    refused,
  };
}
