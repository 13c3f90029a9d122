// What an AllocationFailed Event may tell the Service's owner. Events land in the Service's namespace,
// which a tenant can read, so a message never names a pool the Service may not use, never says
// whether an address of such a pool is taken, and never describes another namespace's Services (their
// names, ports, sharing keys or selectors). Operators get the full story in `detail` (controller log).

/** Said for an unknown pool and for a pool the Service may not use alike: existence is not disclosed. */
export function unavailablePoolMessage(name: string): string {
  return (
    `metallb.io/address-pool names pool ${JSON.stringify(name)}, which does not exist or which this ` +
    "Service may not use; fix the annotation, or ask the platform team for a pool"
  );
}

/** Said for an address outside every pool and for one in a pool the Service may not use alike. */
export function unavailableIPMessage(what: string, ip: string): string {
  return `${what} IP ${ip} is not in any pool this Service may use; pick an address from such a pool or let one be assigned`;
}

export interface Holder {
  namespace: string;
  name: string;
}

/** Names a holder only within the caller's namespace. */
export function describeHolder(h: Holder, namespace: string): string {
  return h.namespace === namespace ? `Service ${JSON.stringify(h.name)}` : "a Service in another namespace";
}

/**
 * Another namespace's Service holds the address: one message whatever the reason (no sharing key, a
 * different key, other backends, clashing ports), so nothing about that Service leaks.
 */
export function heldElsewhereMessage(ip: string): string {
  return `${ip} is held by a Service in another namespace and cannot be shared with this one; request another address or let one be assigned`;
}
