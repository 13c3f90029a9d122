// The seed's step 4: the EnvoyProxy that makes Envoy Gateway create its Service with the class and
// the floating IPs, and the GatewayClass that points Gateways at it.
import {
  DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS,
  ANNOTATION_LOAD_BALANCER_IPS,
} from "../../api/annotations.js";
import type { RenderConfig } from "./config.js";
import { RENDER_LABELS, type K8sObject } from "./objects.js";

export const ENVOY_PROXY_API_VERSION = "gateway.envoyproxy.io/v1alpha1";
export const GATEWAY_CLASS_API_VERSION = "gateway.networking.k8s.io/v1";

/** EnvoyProxy spec.ipFamily: the Service must be dual-stack to carry an IPv4 and an IPv6 address. */
function ipFamily(cfg: RenderConfig): "IPv6" | "DualStack" | undefined {
  const families = new Set(cfg.floatingIPs.map((ip) => ip.family));
  if (families.size === 2) return "DualStack";
  return families.has("IPv6") ? "IPv6" : undefined;
}

export function envoyProxy(cfg: RenderConfig): K8sObject {
  const eg = cfg.envoyGateway;
  const ips = cfg.floatingIPs.map((ip) => ip.address).join(",");
  const family = ipFamily(cfg);
  return {
    apiVersion: ENVOY_PROXY_API_VERSION,
    kind: "EnvoyProxy",
    metadata: { name: eg.envoyProxy.name, namespace: eg.envoyProxy.namespace, labels: { ...RENDER_LABELS } },
    spec: {
      ...(family ? { ipFamily: family } : {}),
      logging: { level: { default: eg.logLevel } },
      provider: {
        type: "Kubernetes",
        kubernetes: {
          envoyService: {
            externalTrafficPolicy: eg.externalTrafficPolicy,
            // A direct field, not in the patch: the class is immutable, so it must be on the
            // Service from its creation, which only the typed field guarantees.
            loadBalancerClass: cfg.loadBalancerClass,
            patch: {
              type: "StrategicMerge",
              value: {
                metadata: {
                  // Both prefixes, same value: metallb.io is the current key (read first by floatip
                  // and MetalLB >= 0.14.9); metallb.universe.tf is the seed's and what older MetalLB
                  // reads, so the seed's rollback to MetalLB keeps the IP.
                  annotations: {
                    [ANNOTATION_LOAD_BALANCER_IPS]: ips,
                    [DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS]: ips,
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}

export function gatewayClass(cfg: RenderConfig): K8sObject {
  const eg = cfg.envoyGateway;
  return {
    apiVersion: GATEWAY_CLASS_API_VERSION,
    kind: "GatewayClass",
    metadata: { name: eg.gatewayClass, labels: { ...RENDER_LABELS } },
    spec: {
      controllerName: eg.controllerName,
      parametersRef: {
        group: "gateway.envoyproxy.io",
        kind: "EnvoyProxy",
        name: eg.envoyProxy.name,
        namespace: eg.envoyProxy.namespace,
      },
    },
  };
}
