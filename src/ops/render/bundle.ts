// Everything `floatip render` writes, as (path, content) pairs: pure, so tests and --stdout see
// exactly what would land on disk.
import { imageWarning } from "./image.js";
import { cdevFiles, CDEV_DIR } from "./cdev.js";
import { PLACEHOLDER_REPOSITORY, type RenderConfig } from "./config.js";
import type { RenderedFile } from "./files.js";
import { helmInstallCommand, helmValues } from "./helm.js";
import { KUSTOMIZE_DIR, kustomizeFiles } from "./kustomize.js";
import { yamlDocs } from "./yaml.js";

export const VALUES_FILE = "values.yaml";

export interface Bundle {
  files: RenderedFile[];
  /** Things that render fine but deserve a look before deploying. */
  warnings: string[];
}

export function renderBundle(cfg: RenderConfig, source: string): Bundle {
  const warnings = bundleWarnings(cfg);
  const files: RenderedFile[] = [
    {
      path: VALUES_FILE,
      content: yamlDocs(
        [helmValues(cfg)],
        [`floatip chart values, rendered by \`floatip render\` from ${source}.`],
      ),
    },
    ...kustomizeFiles(cfg),
    ...cdevFiles(cfg),
  ];
  files.push({ path: "README.md", content: readme(cfg, source, warnings) });
  return { files, warnings };
}

function bundleWarnings(cfg: RenderConfig): string[] {
  const out: string[] = [];
  if (cfg.chart.repository === PLACEHOLDER_REPOSITORY) {
    out.push(
      `chart.repository is the placeholder ${PLACEHOLDER_REPOSITORY}, which the cdev and Flux files use: ` +
        "publish deploy/chart and set chart.repository (helm install from the source tree works meanwhile)",
    );
  }
  const image = imageWarning(cfg.image);
  if (image) out.push(image);
  if (cfg.envoyGateway.externalTrafficPolicy === "Local") {
    out.push(
      "externalTrafficPolicy Local: the IP is announced only from nodes running an Envoy pod, and speakers run " +
        "on control-plane nodes only by default; schedule Envoy there or widen speaker.nodeSelector",
    );
  }
  return out;
}

function readme(cfg: RenderConfig, source: string, warnings: string[]): string {
  const ips = cfg.floatingIPs.map((ip) => ip.address).join(", ");
  const lines = [
    `# floatip deployment for ${ips}`,
    "",
    `Rendered by \`floatip render\` from \`${source}\`. Re-render instead of editing.`,
    "",
    "## 1. Install floatip (the seed's step 1)",
    "",
    "```sh",
    helmInstallCommand(cfg, VALUES_FILE),
    `# or from a source checkout: helm install floatip deploy/chart --namespace ${cfg.namespace} --create-namespace -f ${VALUES_FILE}`,
    "```",
    "",
    "## 2. Pool, L2Advertisement, EnvoyProxy, GatewayClass (steps 2-4)",
    "",
    "```sh",
    `kubectl apply -k ${KUSTOMIZE_DIR}/base`,
    `kubectl get ipaddresspool,l2advertisement -n ${cfg.namespace}`,
    "```",
    "",
    `Announced on: ${cfg.interfaces.join(", ")}. The EnvoyProxy must carry the class before Envoy Gateway`,
    "creates its Service: the class is immutable. If the Service already exists without it, delete it",
    "and then touch the EnvoyProxy or Gateway (Envoy Gateway does not always recreate it on its own).",
    "",
    "## Alternatives",
    "",
    `- cdev: \`${CDEV_DIR}/\` is a StackTemplate directory (units floatip, floatip-config, envoy-gateway-config);`,
    "  reference it from a stack with `template: ./cdev/` and set `variables.kubeconfig`.",
    `- Flux: a Kustomization for \`${KUSTOMIZE_DIR}/flux\` (HelmRepository + HelmRelease), and a second one`,
    `  for \`${KUSTOMIZE_DIR}/base\` with \`dependsOn\` on the first (the base needs the chart's CRDs).`,
  ];
  if (warnings.length > 0) lines.push("", "## Warnings", "", ...warnings.map((w) => `- ${w}`));
  return lines.join("\n") + "\n";
}
