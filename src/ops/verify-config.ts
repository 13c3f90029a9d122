/**
 * verify's checks of the floatip configuration objects, pure: the pools the controller actually
 * uses (it ignores invalid ones and those overlapping an older pool) and every L2Advertisement's
 * references (pools that exist and are used, node selectors that match a node), the MetalLB v0.16
 * fields (ConfigurationState, serviceSelectors, preferredNodeSelectors; the rules are doctor's) and
 * the interfaces named against those the speakers publish on their Leases.
 */
import {
  l2AdvertisementSelectsNode,
  l2AdvertisementSelectsPool,
  l2AdvertisementSelectsService,
  validateL2Advertisement,
} from "../api/l2advertisement.js";
import { preparePools } from "../api/pool.js";
import type { ConfigurationState, IPAddressPool, L2Advertisement } from "../api/types.js";
import { LEASE_INTERFACES_ANNOTATION, leaseName } from "../speaker/lease.js";
import {
  CONFIGURATION_FIX,
  SHARED_FIX,
  invalidConfigurationStates,
  preferencesMatchingNoNode,
  preferredExplanation,
  preferredFix,
  sharingNeverAnnouncedBy,
} from "./doctor/checks/configstate.js";
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

export interface NodeLike {
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

/** What the controller and speakers say about the configuration (MetalLB v0.16 ConfigurationState). */
export function checkConfigurationState(
  states: readonly ConfigurationState[] | undefined,
  namespace: string,
  /** Why they could not be read (undefined with no states: the CRD is not installed). */
  unread?: string,
): CheckResult {
  const check = "ConfigurationState";
  if (states === undefined) return { check, status: "skip", detail: unread ?? "CRD not installed" };
  if (states.length === 0)
    return { check, status: "skip", detail: `none in ${namespace} (components that predate it write none)` };
  const invalid = invalidConfigurationStates(states);
  if (invalid.length > 0)
    return {
      check,
      status: "fail",
      detail: invalid
        .map((cs) => `${cs.metadata.name} Invalid: ${cs.status?.errorSummary ?? "(no summary)"}`)
        .join(" | "),
      fix: `${CONFIGURATION_FIX} Details: kubectl -n ${namespace} get configurationstates -o yaml`,
    };
  return {
    check,
    status: "pass",
    detail: states.map((cs) => `${cs.metadata.name} ${cs.status?.result ?? "Unknown"}`).join(", "),
  };
}

type Labels = Readonly<Record<string, string>> | undefined;

/**
 * The L2Advertisements serving the verified Service's pool against the v0.16 fields: one that
 * selects the Service (serviceSelectors), none that never announces it because it shares its IP,
 * preferences that prefer a node it selects.
 */
export function checkServingAdvertisements(
  svc: { key: string; labels?: Labels; annotations?: Labels },
  pool: { name: string; labels?: Labels },
  ads: readonly L2Advertisement[],
  nodes: readonly NodeLike[],
  namespace: string,
): CheckResult {
  const check = "advertisements of the pool";
  const forPool = ads.filter((a) => l2AdvertisementSelectsPool(a, pool));
  const serving = forPool.filter((a) => l2AdvertisementSelectsService(a, svc.labels));
  const names = (list: readonly L2Advertisement[]) => list.map((a) => a.metadata.name).join(", ");
  if (forPool.length > 0 && serving.length === 0)
    return {
      check,
      status: "fail",
      detail: `the serviceSelectors of ${names(forPool)} (pool ${pool.name}) do not match ${svc.key}: it is never announced`,
      fix: `label the Service to match, or add an L2Advertisement for ${pool.name} without serviceSelectors`,
    };
  const never = sharingNeverAnnouncedBy(svc, pool, serving);
  if (never.length > 0)
    return {
      check,
      status: "fail",
      detail: `${svc.key} carries allow-shared-ip and ${names(never)} select it by serviceSelectors: never announced (MetalLB v0.16 rule)`,
      fix: SHARED_FIX,
    };
  const unpreferred =
    nodes.length === 0 ? [] : serving.filter((a) => preferencesMatchingNoNode(a, nodes).length > 0);
  if (unpreferred.length > 0)
    return {
      check,
      status: "warn",
      detail: unpreferred
        .map((a) => preferredExplanation(a, preferencesMatchingNoNode(a, nodes)))
        .join(" | "),
      fix: preferredFix(unpreferred[0]!.metadata.name, namespace),
    };
  return { check, status: "pass", detail: `${svc.key} announced through ${names(serving) || "(none)"}` };
}

/**
 * Interfaces per node from the speakers' Leases; undefined: unknown (an older speaker). A node
 * without a speaker Lease is left out: nothing announces there, whatever it has.
 */
export function publishedInterfaces(
  leases: readonly { metadata?: { name?: string; annotations?: Record<string, string> } }[],
  nodes: readonly NodeLike[],
): Map<string, readonly string[] | undefined> {
  const out = new Map<string, readonly string[] | undefined>();
  for (const n of nodes) {
    const lease = leases.find((l) => l.metadata?.name === leaseName(n.name));
    if (!lease) continue;
    const value = lease?.metadata?.annotations?.[LEASE_INTERFACES_ANNOTATION];
    out.set(n.name, value === undefined ? undefined : value.split(",").filter(Boolean));
  }
  return out;
}

/**
 * Every L2Advertisement's `interfaces` against what the nodes it selects have: an interface no
 * selected node with a speaker has means nothing announces there (FAIL); nodes whose speakers do
 * not say are "unknown".
 */
export function checkInterfaces(
  ads: readonly L2Advertisement[],
  nodes: readonly NodeLike[],
  published: ReadonlyMap<string, readonly string[] | undefined>,
  namespace: string,
): CheckResult {
  const check = "L2Advertisement interfaces";
  const failed: string[] = [];
  const doubtful: string[] = [];
  const unknownNodes = new Set<string>();
  for (const a of ads) {
    const selected = nodes.filter((n) => published.has(n.name) && l2AdvertisementSelectsNode(a, n.labels));
    const known = selected.filter((n) => published.get(n.name) !== undefined);
    selected.filter((n) => published.get(n.name) === undefined).forEach((n) => unknownNodes.add(n.name));
    const have = known.map((n) => `${n.name}: ${published.get(n.name)!.join(",") || "(none)"}`).join("; ");
    for (const iface of a.spec?.interfaces ?? []) {
      if (known.length === 0 || known.some((n) => published.get(n.name)!.includes(iface))) continue;
      const line = `${a.metadata.name} names ${iface}, which no selected node has (${have})`;
      (known.length === selected.length ? failed : doubtful).push(line);
    }
  }
  const unknown =
    unknownNodes.size > 0
      ? `; unknown for ${[...unknownNodes].sort().join(", ")} (their speakers do not publish interfaces)`
      : "";
  if (failed.length > 0)
    return {
      check,
      status: "fail",
      detail: failed.join(" | ") + unknown,
      fix: `name interfaces the nodes have in spec.interfaces (kubectl -n ${namespace} edit l2advertisement <name>), or leave it empty for the speakers' default`,
    };
  if (doubtful.length > 0) return { check, status: "warn", detail: doubtful.join(" | ") + unknown };
  const named = ads.filter((a) => (a.spec?.interfaces ?? []).length > 0);
  if (named.length === 0)
    return { check, status: "pass", detail: "none named: the speakers use their default interfaces" };
  if ([...published.values()].every((v) => v === undefined))
    return { check, status: "skip", detail: unknown.replace(/^; /, "") || "no speaker Lease" };
  return { check, status: "pass", detail: `every named interface exists on a selected node${unknown}` };
}
