/**
 * Writes the controller's ConfigurationState (metallb.io/v1beta1, MetalLB v0.16) in its namespace:
 * Valid, or Invalid with the pools it had to ignore. Only when what it says changes; best effort
 * (a failure is logged and retried with the next pool status flush).
 */
import type { Logger } from "pino";
import {
  CONTROLLER_CONFIG_STATE,
  configStateLabels,
  configurationStatus,
  POOL_CONDITION,
} from "../api/configstate.js";
import { METALLB_API_VERSION, METALLB_GROUP, METALLB_VERSION, type Condition } from "../api/types.js";
import { kubeTime } from "../kube/events.js";
import { errorText, isAlreadyExists } from "../kube/errors.js";
import { type KubeApi } from "../kube/api.js";
import { NotLeader } from "./writer.js";

export class ConfigStateWriter {
  private written: string | undefined;
  private conditions: Condition[] = [];

  constructor(
    private readonly api: KubeApi,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  /** Forget what was written (a new leader writes its view once). */
  reset(): void {
    this.written = undefined;
  }

  /** `rejected`: pools the controller ignores, with why. Returns false if the write failed. */
  async write(rejected: readonly { name: string; errors: string[] }[], guard: () => void): Promise<boolean> {
    const errors = rejected.flatMap((p) => p.errors.map((e) => `IPAddressPool ${p.name}: ${e}`));
    const status = configurationStatus([{ type: POOL_CONDITION, errors }], kubeTime(), this.conditions);
    const signature = JSON.stringify([status.result, status.errorSummary]);
    if (signature === this.written) return true;
    const base = `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${this.namespace}/configurationstates`;
    try {
      guard();
      await this.api
        .request("POST", base, {
          body: {
            apiVersion: METALLB_API_VERSION,
            kind: "ConfigurationState",
            metadata: { name: CONTROLLER_CONFIG_STATE, labels: configStateLabels("controller") },
          },
        })
        .catch((err: unknown) => {
          if (!isAlreadyExists(err)) throw err;
        });
      guard();
      await this.api.request("PATCH", `${base}/${CONTROLLER_CONFIG_STATE}/status`, {
        patch: "merge",
        body: { status },
      });
      this.written = signature;
      this.conditions = status.conditions;
      return true;
    } catch (err) {
      if (err instanceof NotLeader) return true;
      this.log.warn(
        { event: "configStateFailed", error: errorText(err) },
        "cannot write the controller's ConfigurationState",
      );
      return false;
    }
  }
}
