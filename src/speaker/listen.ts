/** Where the speaker's HTTP server listens. Pure. */
import type * as k8s from "../kube/types.js";

/** The host part of --metrics-address that stands for the Node's InternalIP. */
export const INTERNAL_IP_HOST = "InternalIP";

export function wantsInternalIp(address: string): boolean {
  return address.startsWith(`${INTERNAL_IP_HOST}:`);
}

/**
 * "InternalIP:port" → the Node's InternalIP (IPv4 first) and port; other addresses unchanged.
 * Undefined when the Node has no InternalIP (the caller falls back to loopback and says so).
 */
export function resolveListenAddress(address: string, node: k8s.V1Node | undefined): string | undefined {
  if (!wantsInternalIp(address)) return address;
  const port = address.slice(INTERNAL_IP_HOST.length + 1);
  const internal = (node?.status?.addresses ?? [])
    .filter((a) => a.type === "InternalIP")
    .map((a) => a.address);
  const ip = internal.find((a) => !a.includes(":")) ?? internal[0];
  if (!ip) return undefined;
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** resolveListenAddress, or 127.0.0.1 and the port when the Node has no InternalIP (`missing` says so). */
export function listenAddressOrLoopback(
  address: string,
  node: k8s.V1Node | undefined,
  missing: () => void,
): string {
  const resolved = resolveListenAddress(address, node);
  if (resolved) return resolved;
  missing();
  return `127.0.0.1:${address.slice(INTERNAL_IP_HOST.length + 1)}`;
}
