// The JSON merge patches migrate and rollback apply to EnvoyProxy and Gateway objects, and the inverse
// patch that undoes one. Pure.

import { isPlainObject } from "../envoy/render.js";
import { LB_IPS_KEYS } from "../envoy/resolve.js";
import type { EnvoyProxy, Gateway } from "../envoy/types.js";
import type { IPAddressPool } from "../../api/types.js";
import {
  DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS,
  ANNOTATION_LOAD_BALANCER_IPS,
} from "../../api/annotations.js";

export type MergePatch = Record<string, unknown>;

function patchValue(proxy: EnvoyProxy): Record<string, unknown> | undefined {
  const v = proxy.spec?.provider?.kubernetes?.envoyService?.patch?.value;
  return isPlainObject(v) ? v : undefined;
}

function patchAnnotations(proxy: EnvoyProxy): Record<string, unknown> {
  const meta = patchValue(proxy)?.metadata;
  return isPlainObject(meta) && isPlainObject(meta.annotations) ? meta.annotations : {};
}

/**
 * Sets envoyService.loadBalancerClass (the direct field, as the runbook demands) and requests `ip`
 * through the loadBalancerIPs annotation in the envoyService patch. Also takes out what would
 * contradict it: a class inside the patch (applied last, it would win), `ip` in patch externalIPs,
 * loadBalancerIPs annotations elsewhere. externalTrafficPolicy and everything else stay as they are.
 * The resourceVersion makes the patch fail if the object changed since we read it.
 */
export function classPatch(proxy: EnvoyProxy, lbClass: string, ip: string): MergePatch {
  const es = proxy.spec?.provider?.kubernetes?.envoyService ?? {};
  const existing = patchAnnotations(proxy);
  // Keep the operator's spelling if the patch already uses the deprecated key (the seed does).
  const key =
    DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS in existing && !(ANNOTATION_LOAD_BALANCER_IPS in existing)
      ? DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS
      : ANNOTATION_LOAD_BALANCER_IPS;
  const annotations: Record<string, unknown> = { [key]: ip };
  for (const k of LB_IPS_KEYS) if (k !== key && k in existing) annotations[k] = null;
  const value: Record<string, unknown> = { metadata: { annotations } };
  const spec = patchValue(proxy)?.spec;
  if (isPlainObject(spec)) {
    const valueSpec: Record<string, unknown> = {};
    if ("loadBalancerClass" in spec) valueSpec.loadBalancerClass = null;
    if (Array.isArray(spec.externalIPs) && spec.externalIPs.includes(ip)) {
      const rest = spec.externalIPs.filter((x) => x !== ip);
      valueSpec.externalIPs = rest.length > 0 ? rest : null;
    }
    if (Object.keys(valueSpec).length > 0) value.spec = valueSpec;
  }
  const envoyService: Record<string, unknown> = {
    loadBalancerClass: lbClass,
    patch: { type: es.patch?.type ?? "StrategicMerge", value },
  };
  const stray = LB_IPS_KEYS.filter((k) => es.annotations && k in es.annotations);
  if (stray.length > 0) envoyService.annotations = Object.fromEntries(stray.map((k) => [k, null]));
  const provider: Record<string, unknown> = { kubernetes: { envoyService } };
  if (!proxy.spec?.provider?.type) provider.type = "Kubernetes";
  return { metadata: { resourceVersion: proxy.metadata.resourceVersion }, spec: { provider } };
}

/** Takes the class and every loadBalancerIPs annotation off the EnvoyProxy (rollback). */
export function unclassPatch(proxy: EnvoyProxy): MergePatch | undefined {
  const es = proxy.spec?.provider?.kubernetes?.envoyService;
  if (!es) return undefined;
  const envoyService: Record<string, unknown> = {};
  if (es.loadBalancerClass !== undefined) envoyService.loadBalancerClass = null;
  const stray = LB_IPS_KEYS.filter((k) => es.annotations && k in es.annotations);
  if (stray.length > 0) envoyService.annotations = Object.fromEntries(stray.map((k) => [k, null]));
  const inPatch = LB_IPS_KEYS.filter((k) => k in patchAnnotations(proxy));
  const spec = patchValue(proxy)?.spec;
  const classInPatch = isPlainObject(spec) && "loadBalancerClass" in spec;
  if (inPatch.length > 0 || classInPatch) {
    const value: Record<string, unknown> = {};
    if (inPatch.length > 0)
      value.metadata = { annotations: Object.fromEntries(inPatch.map((k) => [k, null])) };
    if (classInPatch) value.spec = { loadBalancerClass: null };
    envoyService.patch = { value };
  }
  if (Object.keys(envoyService).length === 0) return undefined;
  return {
    metadata: { resourceVersion: proxy.metadata.resourceVersion },
    spec: { provider: { kubernetes: { envoyService } } },
  };
}

/** Removes `ip` from Gateway spec.addresses (EG turns those into externalIPs); undefined if absent. */
export function dropGatewayAddress(gateway: Gateway, ip: string): MergePatch | undefined {
  const list = gateway.spec.addresses ?? [];
  if (!list.some((a) => a.value === ip)) return undefined;
  const rest = list.filter((a) => a.value !== ip);
  return {
    metadata: { resourceVersion: gateway.metadata.resourceVersion },
    spec: { addresses: rest.length > 0 ? rest : null },
  };
}

/** Adds `ip` to Gateway spec.addresses (rollback: EG renders it as the Service's externalIPs). */
export function addGatewayAddress(gateway: Gateway, ip: string): MergePatch | undefined {
  const list = gateway.spec.addresses ?? [];
  if (list.some((a) => a.value === ip)) return undefined;
  return {
    metadata: { resourceVersion: gateway.metadata.resourceVersion },
    spec: { addresses: [...list, { type: "IPAddress", value: ip }] },
  };
}

/** A patch that sets one annotation: touching metadata is enough to make Envoy Gateway reconcile. */
export function annotationPatch(key: string, value: string): MergePatch {
  return { metadata: { annotations: { [key]: value } } };
}

/**
 * The merge patch that restores `original` after `patch` was applied: each patched leaf gets its
 * original value back (null where there was none). metadata.resourceVersion is left out (a revert
 * must apply to the object as it is now).
 */
export function inversePatch(original: unknown, patch: MergePatch): MergePatch {
  const walk = (orig: unknown, p: Record<string, unknown>, path: string[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(p)) {
      if (path.length === 1 && path[0] === "metadata" && k === "resourceVersion") continue;
      const before = isPlainObject(orig) ? orig[k] : undefined;
      if (isPlainObject(v) && isPlainObject(before)) out[k] = walk(before, v, [...path, k]);
      else out[k] = before === undefined ? null : before;
    }
    return out;
  };
  const inv = walk(original, patch, []);
  if (isPlainObject(inv.metadata) && Object.keys(inv.metadata).length === 0) delete inv.metadata;
  return inv;
}

/**
 * Pins a pool no namespace term restricts to `namespace` (serviceAllocation.namespaces), keeping its
 * other allocation fields; undefined when the pool already names namespaces or namespace selectors.
 * The resourceVersion makes it fail if the pool changed since it was read.
 */
export function poolPinPatch(pool: IPAddressPool, namespace: string): MergePatch | undefined {
  const sa = pool.spec?.serviceAllocation;
  if ((sa?.namespaces?.length ?? 0) > 0 || (sa?.namespaceSelectors?.length ?? 0) > 0) return undefined;
  return {
    metadata: { resourceVersion: pool.metadata.resourceVersion },
    spec: { serviceAllocation: { namespaces: [namespace] } },
  };
}
