// What a speaker reports in its ConfigurationState (speaker-<node>): the pools and L2Advertisements
// it cannot use: a pure status function, and the writer the speaker calls.

import type { Logger } from "pino";
import {
  CONFIG_CONDITION,
  configStateLabels,
  configurationStatus,
  POOL_CONDITION,
  speakerConfigStateName,
  type ConfigurationStatus,
} from "../api/configstate.js";
import { validateL2Advertisement } from "../api/l2advertisement.js";
import { parsePool } from "../api/pool.js";
import {
  METALLB_API_VERSION,
  METALLB_GROUP,
  METALLB_VERSION,
  type Condition,
  type IPAddressPool,
  type L2Advertisement,
} from "../api/types.js";
import type { KubeApi } from "../kube/api.js";
import { errorText, isConflict } from "../kube/errors.js";
import { kubeTime } from "../kube/events.js";

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

/**
 * Writes speaker-<node>'s ConfigurationState when what it says changes. Checked every few seconds
 * (not per tick: it re-parses every pool), best effort: failures are logged and retried next time.
 */
export class SpeakerConfigState {
  private written: string | undefined;
  private conditions: Condition[] = [];
  private busy = false;

  constructor(
    private readonly api: KubeApi,
    private readonly namespace: string,
    private readonly node: string,
    private readonly log: Logger,
  ) {}

  async update(pools: readonly IPAddressPool[], ads: readonly L2Advertisement[]): Promise<void> {
    const status = speakerConfigurationStatus(pools, ads, kubeTime(), this.conditions);
    const signature = JSON.stringify([status.result, status.errorSummary]);
    if (signature === this.written || this.busy) return;
    this.busy = true;
    const path = `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${this.namespace}/configurationstates`;
    const name = speakerConfigStateName(this.node);
    try {
      await this.api
        .request("POST", path, {
          body: {
            apiVersion: METALLB_API_VERSION,
            kind: "ConfigurationState",
            metadata: { name, labels: configStateLabels("speaker", this.node) },
          },
        })
        .catch((err: unknown) => {
          if (!isConflict(err)) throw err;
        });
      await this.api.request("PATCH", `${path}/${name}/status`, { patch: "merge", body: { status } });
      this.written = signature;
      this.conditions = status.conditions;
    } catch (err) {
      this.log.warn(
        { event: "configStateFailed", error: errorText(err) },
        "cannot write the speaker's ConfigurationState",
      );
    } finally {
      this.busy = false;
    }
  }
}
