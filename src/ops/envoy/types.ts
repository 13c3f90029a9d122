// Wire types (the subset floatip reads) of Envoy Gateway's EnvoyProxy and the Gateway API objects, and
// Envoy Gateway's names and labels. Plain JSON as the API server sends it: timestamps are strings.
// The core objects (Service, Lease, Node, Event...) are in src/kube/objects.ts.

import type { Meta } from "../../kube/objects.js";

export const EG_GROUP = "gateway.envoyproxy.io";
export const EG_VERSION = "v1alpha1";
export const GATEWAY_GROUP = "gateway.networking.k8s.io";
export const GATEWAY_VERSION = "v1";
/** GatewayClass.spec.controllerName of Envoy Gateway. */
export const EG_CONTROLLER_NAME = "gateway.envoyproxy.io/gatewayclass-controller";
/** Where Envoy Gateway puts the proxy Services (its controller namespace). */
export const EG_NAMESPACE = "envoy-gateway-system";

export const OWNING_GATEWAY_NAME_LABEL = "gateway.envoyproxy.io/owning-gateway-name";
export const OWNING_GATEWAY_NAMESPACE_LABEL = "gateway.envoyproxy.io/owning-gateway-namespace";
/** The labels Envoy Gateway puts on every proxy resource (plus the two owning-gateway labels). */
export const ENVOY_PROXY_LABELS: Readonly<Record<string, string>> = {
  "app.kubernetes.io/name": "envoy",
  "app.kubernetes.io/component": "proxy",
  "app.kubernetes.io/managed-by": "envoy-gateway",
};

/**
 * Set (to an RFC 3339 time) on a Gateway/EnvoyProxy to make Envoy Gateway reconcile: its watches fire
 * on generation, label or annotation changes, and a deleted proxy Service alone does not (EG #3632).
 */
export const RECONCILE_TRIGGER_ANNOTATION = "floatip.io/reconcile-requested-at";

export interface EnvoyServicePatch {
  type?: "StrategicMerge" | "JSONMerge";
  value: Record<string, unknown>;
}

/** EnvoyProxy.spec.provider.kubernetes.envoyService. */
export interface EnvoyServiceSpec {
  type?: "LoadBalancer" | "ClusterIP" | "NodePort";
  loadBalancerClass?: string;
  externalTrafficPolicy?: "Local" | "Cluster";
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  allocateLoadBalancerNodePorts?: boolean;
  name?: string;
  patch?: EnvoyServicePatch;
}

export interface EnvoyProxy {
  apiVersion?: string;
  kind?: "EnvoyProxy";
  metadata: Meta;
  spec?: {
    provider?: {
      type?: string;
      kubernetes?: { envoyService?: EnvoyServiceSpec; [k: string]: unknown };
    };
    [k: string]: unknown;
  };
}

export interface ParametersRef {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface GatewayClass {
  apiVersion?: string;
  kind?: "GatewayClass";
  metadata: Meta;
  spec: { controllerName: string; parametersRef?: ParametersRef };
}

export interface GatewayAddress {
  type?: string;
  value: string;
}

export interface Gateway {
  apiVersion?: string;
  kind?: "Gateway";
  metadata: Meta;
  spec: {
    gatewayClassName: string;
    listeners?: { name: string; port: number; protocol: string }[];
    addresses?: GatewayAddress[];
    infrastructure?: { parametersRef?: { group: string; kind: string; name: string } };
  };
  status?: { addresses?: GatewayAddress[] };
}
