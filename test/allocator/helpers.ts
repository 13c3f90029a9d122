// Shared builders for allocator tests. Only documentation address ranges are used.

import { parsePool, type ParsedPool } from "../../src/api/pool.js";
import type { IPAddressPoolSpec } from "../../src/api/types.js";
import type { AssignRequest } from "../../src/allocator/types.js";

export function pool(name: string, spec: Partial<IPAddressPoolSpec> & { addresses: string[] }): ParsedPool {
  const r = parsePool({ metadata: { name }, spec });
  if (!r.ok) throw new Error(`test pool ${name} invalid: ${r.errors.join("; ")}`);
  return r.pool;
}

export function req(ns: string, name: string, extra: Partial<AssignRequest> = {}): AssignRequest {
  return { service: { namespace: ns, name }, ipFamilies: ["IPv4"], ...extra };
}

export function dual(ns: string, name: string, extra: Partial<AssignRequest> = {}): AssignRequest {
  return req(ns, name, { ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "RequireDualStack", ...extra });
}
