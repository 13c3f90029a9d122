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
  return errors;
}
