import * as k8s from "@kubernetes/client-node";
import { OWNING_GATEWAY_NAME_LABEL, OWNING_GATEWAY_NAMESPACE_LABEL } from "../src/ops/envoy/types.js";
import { parseRenderConfig } from "../src/ops/render/config.js";
import { envoyProxy, gatewayClass } from "../src/ops/render/envoy.js";
import { EXAMPLE_CONFIG } from "../src/ops/render/example.js";
import { installCrds } from "../testenv/kubectl.js";
import { startBackends } from "./backends.js";
import type { LabCluster } from "./cluster.js";
import { EnvoyGatewayController, envoyGatewayBuild } from "./envoy-gateway-controller.js";
import { ENVOY_NAMESPACE, seedL2Advertisement, seedPool, setEndpoints } from "./seed.js";
import { waitFor } from "../src/common/wait.js";

/** The seed's Gateway: `eg` in Envoy Gateway's namespace, so its Service is envoy-envoy-gateway-system-eg-<hash>. */
export const SEED_GATEWAY = { namespace: ENVOY_NAMESPACE, name: "eg" };

export interface GatewaySeed {
  namespace: string;
  name: string;
  envoyGateway: EnvoyGatewayController;
}

/**
 * The seed's setup the way a cluster gets it: the Gateway API and Envoy Gateway CRDs of the built
 * version, the pool and L2Advertisement, the EnvoyProxy and GatewayClass exactly as `floatip render`
 * writes them for this IP, a Gateway, and the real Envoy Gateway controller, which creates the
 * Envoy Service (class and annotation from the EnvoyProxy). The lab then writes the EndpointSlices
 * for the Envoy stand-in on the workers (no kubelet runs Envoy's pods).
 */
export async function seedThroughEnvoyGateway(cluster: LabCluster, vip: string): Promise<GatewaySeed> {
  const build = await envoyGatewayBuild();
  await installCrds(cluster.cp, [build.crds]);
  const cfg = parseRenderConfig(EXAMPLE_CONFIG.replace("203.0.113.50", vip), "lab", "0.1.0");
  const objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kc);
  await cluster.core.createNamespace({ body: { metadata: { name: ENVOY_NAMESPACE } } });
  const addresses = [vip.includes(":") ? `${vip}/128` : `${vip}/32`];
  for (const o of [
    seedPool(cfg.pool, addresses),
    seedL2Advertisement(cfg.l2Advertisement, [cfg.pool], cfg.interfaces),
    envoyProxy(cfg),
    gatewayClass(cfg),
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: SEED_GATEWAY,
      spec: {
        gatewayClassName: cfg.envoyGateway.gatewayClass,
        listeners: [{ name: "http", port: 80, protocol: "HTTP" }],
      },
    },
  ]) {
    await objects.create(o as k8s.KubernetesObject);
  }
  const endpoints = await startBackends(cluster.lab, cluster.lab.workers);
  const envoyGateway = new EnvoyGatewayController(cluster);
  await envoyGateway.start();
  const selector = `${OWNING_GATEWAY_NAME_LABEL}=${SEED_GATEWAY.name},${OWNING_GATEWAY_NAMESPACE_LABEL}=${SEED_GATEWAY.namespace}`;
  const service = await waitFor(
    `Envoy Gateway to create the Envoy Service (log: ${envoyGateway.logFile})`,
    async () =>
      (await cluster.core.listNamespacedService({ namespace: ENVOY_NAMESPACE, labelSelector: selector }))
        .items[0],
    60_000,
    250,
  );
  const name = service.metadata!.name!;
  // Envoy Gateway names the Service port after the listener (http-80); kube-proxy matches by name.
  await setEndpoints(
    cluster.kc,
    ENVOY_NAMESPACE,
    name,
    endpoints,
    service.spec?.ports?.[0]?.name ?? "http-80",
  );
  return { namespace: ENVOY_NAMESPACE, name, envoyGateway };
}
