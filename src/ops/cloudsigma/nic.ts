import { canonicalIP } from "../../api/ip.js";
import type { IpConf, Nic, ResourceRef, Server } from "./types.js";

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Lower-case colon form, or undefined when the text is not a MAC address. */
export function normalizeMac(text: string): string | undefined {
  const mac = text.trim().toLowerCase().replace(/-/g, ":");
  return MAC_RE.test(mac) ? mac : undefined;
}

/** The uuid of a related resource given as `{uuid, resource_uri}` or as a URI/plain string. */
export function refUuid(ref: ResourceRef | string | null | undefined): string | undefined {
  if (!ref) return undefined;
  if (typeof ref === "string") {
    const parts = ref.split("/").filter(Boolean);
    return parts[parts.length - 1];
  }
  return typeof ref.uuid === "string" ? ref.uuid : undefined;
}

/**
 * Public NICs: the docs make a NIC private when it has a `vlan` and public when it has an
 * `ip_v4_conf`; a NIC cannot have both. IPv6-only NICs are not candidates (the floating IP and
 * the firewall rule we care about are IPv4).
 */
export function publicNics(server: Server): Nic[] {
  return (server.nics ?? []).filter((n) => n.ip_v4_conf != null && !n.vlan);
}

export type PublicNicResult = { ok: true; nic: Nic } | { ok: false; error: string };

/** The NIC that carries the floating IP: the one with `mac` if given, else the only public NIC. */
export function findPublicNic(server: Server, mac?: string): PublicNicResult {
  const nics = server.nics ?? [];
  if (mac) {
    const nic = nics.find((n) => n.mac && normalizeMac(n.mac) === mac);
    if (!nic) return { ok: false, error: `has no NIC with MAC ${mac} (--public-interface-mac)` };
    if (nic.vlan) return { ok: false, error: `NIC ${mac} is a private (VLAN) NIC, not a public one` };
    if (nic.ip_v4_conf == null)
      return { ok: false, error: `NIC ${mac} has no ip_v4_conf (not a public IPv4 NIC)` };
    return { ok: true, nic };
  }
  const candidates = publicNics(server);
  if (candidates.length === 1 && candidates[0]) return { ok: true, nic: candidates[0] };
  if (candidates.length === 0) return { ok: false, error: "has no public NIC (no NIC with ip_v4_conf)" };
  const macs = candidates.map((n) => n.mac ?? "?").join(", ");
  return {
    ok: false,
    error: `has ${candidates.length} public NICs (${macs}); pick one with --public-interface-mac`,
  };
}

/** The NIC's IPv4 address: the static IP, else the dynamic one from the runtime of a running server. */
export function nicIpv4(server: Server, nic: Nic): string | undefined {
  const conf = nic.ip_v4_conf;
  const fixed = conf?.conf === "static" ? refUuid(conf.ip) : undefined;
  if (fixed) return fixed;
  const own = refUuid(nic.runtime?.ip_v4);
  if (own) return own;
  const mac = nic.mac && normalizeMac(nic.mac);
  const rt = server.runtime?.nics?.find((r) => r.mac && normalizeMac(r.mac) === mac);
  return refUuid(rt?.ip_v4);
}

/** Every address on the server's NICs (static and runtime, v4 and v6), canonicalised, for node matching. */
export function serverAddresses(server: Server): Set<string> {
  const out = new Set<string>();
  const add = (text: string | undefined) => {
    const ip = text && canonicalIP(text);
    if (ip) out.add(ip);
  };
  for (const nic of server.nics ?? []) {
    add(refUuid(nic.ip_v4_conf?.ip));
    add(refUuid(nic.ip_v6_conf?.ip));
    add(refUuid(nic.runtime?.ip_v4));
    add(refUuid(nic.runtime?.ip_v6 as ResourceRef | string | null | undefined));
  }
  for (const rt of server.runtime?.nics ?? []) {
    add(refUuid(rt.ip_v4));
    add(refUuid(rt.ip_v6 as ResourceRef | string | null | undefined));
  }
  return out;
}

export function confOf(nic: Nic): IpConf["conf"] | undefined {
  return nic.ip_v4_conf?.conf ?? undefined;
}
