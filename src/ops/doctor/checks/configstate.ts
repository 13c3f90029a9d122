// What the components say about the configuration (ConfigurationState, MetalLB v0.16), and the
// L2Advertisement fields of v0.16 that change who announces: serviceSelectors with a sharing
// Service (never announced), preferredNodeSelectors (who should own the IP).

import { readAnnotation } from "../../../api/annotations.js";
import { l2AdvertisementSelectsPool, l2AdvertisementSelectsService } from "../../../api/l2advertisement.js";
import { serviceKeyOf } from "../../../api/service.js";
import { allocatedPool, ingressIPs } from "../evidence.js";
import type { Check, Finding } from "../types.js";

export const checkConfigurationStates: Check = (snap) => {
  const out: Finding[] = [];
  for (const cs of snap.configurationStates ?? []) {
    if (cs.status?.result !== "Invalid") continue;
    out.push({
      check: "configuration-invalid",
      severity: "error",
      object: { kind: "ConfigurationState", namespace: snap.config.namespace, name: cs.metadata.name },
      explanation: `${cs.metadata.name} reports an invalid configuration:\n${cs.status.errorSummary ?? "(no summary)"}`,
      fix: "Fix the objects named above (kubectl describe them); the component reports Valid once they are usable.",
    });
  }
  return out;
};

export const checkSharedWithServiceSelectors: Check = (snap) => {
  const out: Finding[] = [];
  for (const svc of snap.services) {
    const pool = allocatedPool(svc);
    if (!pool || ingressIPs(svc).length === 0) continue;
    if (readAnnotation(svc.metadata.annotations, "allow-shared-ip") === undefined) continue;
    const ads = (snap.l2Advertisements ?? []).filter(
      (a) =>
        l2AdvertisementSelectsPool(a, { name: pool }) &&
        l2AdvertisementSelectsService(a, svc.metadata.labels) &&
        (a.spec?.serviceSelectors ?? []).length > 0,
    );
    if (ads.length === 0) continue;
    out.push({
      check: "shared-ip-with-service-selectors",
      severity: "error",
      object: { kind: "L2Advertisement", namespace: snap.config.namespace, name: ads[0]!.metadata.name },
      service: serviceKeyOf(svc),
      explanation: `${serviceKeyOf(svc)} carries allow-shared-ip and L2Advertisement ${ads.map((a) => a.metadata.name).join(", ")} selects it by serviceSelectors: such a Service is never announced (MetalLB v0.16 rule).`,
      fix: "Remove allow-shared-ip from the Service, or announce its pool through an L2Advertisement without serviceSelectors.",
    });
  }
  return out;
};
