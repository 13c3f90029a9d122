// What the components say about the configuration (ConfigurationState, MetalLB v0.16), and the
// L2Advertisement fields of v0.16 that change who announces: serviceSelectors with a sharing
// Service (never announced), preferredNodeSelectors (who should own the IP). The cores take plain
// objects so `floatip verify` runs the same rules; the Checks below adapt them to a Snapshot.

import { readAnnotation } from "../../../api/annotations.js";
import { matchesLabelSelector } from "../../../api/labelselector.js";
import {
  l2AdvertisementSelectsNode,
  l2AdvertisementSelectsPool,
  l2AdvertisementSelectsService,
} from "../../../api/l2advertisement.js";
import { serviceKeyOf } from "../../../api/service.js";
import type { ConfigurationState, L2Advertisement } from "../../../api/types.js";
import { allocatedPool, ingressIPs } from "../evidence.js";
import type { Check, Finding } from "../types.js";

type Labels = Readonly<Record<string, string>> | undefined;

export const CONFIGURATION_FIX =
  "Fix the objects named above (kubectl describe them); the component reports Valid once they are usable.";

export const SHARED_FIX =
  "Remove allow-shared-ip from the Service, or announce its pool through an L2Advertisement without serviceSelectors.";

/** The ConfigurationStates whose status.result is Invalid. */
export function invalidConfigurationStates(states: readonly ConfigurationState[]): ConfigurationState[] {
  return states.filter((cs) => cs.status?.result === "Invalid");
}

/**
 * The advertisements that select a sharing Service (allow-shared-ip) of `pool` by serviceSelectors:
 * MetalLB v0.16 never announces such a Service through them. Empty when the Service does not share.
 */
export function sharingNeverAnnouncedBy(
  svc: { labels?: Labels; annotations?: Labels },
  pool: { name: string; labels?: Labels },
  ads: readonly L2Advertisement[],
): L2Advertisement[] {
  if (readAnnotation(svc.annotations ?? undefined, "allow-shared-ip") === undefined) return [];
  return ads.filter(
    (a) =>
      (a.spec?.serviceSelectors ?? []).length > 0 &&
      l2AdvertisementSelectsPool(a, pool) &&
      l2AdvertisementSelectsService(a, svc.labels),
  );
}

/**
 * preferredNodeSelectors terms of an advertisement that prefer no node it selects: the preference
 * never applies (any eligible node owns the IP), usually a typo in a label. Returns the terms' indexes.
 */
export function preferencesMatchingNoNode(
  ad: L2Advertisement,
  nodes: readonly { labels?: Labels }[],
): number[] {
  const selected = nodes.filter((n) => l2AdvertisementSelectsNode(ad, n.labels));
  const out: number[] = [];
  (ad.spec?.preferredNodeSelectors ?? []).forEach((p, i) => {
    if (!selected.some((n) => matchesLabelSelector(p.preference ?? {}, n.labels))) out.push(i);
  });
  return out;
}

export const checkConfigurationStates: Check = (snap) =>
  invalidConfigurationStates(snap.configurationStates ?? []).map((cs) => ({
    check: "configuration-invalid",
    severity: "error",
    object: { kind: "ConfigurationState", namespace: snap.config.namespace, name: cs.metadata.name },
    explanation: `${cs.metadata.name} reports an invalid configuration:\n${cs.status?.errorSummary ?? "(no summary)"}`,
    fix: CONFIGURATION_FIX,
  }));

export const checkSharedWithServiceSelectors: Check = (snap) => {
  const out: Finding[] = [];
  for (const svc of snap.services) {
    const pool = allocatedPool(svc);
    if (!pool || ingressIPs(svc).length === 0) continue;
    const ads = sharingNeverAnnouncedBy(svc.metadata, { name: pool }, snap.l2Advertisements ?? []);
    if (ads.length === 0) continue;
    out.push({
      check: "shared-ip-with-service-selectors",
      severity: "error",
      object: { kind: "L2Advertisement", namespace: snap.config.namespace, name: ads[0]!.metadata.name },
      service: serviceKeyOf(svc),
      explanation: `${serviceKeyOf(svc)} carries allow-shared-ip and L2Advertisement ${ads.map((a) => a.metadata.name).join(", ")} selects it by serviceSelectors: such a Service is never announced (MetalLB v0.16 rule).`,
      fix: SHARED_FIX,
    });
  }
  return out;
};

export const checkPreferredNodes: Check = (snap) => {
  const nodes = snap.nodes.map((n) => ({ labels: n.metadata.labels }));
  if (nodes.length === 0) return [];
  return (snap.l2Advertisements ?? []).flatMap((ad): Finding[] => {
    const terms = preferencesMatchingNoNode(ad, nodes);
    if (terms.length === 0) return [];
    return [
      {
        check: "preferred-nodes-match-nothing",
        severity: "warning",
        object: { kind: "L2Advertisement", namespace: snap.config.namespace, name: ad.metadata.name },
        explanation: preferredExplanation(ad, terms),
        fix: preferredFix(ad.metadata.name, snap.config.namespace),
      },
    ];
  });
};

export function preferredExplanation(ad: L2Advertisement, terms: readonly number[]): string {
  const which = terms.map((i) => `spec.preferredNodeSelectors[${i}]`).join(", ");
  return `L2Advertisement ${ad.metadata.name}: ${which} prefer no node it selects, so the preference never applies (any eligible node owns the IP).`;
}

export function preferredFix(name: string, namespace: string): string {
  return `Compare the preference with the node labels (kubectl get nodes --show-labels) and fix it: kubectl -n ${namespace} edit l2advertisement ${name}`;
}
