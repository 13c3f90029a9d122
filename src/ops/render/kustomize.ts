// A kustomize layout for GitOps users: `base/` holds the rendered objects (apply with
// `kubectl apply -k`), `flux/` installs the chart with a Flux HelmRelease. Two directories because
// the base's objects need the chart's CRDs first: point one Flux Kustomization at flux/ and a
// second, with dependsOn on the first, at base/.
import type { RenderConfig } from "./config.js";
import { envoyProxy, gatewayClass } from "./envoy.js";
import type { RenderedFile } from "./files.js";
import { CHART_NAME, helmValues, RELEASE_NAME } from "./helm.js";
import { ipAddressPool, l2Advertisement } from "./metallb.js";
import { RENDER_LABELS, type K8sObject } from "./objects.js";
import { yamlDocs } from "./yaml.js";

export const KUSTOMIZE_DIR = "kustomize";
const FROM = ["Rendered by `floatip render`."];

const kustomization = (resources: string[]) => ({
  apiVersion: "kustomize.config.k8s.io/v1beta1",
  kind: "Kustomization",
  resources,
});

/** The release namespace, labelled for the speaker's hostNetwork + NET_RAW under Pod Security. */
export function namespaceObject(cfg: RenderConfig): K8sObject {
  const level = "privileged";
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: cfg.namespace,
      labels: {
        ...RENDER_LABELS,
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/audit": level,
        "pod-security.kubernetes.io/warn": level,
      },
    },
  };
}

export function helmRepository(cfg: RenderConfig): K8sObject {
  const oci = cfg.chart.repository.startsWith("oci://");
  return {
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: "HelmRepository",
    metadata: { name: CHART_NAME, namespace: cfg.namespace, labels: { ...RENDER_LABELS } },
    spec: { ...(oci ? { type: "oci" } : {}), interval: "1h", url: cfg.chart.repository },
  };
}

export function helmRelease(cfg: RenderConfig): K8sObject {
  return {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name: RELEASE_NAME, namespace: cfg.namespace, labels: { ...RENDER_LABELS } },
    spec: {
      interval: "30m",
      releaseName: RELEASE_NAME,
      chart: {
        spec: {
          chart: CHART_NAME,
          version: cfg.chart.version,
          sourceRef: { kind: "HelmRepository", name: CHART_NAME, namespace: cfg.namespace },
        },
      },
      // The CRDs ship in the chart's crds/; Helm alone never upgrades them, Flux does with this.
      install: { crds: "CreateReplace" },
      upgrade: { crds: "CreateReplace" },
      values: helmValues(cfg),
    },
  };
}

export function kustomizeFiles(cfg: RenderConfig): RenderedFile[] {
  const base: [string, K8sObject][] = [
    ["ipaddresspool.yaml", ipAddressPool(cfg)],
    ["l2advertisement.yaml", l2Advertisement(cfg)],
    ["envoyproxy.yaml", envoyProxy(cfg)],
    ["gatewayclass.yaml", gatewayClass(cfg)],
  ];
  const flux: [string, K8sObject][] = [
    ["namespace.yaml", namespaceObject(cfg)],
    ["helmrepository.yaml", helmRepository(cfg)],
    ["helmrelease.yaml", helmRelease(cfg)],
  ];
  const dir = (name: string, objects: [string, K8sObject][]): RenderedFile[] => [
    {
      path: `${KUSTOMIZE_DIR}/${name}/kustomization.yaml`,
      content: yamlDocs([kustomization(objects.map(([file]) => file))], FROM),
    },
    ...objects.map(([file, obj]) => ({
      path: `${KUSTOMIZE_DIR}/${name}/${file}`,
      content: yamlDocs([obj], FROM),
    })),
  ];
  return [...dir("base", base), ...dir("flux", flux)];
}
