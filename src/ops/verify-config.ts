/**
 * verify's checks of the floatip configuration objects, pure: the pools the controller actually
 * uses (it ignores invalid ones and those overlapping an older pool) and every L2Advertisement's
 * references (pools that exist and are used, node selectors that match a node).
 */
import {
  l2AdvertisementSelectsNode,
  l2AdvertisementSelectsPool,
  validateL2Advertisement,
} from "../api/l2advertisement.js";
import { preparePools } from "../api/pool.js";
import type { IPAddressPool, L2Advertisement } from "../api/types.js";
import type { CheckResult } from "./verify.js";

export function checkPools(pools: readonly IPAddressPool[], namespace: string): CheckResult {
  if (pools.length === 0)
    return {
      check: "IPAddressPool",
      status: "fail",
      detail: `none in ${namespace}`,
      fix: "create the seed's IPAddressPool with your floating IP (autoAssign: false)",
    };
  const { pools: used, rejected } = preparePools(pools);
  if (rejected.length > 0)
    return {
      check: "IPAddressPool",
      status: "fail",
      detail: `the controller ignores ${rejected.map((r) => `${r.name} (${r.errors.join("; ")})`).join(" | ")}`,
      fix: "fix or delete the ignored pools: their addresses are never assigned",
    };
  return {
    check: "IPAddressPool",
    status: "pass",
    detail: used
      .map((p) => `${p.name} [${p.ranges.map((r) => r.source).join(", ")}] autoAssign=${p.autoAssign}`)
      .join("; "),
  };
}

interface NodeLike {
  name: string;
  labels?: Record<string, string>;
}

/** Problems of one advertisement against the pools the controller uses and the nodes. */
function advertisementProblems(
  a: L2Advertisement,
  pools: readonly IPAddressPool[],
  nodes: readonly NodeLike[],
): string[] {
  const problems = validateL2Advertisement(a);
  const { pools: used, rejected } = preparePools(pools);
  const ignored = new Set(rejected.map((r) => r.name));
  const exists = new Set(pools.map((p) => p.metadata.name));
  for (const name of a.spec?.ipAddressPools ?? []) {
    if (!exists.has(name)) problems.push(`names pool ${name}, which does not exist`);
    else if (ignored.has(name)) problems.push(`names pool ${name}, which the controller ignores`);
  }
  if ((a.spec?.ipAddressPoolSelectors?.length ?? 0) > 0 && !(a.spec?.ipAddressPools?.length ?? 0)) {
    if (!used.some((p) => l2AdvertisementSelectsPool(a, { name: p.name, labels: p.labels })))
      problems.push("its ipAddressPoolSelectors match no pool");
  }
  if (nodes.length > 0 && !nodes.some((n) => l2AdvertisementSelectsNode(a, n.labels)))
    problems.push("its nodeSelectors match no node: nothing would announce");
  return problems;
}

export function checkAdvertisements(
  ads: readonly L2Advertisement[],
  pools: readonly IPAddressPool[],
  nodes: readonly NodeLike[],
  namespace: string,
): CheckResult {
  if (ads.length === 0)
    return {
      check: "L2Advertisement",
      status: "fail",
      detail: `none in ${namespace}: IPs would be assigned but never announced`,
      fix: "create the seed's L2Advertisement (ipAddressPools: [your pool], interfaces: [ens3])",
    };
  const bad = ads
    .map((a) => ({ a, problems: advertisementProblems(a, pools, nodes) }))
    .filter((x) => x.problems.length > 0);
  if (bad.length > 0)
    return {
      check: "L2Advertisement",
      status: "fail",
      detail: bad.map((x) => `${x.a.metadata.name}: ${x.problems.join("; ")}`).join(" | "),
      fix:
        "name existing pools in spec.ipAddressPools (kubectl get ipaddresspools -n " +
        namespace +
        ") and nodes that exist in spec.nodeSelectors",
    };
  return {
    check: "L2Advertisement",
    status: "pass",
    detail: ads
      .map(
        (a) =>
          `${a.metadata.name} pools=[${(a.spec?.ipAddressPools ?? ["*"]).join(",")}] interfaces=[${(a.spec?.interfaces ?? ["*"]).join(",")}]`,
      )
      .join("; "),
  };
}
