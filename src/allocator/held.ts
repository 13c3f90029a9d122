// The allocator's own records and small helpers shared by its modules: what a Service holds, how a
// failure is built, and the orderings that keep every output deterministic.

import { formatIP } from "../api/ip.js";
import type { ServiceIdentity } from "../api/pool.js";
import type { PortProtocol } from "../api/service.js";
import type { IPFamily } from "../api/types.js";
import type { NormalizedRequest } from "./normalize.js";
import type { AssignResult, FailureReason } from "./types.js";

export interface HeldIP {
  family: IPFamily;
  value: bigint;
  text: string;
}

/** What a Service holds, plus what is needed to re-check sharing and pool permissions later. */
export interface Alloc {
  key: string;
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  ips: HeldIP[];
  pool: string;
  sharingKey: string | undefined;
  backendKey: string;
  ports: PortProtocol[];
}

export type Failure = Extract<AssignResult, { ok: false }>;

export const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const cmpBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

export function fail(reason: FailureReason, message: string, detail?: string): Failure {
  return { ok: false, reason, message, released: [], ...(detail !== undefined ? { detail } : {}) };
}

export function held(family: IPFamily, value: bigint): HeldIP {
  return { family, value, text: formatIP(family, value) };
}

export function makeAlloc(req: NormalizedRequest, ips: HeldIP[], pool: string): Alloc {
  return {
    key: req.key,
    namespace: req.namespace,
    name: req.name,
    labels: req.labels,
    namespaceLabels: req.namespaceLabels,
    ips,
    pool,
    sharingKey: req.sharingKey,
    backendKey: req.backendKey,
    ports: req.ports,
  };
}

export function identity(req: NormalizedRequest): ServiceIdentity {
  return {
    namespace: req.namespace,
    labels: req.labels,
    ...(req.namespaceLabels !== undefined ? { namespaceLabels: req.namespaceLabels } : {}),
  };
}

export function sameIPs(
  a: readonly { family: IPFamily; value: bigint }[],
  b: readonly { family: IPFamily; value: bigint }[],
): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => y.family === x.family && y.value === x.value));
}

export function orderByFamilies(ips: readonly HeldIP[], families: readonly IPFamily[]): HeldIP[] {
  return [...ips].sort((a, b) => families.indexOf(a.family) - families.indexOf(b.family));
}
