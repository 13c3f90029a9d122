// Public request/result types of the allocator.

import type { PortProtocol } from "../api/service.js";
import type { IPFamily, IPFamilyPolicy } from "../api/types.js";

export interface ServiceRef {
  namespace: string;
  name: string;
}

/** A ServiceRef or its "namespace/name" string. */
export type ServiceKey = ServiceRef | string;

export function serviceKeyString(key: ServiceKey): string {
  return typeof key === "string" ? key : `${key.namespace}/${key.name}`;
}

/** Everything the allocator needs to know about a Service; build it with requestFromService(). */
export interface AssignRequest {
  service: ServiceRef;
  /** Service labels (pool serviceSelectors). */
  labels?: Readonly<Record<string, string>>;
  /** Namespace labels (pool namespaceSelectors). Undefined = unknown: namespaceSelectors won't match. */
  namespaceLabels?: Readonly<Record<string, string>>;
  /** spec.ipFamilies, primary family first. */
  ipFamilies: readonly IPFamily[];
  /** spec.ipFamilyPolicy; default SingleStack. */
  ipFamilyPolicy?: IPFamilyPolicy;
  /** From metallb.io/loadBalancerIPs (or spec.loadBalancerIP), unparsed. Empty/undefined = auto. */
  requestedIPs?: readonly string[];
  /** From metallb.io/address-pool. */
  pool?: string;
  /** From metallb.io/allow-shared-ip. Empty/undefined = no sharing. */
  sharingKey?: string;
  ports?: readonly PortProtocol[];
  /** See backendKey() in api/service.ts. */
  backendKey?: string;
}

export type FailureReason =
  /** The request itself is malformed (bad IP text, families, conflicting fields). Nothing was changed. */
  | "invalid-request"
  /** metallb.io/address-pool names a pool that does not exist (or was rejected). */
  | "unknown-pool"
  /** No pool could ever satisfy this request (none configured/allowed/with the needed family). */
  | "no-pool"
  /** The pool exists but this Service's namespace or labels are not allowed to use it. */
  | "namespace-not-allowed"
  /** A requested IP lies in no pool (or is a .0/.255 address in an avoidBuggyIPs pool). */
  | "requested-ip-not-in-pool"
  /** Requested IPs span two pools, or lie outside the pool named by metallb.io/address-pool. */
  | "pool-mismatch"
  /** A requested IP is held by another Service and sharing is not allowed. */
  | "ip-in-use"
  /** Suitable pools exist but have no free (or shareable) address of the needed family. */
  | "pool-exhausted"
  /** restore(): the Service now asks for other IPs or another pool than it holds. */
  | "request-changed";

export type AssignResult =
  | {
      ok: true;
      /** Canonical text, primary family first. */
      ips: string[];
      pool: string;
      /** False when the Service already held exactly these IPs (idempotent call). */
      changed: boolean;
      /** IPs the Service held before this call and no longer holds (it moved); absent = none. */
      released?: string[];
    }
  | {
      ok: false;
      reason: FailureReason;
      /**
       * Human-readable; says what to change. Safe to show the Service's owner (a tenant): it names no
       * pool the Service may not use and nothing about other namespaces' Services (see messages.ts).
       */
      message: string;
      /** For operators only (controller log): what `message` leaves out, e.g. the refusing pool. */
      detail?: string;
      /**
       * IPs this call released because the previous assignment no longer fit the request. After a
       * failure the Service holds nothing, except for "invalid-request", which changes nothing.
       */
      released: string[];
    };

export interface Assignment {
  /** "namespace/name". */
  service: string;
  namespace: string;
  name: string;
  ips: string[];
  pool: string;
  sharingKey?: string;
}

export interface Invalidation {
  service: string;
  ips: string[];
  pool: string;
  message: string;
}

export interface SetPoolsResult {
  /** Assignments released because their IPs are no longer in a pool the Service may use. */
  invalidated: Invalidation[];
  /** Pools not loaded because they overlap an earlier pool or repeat its name. */
  ignoredPools: { name: string; errors: string[] }[];
}

/** Pool counters as written to IPAddressPool.status; saturated at Number.MAX_SAFE_INTEGER. */
export interface PoolStats {
  assignedIPv4: number;
  assignedIPv6: number;
  availableIPv4: number;
  availableIPv6: number;
}

export interface PoolStatsExact {
  assignedIPv4: bigint;
  assignedIPv6: bigint;
  availableIPv4: bigint;
  availableIPv6: bigint;
}
