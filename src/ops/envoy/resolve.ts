// Finding our way around an Envoy Gateway installation: which Gateway owns a proxy Service, which
// EnvoyProxy configures a Gateway, and what that EnvoyProxy asks of the Service. Pure.

import {
  ANNOTATION_LOAD_BALANCER_IPS,
  DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS,
} from "../../api/annotations.js";
import { isPlainObject, renderProxyService } from "./render.js";
import {
  EG_CONTROLLER_NAME,
  EG_GROUP,
  OWNING_GATEWAY_NAMESPACE_LABEL,
  OWNING_GATEWAY_NAME_LABEL,
  type EnvoyProxy,
  type Gateway,
  type GatewayClass,
} from "./types.js";
import type { KubeService, ObjectRef } from "../../kube/objects.js";

export const LB_IPS_KEYS = [ANNOTATION_LOAD_BALANCER_IPS, DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS] as const;

/** The Gateway a proxy Service belongs to, from Envoy Gateway's owning labels. */
export function owningGateway(svc: { metadata: { labels?: Record<string, string> } }): ObjectRef | undefined {
  const l = svc.metadata.labels ?? {};
  const name = l[OWNING_GATEWAY_NAME_LABEL];
  const namespace = l[OWNING_GATEWAY_NAMESPACE_LABEL];
  return name && namespace ? { namespace, name } : undefined;
}

export function isEnvoyGatewayService(svc: KubeService): boolean {
  return (
    svc.metadata.labels?.["app.kubernetes.io/managed-by"] === "envoy-gateway" &&
    owningGateway(svc) !== undefined
  );
}

export type ProxyRefResult =
  | { ok: true; ref: ObjectRef; via: "Gateway" | "GatewayClass" }
  | {
      ok: false;
      reason: "no-class" | "not-envoy-gateway" | "no-parameters" | "bad-parameters";
      message: string;
    };

/**
 * The EnvoyProxy that configures a Gateway: the Gateway's own spec.infrastructure.parametersRef
 * (same namespace) wins over its GatewayClass's spec.parametersRef.
 */
export function envoyProxyRefFor(gateway: Gateway, classes: readonly GatewayClass[]): ProxyRefResult {
  const gwNs = gateway.metadata.namespace ?? "default";
  const gc = classes.find((c) => c.metadata.name === gateway.spec.gatewayClassName);
  const gwDesc = `Gateway ${gwNs}/${gateway.metadata.name}`;
  if (!gc) {
    return {
      ok: false,
      reason: "no-class",
      message: `${gwDesc} uses GatewayClass ${JSON.stringify(gateway.spec.gatewayClassName)}, which does not exist`,
    };
  }
  if (gc.spec.controllerName !== EG_CONTROLLER_NAME) {
    return {
      ok: false,
      reason: "not-envoy-gateway",
      message: `GatewayClass ${gc.metadata.name} belongs to ${gc.spec.controllerName}, not Envoy Gateway (${EG_CONTROLLER_NAME})`,
    };
  }
  const infra = gateway.spec.infrastructure?.parametersRef;
  if (infra && infra.group === EG_GROUP && infra.kind === "EnvoyProxy") {
    return { ok: true, ref: { namespace: gwNs, name: infra.name }, via: "Gateway" };
  }
  const p = gc.spec.parametersRef;
  if (!p) {
    return {
      ok: false,
      reason: "no-parameters",
      message: `GatewayClass ${gc.metadata.name} references no EnvoyProxy (spec.parametersRef is empty): create one and point spec.parametersRef at it (group ${EG_GROUP}, kind EnvoyProxy, name, namespace)`,
    };
  }
  if (p.group !== EG_GROUP || p.kind !== "EnvoyProxy" || !p.namespace) {
    return {
      ok: false,
      reason: "bad-parameters",
      message: `GatewayClass ${gc.metadata.name} spec.parametersRef must be {group: ${EG_GROUP}, kind: EnvoyProxy, name, namespace}; it is ${JSON.stringify(p)}`,
    };
  }
  return { ok: true, ref: { namespace: p.namespace, name: p.name }, via: "GatewayClass" };
}

/** Gateways whose proxy is configured by the EnvoyProxy `ref`. */
export function gatewaysUsing(
  ref: ObjectRef,
  gateways: readonly Gateway[],
  classes: readonly GatewayClass[],
): Gateway[] {
  return gateways.filter((g) => {
    const r = envoyProxyRefFor(g, classes);
    return r.ok && r.ref.namespace === ref.namespace && r.ref.name === ref.name;
  });
}

/** The Gateway whose proxy Service is (or would be) called `name`: works after the Service is gone. */
export function gatewayForServiceName(
  name: string,
  namespace: string,
  gateways: readonly Gateway[],
  classes: readonly GatewayClass[],
  proxies: readonly EnvoyProxy[],
): Gateway | undefined {
  return gateways.find((g) => {
    const r = envoyProxyRefFor(g, classes);
    const proxy = r.ok
      ? proxies.find((p) => p.metadata.namespace === r.ref.namespace && p.metadata.name === r.ref.name)
      : undefined;
    return renderProxyService(g, proxy, namespace).metadata.name === name;
  });
}

export interface EnvoyServiceSettings {
  /** Effective Service type (EG default LoadBalancer). */
  type: "LoadBalancer" | "ClusterIP" | "NodePort";
  /** envoyService.loadBalancerClass, the field the seed asks for. */
  directClass?: string;
  /** spec.loadBalancerClass inside the envoyService patch (the seed's warning: don't). */
  patchClass?: string;
  /** What the rendered Service ends up with (the patch is applied last). */
  effectiveClass?: string;
  /** Effective externalTrafficPolicy (EG default Local). */
  externalTrafficPolicy: "Local" | "Cluster";
  /** The loadBalancerIPs annotation the Service gets, and which key carries it. */
  requestedIPs?: { value: string; key: string };
  /** spec.externalIPs set through the patch. */
  patchExternalIPs?: string[];
}

export function envoyServiceSettings(proxy: EnvoyProxy): EnvoyServiceSettings {
  const es = proxy.spec?.provider?.kubernetes?.envoyService ?? {};
  const value = es.patch?.value;
  const patchSpec = isPlainObject(value) && isPlainObject(value.spec) ? value.spec : undefined;
  const patchClass =
    patchSpec && typeof patchSpec.loadBalancerClass === "string" ? patchSpec.loadBalancerClass : undefined;
  const patchExternalIPs =
    patchSpec && Array.isArray(patchSpec.externalIPs)
      ? patchSpec.externalIPs.filter((x): x is string => typeof x === "string")
      : undefined;
  // Render against a placeholder Gateway: the effective values follow EG's rules exactly.
  const rendered = renderProxyService(
    { metadata: { name: "x", namespace: "x" }, spec: { gatewayClassName: "x" } },
    proxy,
    "x",
  );
  const annotations = rendered.metadata.annotations ?? {};
  const key = LB_IPS_KEYS.find((k) => annotations[k] !== undefined && annotations[k] !== "");
  return {
    type: es.type ?? "LoadBalancer",
    ...(es.loadBalancerClass ? { directClass: es.loadBalancerClass } : {}),
    ...(patchClass ? { patchClass } : {}),
    ...(rendered.spec.loadBalancerClass ? { effectiveClass: rendered.spec.loadBalancerClass } : {}),
    externalTrafficPolicy: rendered.spec.externalTrafficPolicy === "Cluster" ? "Cluster" : "Local",
    ...(key ? { requestedIPs: { value: annotations[key]!, key } } : {}),
    ...(patchExternalIPs ? { patchExternalIPs } : {}),
  };
}
