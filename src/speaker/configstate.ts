// What a speaker reports in its ConfigurationState (speaker-<node>): the pools and L2Advertisements
// it cannot use. Pure; the speaker writes the result (not wired yet: see src/speaker/README).

import {
  CONFIG_CONDITION,
  configurationStatus,
  POOL_CONDITION,
  type ConfigurationStatus,
} from "../api/configstate.js";
import { validateL2Advertisement } from "../api/l2advertisement.js";
import { parsePool } from "../api/pool.js";
import type { Condition, IPAddressPool, L2Advertisement } from "../api/types.js";

export function speakerConfigurationStatus(
  pools: readonly IPAddressPool[],
  ads: readonly L2Advertisement[],
  now: string,
  previous: readonly Condition[] = [],
): ConfigurationStatus {
  const poolErrors = pools.flatMap((p) => {
    const r = parsePool(p);
    return r.ok ? [] : r.errors.map((e) => `IPAddressPool ${r.name}: ${e}`);
  });
  const adErrors = ads.flatMap((a) =>
    validateL2Advertisement(a).map((e) => `L2Advertisement ${a.metadata.name}: ${e}`),
  );
  return configurationStatus(
    [
      { type: POOL_CONDITION, errors: poolErrors },
      { type: CONFIG_CONDITION, errors: adErrors },
    ],
    now,
    previous,
  );
}
