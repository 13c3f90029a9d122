/**
 * What the speaker refuses to announce, and the limits that keep bad input from costing more than
 * good input. Pure. The controller assigns at most one IP per family to a Service (MetalLB's rule,
 * allocator/normalize.ts); a status that lists more was written by someone else, so the speaker
 * announces the first IP of each family and refuses the rest: a 1,000-IP status costs what a
 * dual-stack one does, in the plan, in the heartbeat's IP list and in status writes.
 */
import { parseIP, type ParsedIP } from "../api/ip.js";
import { listSome } from "../common/text.js";

export { listSome } from "../common/text.js";

/** Why a Service (or some of its IPs) is not announced; the label values of the refusal metric. */
export type RefusalCode =
  "noPoolAnnotation" | "poolMissing" | "ipNotInPool" | "poolNotAllowed" | "tooManyIPs";

export interface Refusal {
  service: string;
  code: RefusalCode;
  /** For people: what is refused and how to fix it. Stable while the object does not change. */
  reason: string;
}

/** The IPs per family a Service may have announced (the controller never assigns more). */
export const MAX_IPS_PER_FAMILY = 1;

export interface Capped {
  /** The first IP of each family in status order (and the first unparsable one, refused later). */
  kept: string[];
  /** `kept` parsed (undefined: unparsable). */
  parsed: (ParsedIP | undefined)[];
  /** The rest, in status order. */
  dropped: string[];
}

/**
 * At most MAX_IPS_PER_FAMILY IPs per family, the first ones in status order, so that every speaker
 * keeps the same. Parses each IP once; an unparsable one is kept once (the pool check refuses it).
 */
export function capPerFamily(ips: readonly string[]): Capped {
  const count = new Map<string, number>();
  const kept: string[] = [];
  const parsed: (ParsedIP | undefined)[] = [];
  const dropped: string[] = [];
  for (const ip of ips) {
    const p = parseIP(ip);
    const family = p?.family ?? "invalid";
    const n = count.get(family) ?? 0;
    if (n < MAX_IPS_PER_FAMILY) {
      kept.push(ip);
      parsed.push(p);
    } else dropped.push(ip);
    count.set(family, n + 1);
  }
  return { kept, parsed, dropped };
}

/** The refusal for the IPs `capPerFamily` dropped. */
export function tooManyIPs(service: string, ips: readonly string[], capped: Capped): Refusal {
  return {
    service,
    code: "tooManyIPs",
    reason:
      `status.loadBalancer.ingress lists ${ips.length} IPs; announcing ${capped.kept.join(", ")} only ` +
      `(at most ${MAX_IPS_PER_FAMILY} per family, as the controller assigns); refused ${listSome(capped.dropped)}. ` +
      `Request one IP per family (metallb.io/loadBalancerIPs) and let the controller write the status`,
  };
}
