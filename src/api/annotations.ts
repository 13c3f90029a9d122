// Service annotations understood by MetalLB. Since v0.14 the stable prefix is metallb.io; the older
// metallb.universe.tf keys are still honoured so existing manifests keep working.

export const ANNOTATION_PREFIX = "metallb.io";
export const DEPRECATED_ANNOTATION_PREFIX = "metallb.universe.tf";

export type AnnotationName =
  "address-pool" | "loadBalancerIPs" | "allow-shared-ip" | "ip-allocated-from-pool";

export const ANNOTATION_ADDRESS_POOL = `${ANNOTATION_PREFIX}/address-pool`;
export const ANNOTATION_LOAD_BALANCER_IPS = `${ANNOTATION_PREFIX}/loadBalancerIPs`;
export const ANNOTATION_ALLOW_SHARED_IP = `${ANNOTATION_PREFIX}/allow-shared-ip`;
/** Written by the controller: the pool the Service's IPs came from. */
export const ANNOTATION_IP_ALLOCATED_FROM_POOL = `${ANNOTATION_PREFIX}/ip-allocated-from-pool`;

export const DEPRECATED_ANNOTATION_ADDRESS_POOL = `${DEPRECATED_ANNOTATION_PREFIX}/address-pool`;
export const DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS = `${DEPRECATED_ANNOTATION_PREFIX}/loadBalancerIPs`;
export const DEPRECATED_ANNOTATION_ALLOW_SHARED_IP = `${DEPRECATED_ANNOTATION_PREFIX}/allow-shared-ip`;
export const DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL = `${DEPRECATED_ANNOTATION_PREFIX}/ip-allocated-from-pool`;

export function annotationKey(name: AnnotationName): string {
  return `${ANNOTATION_PREFIX}/${name}`;
}

export function deprecatedAnnotationKey(name: AnnotationName): string {
  return `${DEPRECATED_ANNOTATION_PREFIX}/${name}`;
}

export interface AnnotationValue {
  value: string;
  /** The key the value was read from (lets callers warn about the deprecated prefix). */
  key: string;
  deprecated: boolean;
}

/**
 * Reads an annotation, preferring the metallb.io key and falling back to metallb.universe.tf.
 * Presence decides, not emptiness: an empty metallb.io value shadows the deprecated key, as in MetalLB.
 */
export function readAnnotationWithSource(
  annotations: Readonly<Record<string, string>> | undefined,
  name: AnnotationName,
): AnnotationValue | undefined {
  if (!annotations) return undefined;
  const stable = annotationKey(name);
  if (Object.hasOwn(annotations, stable)) {
    return { value: annotations[stable] ?? "", key: stable, deprecated: false };
  }
  const old = deprecatedAnnotationKey(name);
  if (Object.hasOwn(annotations, old)) {
    return { value: annotations[old] ?? "", key: old, deprecated: true };
  }
  return undefined;
}

export function readAnnotation(
  annotations: Readonly<Record<string, string>> | undefined,
  name: AnnotationName,
): string | undefined {
  return readAnnotationWithSource(annotations, name)?.value;
}
