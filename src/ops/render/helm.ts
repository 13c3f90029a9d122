// Values for the floatip chart: only what differs from the chart's defaults, like the seed's
// metallb/values.yaml (`loadBalancerClass: metallb`).
import type { RenderConfig } from "./config.js";
import { imageValues } from "./image.js";

export const CHART_NAME = "floatip";
export const RELEASE_NAME = "floatip";

export function helmValues(cfg: RenderConfig): Record<string, unknown> {
  return { loadBalancerClass: cfg.loadBalancerClass, image: imageValues(cfg.image) };
}

/** The chart reference for `helm install`: OCI charts are addressed by URL, HTTP ones via --repo. */
export function chartReference(cfg: RenderConfig): string {
  const repo = cfg.chart.repository.replace(/\/+$/, "");
  return repo.startsWith("oci://") ? `${repo}/${CHART_NAME}` : `${CHART_NAME} --repo ${repo}`;
}

/** The seed's step 1 with the rendered values file (no --wait needed for correctness). */
export function helmInstallCommand(cfg: RenderConfig, valuesPath: string): string {
  return (
    `helm install ${RELEASE_NAME} ${chartReference(cfg)} --version ${cfg.chart.version} ` +
    `--namespace ${cfg.namespace} --create-namespace -f ${valuesPath} --wait`
  );
}
