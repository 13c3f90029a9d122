/**
 * The shapes of the built-in Kubernetes objects floatip reads, as plain JSON. Type-only: these
 * names come from client-node's generated models, and a type import costs nothing at run time
 * (the code that loads client-node is fallback.ts alone).
 */
export type {
  CoreV1Event,
  KubernetesObject,
  V1EndpointSlice,
  V1Lease,
  V1MicroTime,
  V1Namespace,
  V1Node,
  V1Pod,
  V1Service,
} from "@kubernetes/client-node";
