// A cluster.dev (cdev) StackTemplate with the seed's two units, adapted to the floatip chart, plus
// a unit for the Envoy Gateway objects. cdev reads every top-level *.yaml of a template directory
// as a template, so unit sources live in subdirectories and only template.yaml sits at the top.
import type { RenderConfig } from "./config.js";
import { CHART_NAME, helmValues, RELEASE_NAME } from "./helm.js";
import type { RenderedFile } from "./files.js";
import { envoyProxy, gatewayClass } from "./envoy.js";
import { ipAddressPool, l2Advertisement } from "./metallb.js";
import { yamlDocs } from "./yaml.js";

export const CDEV_DIR = "cdev";

/** Go-template expressions exactly in the seed's style; cdev fills them from the stack's variables. */
const KUBECONFIG = '{{ .variables.kubeconfig | default "~/.kube/config" }}';
const chartVersion = (cfg: RenderConfig) =>
  `'{{ .variables.versions.floatip_helm | default "${cfg.chart.version}" }}'`;

function templateYaml(cfg: RenderConfig): string {
  const dependsOn = cfg.cdev.dependsOn ? `    depends_on: ${cfg.cdev.dependsOn}\n` : "";
  // Written as text: the unquoted Go templates are not YAML until cdev has rendered them.
  return `# cdev StackTemplate rendered by \`floatip render\`. Go templates are filled by cdev from the stack.
kind: StackTemplate
name: floatip
units:
  - name: ${RELEASE_NAME}
    type: helm
${dependsOn}    source:
      repository: ${JSON.stringify(cfg.chart.repository)}
      chart: ${JSON.stringify(CHART_NAME)}
      version: ${chartVersion(cfg)}
    values:
      - file: ./floatip/values.yaml
    provider_conf:
      config_path: ${KUBECONFIG}
    additional_options:
      namespace: ${JSON.stringify(cfg.namespace)}
      create_namespace: true
      wait: true

  - name: floatip-config
    type: kubernetes
    depends_on: this.${RELEASE_NAME}
    source: ./floatip-config/
    provider_conf:
      config_path: ${KUBECONFIG}

  # The EnvoyProxy must carry the class before Envoy Gateway creates its Service (the class is immutable).
  - name: envoy-gateway-config
    type: kubernetes
    depends_on: this.floatip-config
    source: ./envoy-gateway/
    provider_conf:
      config_path: ${KUBECONFIG}
`;
}

export function cdevFiles(cfg: RenderConfig): RenderedFile[] {
  const from = ["Rendered by `floatip render`; cdev renders this file as a Go template."];
  return [
    { path: `${CDEV_DIR}/template.yaml`, content: templateYaml(cfg) },
    // Outside floatip-config/: that directory is applied as manifests, and values are not one.
    { path: `${CDEV_DIR}/floatip/values.yaml`, content: yamlDocs([helmValues(cfg)], from) },
    { path: `${CDEV_DIR}/floatip-config/ipaddresspool.yaml`, content: yamlDocs([ipAddressPool(cfg)], from) },
    {
      path: `${CDEV_DIR}/floatip-config/l2advertisement.yaml`,
      content: yamlDocs([l2Advertisement(cfg)], from),
    },
    { path: `${CDEV_DIR}/envoy-gateway/envoyproxy.yaml`, content: yamlDocs([envoyProxy(cfg)], from) },
    { path: `${CDEV_DIR}/envoy-gateway/gatewayclass.yaml`, content: yamlDocs([gatewayClass(cfg)], from) },
  ];
}
