/**
 * The nftables ruleset of the handover forwarding, as text for `nft -f` (one atomic transaction),
 * and the reading of its counters back. Pure.
 *
 * Where the rule sits: prerouting at priority -160, after conntrack (-200) has looked the packet
 * up and before kube-proxy (nftables mode: filter-prerouting-pre-dnat at -110, nat at -100;
 * iptables mode: nat PREROUTING at -100). A TCP segment without SYN that conntrack does not know
 * (`ct state new` with nf_conntrack_tcp_loose=1, `invalid` without) is a flow of the previous
 * owner: it is copied unchanged (`dup`: no NAT, the copy is untracked so no NAT runs on it) to the
 * previous owner's internal address and the original is dropped before kube-proxy's DNAT would
 * pick it up and reset it. SYNs are never matched: new connections stay with the new owner.
 * `dup` lowers the copy's TTL by one; matching only TTL > 1 ends a segment that no node knows
 * (two nodes forward to each other while a handover overlaps) instead of letting it circle.
 *
 * Two tables, `ip floatip` and `ip6 floatip`: `dup` exists only in the ip and ip6 families
 * (not inet). Each apply deletes and recreates both, so what is loaded is exactly the text.
 *
 * One rule per family whatever the number of IPs: the IPs in grace are a set (with a counter per
 * element: packets forwarded per IP) and their previous owners a map the `dup` looks up. A rule per
 * IP made loading and listing superlinear: 5,000 rules took 4.2 s to load and 1.9 s to list on an
 * idle machine (minutes under load, stalling the speakers after a mass move); the set and map take
 * 0.07 and 0.11 s.
 */
import type { Grace } from "./forward-plan.js";

export const NFT_TABLE = "floatip";
/** After conntrack (-200), before kube-proxy's pre-DNAT filter (-110) and DNAT (-100). */
export const FORWARD_PRIORITY = -160;
/** The IPs in grace (with a counter each) and, per IP, the previous owner's address. */
const FORWARDED_SET = "forwarded";
const PREVIOUS_MAP = "previous";

export type Family = "ip" | "ip6";

export const familyOf = (ip: string): Family => (ip.includes(":") ? "ip6" : "ip");

/** Accepts only what `nft` can take as an address literal (the text is parsed, never trusted). */
function checkAddress(address: string, family: Family): string {
  const ok = family === "ip" ? /^\d{1,3}(\.\d{1,3}){3}$/.test(address) : /^[0-9a-fA-F:.]+$/.test(address);
  if (!ok || (family === "ip6" && !address.includes(":")))
    throw new Error(`not an ${family === "ip" ? "IPv4" : "IPv6"} address: ${address}`);
  return address;
}

function table(family: Family, graces: readonly Grace[], flowTimeoutS: number): string[] {
  const addr = family === "ip" ? "ipv4_addr" : "ipv6_addr";
  const pairs = graces.map((g) => [checkAddress(g.ip, family), checkAddress(g.address, family)] as const);
  const saddr = family === "ip" ? "ip saddr" : "ip6 saddr";
  return [
    `table ${family} ${NFT_TABLE} {`,
    "  set flows {",
    `    type ${addr} . ${addr} . inet_service`,
    "    flags dynamic, timeout",
    `    timeout ${flowTimeoutS}s`,
    "    size 65536",
    "  }",
    `  set ${FORWARDED_SET} {`,
    `    type ${addr}`,
    "    counter",
    `    elements = { ${pairs.map(([ip]) => ip).join(", ")} }`,
    "  }",
    `  map ${PREVIOUS_MAP} {`,
    `    type ${addr} : ${addr}`,
    `    elements = { ${pairs.map(([ip, to]) => `${ip} : ${to}`).join(", ")} }`,
    "  }",
    "  chain prerouting {",
    `    type filter hook prerouting priority ${FORWARD_PRIORITY}; policy accept;`,
    `    ${family} daddr @${FORWARDED_SET} ${family === "ip" ? "ip ttl" : "ip6 hoplimit"} > 1` +
      ` tcp flags & syn == 0 ct state { new, invalid }` +
      ` update @flows { ${family} daddr . ${saddr} . tcp sport }` +
      ` dup to ${family} daddr map @${PREVIOUS_MAP} drop`,
    "  }",
    "}",
  ];
}

/** Removes both tables, whether they exist or not (creating an empty table first never fails). */
export function renderCleanup(): string {
  return (["ip", "ip6"] as const)
    .flatMap((f) => [`table ${f} ${NFT_TABLE}`, `delete table ${f} ${NFT_TABLE}`])
    .join("\n")
    .concat("\n");
}

/**
 * The whole ruleset for these grace periods: both tables removed, then the ones with rules
 * created. No grace periods = no tables at all. `flowTimeoutS` is how long a forwarded flow
 * counts as live in the `flows` set (the metric of forwarded flows).
 */
export function renderForwarding(graces: Iterable<Grace>, flowTimeoutS: number): string {
  const sorted = [...graces].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  const lines = [renderCleanup().trimEnd()];
  for (const family of ["ip", "ip6"] as const) {
    const mine = sorted.filter((g) => familyOf(g.ip) === family);
    if (mine.length > 0) lines.push(...table(family, mine, Math.max(1, Math.ceil(flowTimeoutS))));
  }
  return lines.join("\n") + "\n";
}

/** Fastest counter reading while a grace period runs. */
export const POLL_MIN_MS = 1000;
/**
 * A reading's cost per grace period: `nft -j list` prints every element (~120 bytes of JSON each),
 * so at 1,671 grace periods (a restart at 5,000 Services) one reading was 200 KB, 25-60 ms of nft's
 * CPU and 1.4-5.6 ms of parsing on the event loop. Reading less often as they grow keeps the cost
 * per second the same (up to 3,000 grace periods at the default idle timeout).
 */
const POLL_MS_PER_GRACE = 5;

/**
 * How long to wait before the next counter reading: a second for up to 200 grace periods, longer
 * for more, but at most a quarter of the idle timeout. A packet counts from the reading that saw
 * it, so a grace period ends idle up to one interval early or late.
 */
export function pollIntervalMs(graces: number, idleMs: number): number {
  return Math.max(POLL_MIN_MS, Math.min(graces * POLL_MS_PER_GRACE, idleMs / 4));
}

export interface ForwardCounters {
  /** Packets forwarded per floating IP since the table was loaded. */
  packets: Map<string, number>;
  /** Flows seen within the flow timeout, per floating IP. */
  flows: Map<string, number>;
}

interface NftJson {
  nftables?: Record<string, unknown>[];
}

/**
 * Reads `nft -j list table <family> floatip`: the counter of each element of the forwarded set (one
 * per IP in grace) and the elements of the flows set (keyed by the floating IP, their first field).
 * Unknown or malformed parts are skipped.
 */
export function parseCounters(json: string, into: ForwardCounters): ForwardCounters {
  let doc: NftJson;
  try {
    doc = JSON.parse(json) as NftJson;
  } catch {
    return into;
  }
  for (const item of doc.nftables ?? []) {
    const set = item.set as { name?: string; elem?: unknown[] } | undefined;
    if (set?.name === FORWARDED_SET) {
      for (const elem of set.elem ?? []) {
        const e = (elem as { elem?: { val?: unknown; counter?: { packets?: unknown } } } | null)?.elem;
        const packets = e?.counter?.packets;
        if (typeof e?.val === "string" && typeof packets === "number")
          into.packets.set(e.val, (into.packets.get(e.val) ?? 0) + packets);
      }
    }
    if (set?.name === "flows") {
      for (const elem of set.elem ?? []) {
        const ip = firstField(elem);
        if (ip !== undefined) into.flows.set(ip, (into.flows.get(ip) ?? 0) + 1);
      }
    }
  }
  return into;
}

/** The first field of a concatenated set element, bare or wrapped in {elem: {val: …}}. */
function firstField(elem: unknown): string | undefined {
  let value: unknown = elem;
  if (value && typeof value === "object" && "elem" in value)
    value = (value as { elem: { val?: unknown } }).elem.val;
  if (value && typeof value === "object" && "concat" in value)
    value = (value as { concat: unknown[] }).concat[0];
  return typeof value === "string" ? value : undefined;
}
