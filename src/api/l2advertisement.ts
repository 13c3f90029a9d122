// Which pools and nodes an L2Advertisement applies to.

import { matchesLabelSelector, validateLabelSelector } from "./labelselector.js";
import type { L2Advertisement } from "./types.js";

/** Neither ipAddressPools nor ipAddressPoolSelectors set = every pool. Otherwise the union of both. */
export function l2AdvertisementSelectsPool(
  adv: L2Advertisement,
  pool: { name: string; labels?: Readonly<Record<string, string>> },
): boolean {
  const names = adv.spec?.ipAddressPools ?? [];
  const selectors = adv.spec?.ipAddressPoolSelectors ?? [];
  if (names.length === 0 && selectors.length === 0) return true;
  return names.includes(pool.name) || selectors.some((s) => matchesLabelSelector(s, pool.labels));
}

/** No nodeSelectors = every node; otherwise any selector matching is enough. */
export function l2AdvertisementSelectsNode(
  adv: L2Advertisement,
  nodeLabels: Readonly<Record<string, string>> | undefined,
): boolean {
  const selectors = adv.spec?.nodeSelectors ?? [];
  if (selectors.length === 0) return true;
  return selectors.some((s) => matchesLabelSelector(s, nodeLabels));
}

/** serviceSelectors (MetalLB v0.16): none = every Service; otherwise any selector matching is enough. */
export function l2AdvertisementSelectsService(
  adv: L2Advertisement,
  serviceLabels: Readonly<Record<string, string>> | undefined,
): boolean {
  const selectors = adv.spec?.serviceSelectors ?? [];
  return selectors.length === 0 || selectors.some((s) => matchesLabelSelector(s, serviceLabels));
}

/**
 * The sum of the preferredNodeSelectors weights whose preference matches the node (MetalLB v0.16).
 * Weights outside 1-100 (which the API server refuses) count as 0 rather than skewing the ranking.
 */
export function l2AdvertisementPreferredWeight(
  adv: L2Advertisement,
  nodeLabels: Readonly<Record<string, string>> | undefined,
): number {
  let total = 0;
  for (const p of adv.spec?.preferredNodeSelectors ?? []) {
    const valid = Number.isInteger(p.weight) && p.weight >= 1 && p.weight <= 100;
    if (valid && matchesLabelSelector(p.preference ?? {}, nodeLabels)) total += p.weight;
  }
  return total;
}

/** Validation problems in an L2Advertisement spec; empty = valid. */
export function validateL2Advertisement(adv: L2Advertisement): string[] {
  const errors: string[] = [];
  const dup = (list: string[] | undefined, where: string): void => {
    const seen = new Set<string>();
    for (const v of list ?? []) {
      if (seen.has(v)) errors.push(`${where} lists ${JSON.stringify(v)} twice`);
      seen.add(v);
    }
  };
  dup(adv.spec?.ipAddressPools, "spec.ipAddressPools");
  dup(adv.spec?.interfaces, "spec.interfaces");
  (adv.spec?.ipAddressPoolSelectors ?? []).forEach((s, i) =>
    errors.push(...validateLabelSelector(s, `spec.ipAddressPoolSelectors[${i}]`)),
  );
  (adv.spec?.nodeSelectors ?? []).forEach((s, i) =>
    errors.push(...validateLabelSelector(s, `spec.nodeSelectors[${i}]`)),
  );
  (adv.spec?.serviceSelectors ?? []).forEach((s, i) =>
    errors.push(...validateLabelSelector(s, `spec.serviceSelectors[${i}]`)),
  );
  (adv.spec?.preferredNodeSelectors ?? []).forEach((p, i) => {
    const where = `spec.preferredNodeSelectors[${i}]`;
    if (!Number.isInteger(p.weight) || p.weight < 1 || p.weight > 100) {
      errors.push(`${where}.weight must be an integer from 1 to 100, got ${JSON.stringify(p.weight)}`);
    }
    errors.push(...validateLabelSelector(p.preference ?? {}, `${where}.preference`));
  });
  return errors;
}
