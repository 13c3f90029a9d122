// ConfigurationState (metallb.io/v1beta1, MetalLB v0.16): how a component reports whether the
// configuration it read is usable. Pure: the status a component should show, from what it checked.

import type { Condition, ConfigurationResult } from "./types.js";

/** The controller's object; a speaker's is speakerConfigStateName(node). */
export const CONTROLLER_CONFIG_STATE = "controller";
export const COMPONENT_TYPE_LABEL = "metallb.io/component-type";
export const NODE_NAME_LABEL = "metallb.io/node-name";
/** Condition types MetalLB uses for its two checking reconcilers. */
export const POOL_CONDITION = "poolReconcilerValid";
export const CONFIG_CONDITION = "configReconcilerValid";

export function speakerConfigStateName(node: string): string {
  return `speaker-${node}`;
}

export function configStateLabels(
  component: "controller" | "speaker",
  node?: string,
): Record<string, string> {
  return {
    [COMPONENT_TYPE_LABEL]: component,
    ...(component === "speaker" && node ? { [NODE_NAME_LABEL]: node } : {}),
  };
}

/** One checked part of the configuration (a condition type) and the problems found in it. */
export interface ConfigCheck {
  type: string;
  errors: readonly string[];
}

export interface ConfigurationStatus {
  result: ConfigurationResult;
  errorSummary: string;
  conditions: Condition[];
}

/**
 * The status for `checks`: Invalid with every error (one per line) when any check failed, Valid when
 * all passed, Unknown when nothing was checked. A condition keeps its lastTransitionTime while its
 * status stays the same, so rewriting an unchanged state changes nothing.
 */
export function configurationStatus(
  checks: readonly ConfigCheck[],
  now: string,
  previous: readonly Condition[] = [],
): ConfigurationStatus {
  const conditions = [...checks]
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0))
    .map((c): Condition => {
      const ok = c.errors.length === 0;
      const status = ok ? "True" : "False";
      const before = previous.find((p) => p.type === c.type);
      return {
        type: c.type,
        status,
        reason: ok ? "Reconciled" : "ConfigurationError",
        message: c.errors.join("\n"),
        lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
      };
    });
  const errors = checks.flatMap((c) => c.errors);
  const result: ConfigurationResult =
    checks.length === 0 ? "Unknown" : errors.length > 0 ? "Invalid" : "Valid";
  return { result, errorSummary: errors.join("\n"), conditions };
}
