// The rules a Service's addresses must satisfy: one pool the Service may use (locate), sharing an IP
// with its other holders (allow-shared-ip, backends, ports), and the requested IP families.

import { isBuggyIPv4 } from "../api/ip.js";
import { poolRefusal, type ParsedPool, type ServiceIdentity } from "../api/pool.js";
import { cmpStr, fail, type Alloc, type Failure, type HeldIP } from "./held.js";
import type { Ledger } from "./ledger.js";
import {
  describeHolder,
  heldElsewhereMessage,
  unavailableIPMessage,
  unavailablePoolMessage,
} from "./messages.js";
import type { NormalizedRequest } from "./normalize.js";
import type { PoolIndex } from "./poolindex.js";

/**
 * Finds the single pool holding all `ips` and checks the Service may use it. `wantedPool` is the
 * metallb.io/address-pool value, when it must match.
 */
export function locate(
  index: PoolIndex,
  ips: readonly HeldIP[],
  svc: ServiceIdentity & { key?: string },
  wantedPool: string | undefined,
  what: "requested" | "restored" | "held",
): { ok: true; pool: ParsedPool } | Failure {
  let pool: ParsedPool | undefined;
  for (const ip of ips) {
    const p = index.containing(ip.family, ip.value);
    if (!p) {
      return fail(
        "requested-ip-not-in-pool",
        what === "held"
          ? `IP ${ip.text} is no longer inside any IPAddressPool`
          : unavailableIPMessage(what, ip.text),
      );
    }
    // Before anything that names the pool or looks at its holders: a pool the Service may not use
    // is not described to it (the held case names the pool the Service itself had).
    const refusal = poolRefusal(p, svc);
    if (refusal) {
      return what === "held"
        ? fail("namespace-not-allowed", refusal)
        : fail("namespace-not-allowed", unavailableIPMessage(what, ip.text), `${ip.text}: ${refusal}`);
    }
    if (p.avoidBuggyIPs && ip.family === "IPv4" && isBuggyIPv4(ip.value)) {
      return fail(
        "requested-ip-not-in-pool",
        `${what} IP ${ip.text} ends in .0 or .255, which pool ${JSON.stringify(p.name)} excludes (avoidBuggyIPs: true); pick another address`,
      );
    }
    if (pool && pool !== p) {
      return fail(
        "pool-mismatch",
        `${what} IPs ${ips.map((i) => i.text).join(",")} lie in different pools (${JSON.stringify(pool.name)}, ` +
          `${JSON.stringify(p.name)}); all addresses of a Service must come from one pool`,
      );
    }
    pool = p;
  }
  if (!pool) return fail("invalid-request", "no IPs given");
  if (wantedPool !== undefined && wantedPool !== pool.name) {
    const wanted = index.get(wantedPool);
    if (!wanted) return fail("unknown-pool", unavailablePoolMessage(wantedPool));
    const refusal = poolRefusal(wanted, svc);
    if (refusal) return fail("namespace-not-allowed", unavailablePoolMessage(wantedPool), refusal);
    return fail(
      "pool-mismatch",
      `${what} IPs ${ips.map((i) => i.text).join(",")} are in pool ${JSON.stringify(pool.name)} but ` +
        `metallb.io/address-pool asks for ${JSON.stringify(wantedPool)}; remove the annotation or pick addresses from that pool`,
    );
  }
  return { ok: true, pool };
}

/** Why `req` may not use `ip` given its other holders, or undefined if it may. */
export function sharingProblem(ledger: Ledger, ip: HeldIP, req: NormalizedRequest): string | undefined {
  const holders = [...ledger.holders(ip.text)].filter((k) => k !== req.key).sort(cmpStr);
  if (holders.length === 0) return undefined;
  const first = ledger.allocs.get(holders[0]!)!;
  const problem = sharingConflict(ledger, ip, req, holders, first);
  if (problem === undefined) return undefined;
  // Nothing about another namespace's Services is told: not their names, keys, backends or ports.
  return problem.holder.namespace === req.namespace ? problem.message : heldElsewhereMessage(ip.text);
}

function sharingConflict(
  ledger: Ledger,
  ip: HeldIP,
  req: NormalizedRequest,
  holders: readonly string[],
  first: Alloc,
): { holder: Alloc; message: string } | undefined {
  const who = describeHolder(first, req.namespace);
  const at = (message: string, holder = first) => ({ holder, message });
  if (req.sharingKey === undefined) {
    return at(
      `${ip.text} is already used by ${who}; to share it, give both Services the same metallb.io/allow-shared-ip value and non-overlapping ports`,
    );
  }
  if (first.sharingKey === undefined) {
    return at(
      `${ip.text} is already used by ${who}, which does not allow sharing (no metallb.io/allow-shared-ip)`,
    );
  }
  if (first.sharingKey !== req.sharingKey) {
    return at(
      `${ip.text} is already used by ${who} with a different metallb.io/allow-shared-ip value; the values must be equal to share`,
    );
  }
  if (first.backendKey !== req.backendKey) {
    return at(
      `${ip.text} is shared with ${who} but the backends differ: Services sharing an IP with ` +
        "externalTrafficPolicy: Local must both be Local and have identical pod selectors",
    );
  }
  for (const k of holders) {
    const other = ledger.allocs.get(k)!;
    for (const p of req.ports) {
      if (other.ports.some((q) => q.port === p.port && q.protocol === p.protocol)) {
        return at(
          `port ${p.port}/${p.protocol} is already used on ${ip.text} by ${describeHolder(other, req.namespace)}; Services sharing an IP need distinct ports`,
          other,
        );
      }
    }
  }
  return undefined;
}

/** A message if the held IPs' families don't fit the request's families/policy. */
export function familyMismatch(ips: readonly HeldIP[], req: NormalizedRequest): string | undefined {
  const have = ips.map((i) => i.family);
  const subset = have.every((f) => req.families.includes(f));
  const complete = req.families.every((f) => have.includes(f));
  if (subset && (complete || (req.mode === "prefer" && have.length > 0))) return undefined;
  return `holds ${have.join("+") || "nothing"} but the Service needs ${req.families.join("+")} (spec.ipFamilies/ipFamilyPolicy)`;
}
