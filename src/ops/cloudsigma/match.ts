import type { V1Node } from "../../kube/types.js";
import { canonicalIP } from "../../api/ip.js";
import { serverAddresses } from "./nic.js";
import type { Server } from "./types.js";

export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";
/** Pre-1.24 clusters label control-plane nodes only with this one. */
export const LEGACY_MASTER_LABEL = "node-role.kubernetes.io/master";

export interface NodeInfo {
  name: string;
  /** ExternalIP and InternalIP addresses, canonicalised. */
  addresses: string[];
}

export function isControlPlane(node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  return CONTROL_PLANE_LABEL in labels || LEGACY_MASTER_LABEL in labels;
}

export function nodeInfo(node: V1Node): NodeInfo {
  const addresses = (node.status?.addresses ?? [])
    .filter((a) => a.type === "ExternalIP" || a.type === "InternalIP")
    .map((a) => canonicalIP(a.address))
    .filter((a): a is string => a !== undefined);
  return { name: node.metadata?.name ?? "", addresses: [...new Set(addresses)] };
}

export interface ServerMatch {
  node: string;
  server: Server;
  /** What tied them: an address of the node on a server NIC, the name, or both. */
  by: "ip" | "name" | "ip+name";
}

export interface MatchResult {
  matches: ServerMatch[];
  errors: string[];
}

const firstLabel = (name: string) => name.split(".")[0] ?? name;
const describe = (servers: Server[]) => servers.map((s) => `${s.name} (${s.uuid})`).join(", ");

/** Servers whose name matches the node: exactly, else case-insensitively, else by first DNS label. */
function nameCandidates(node: string, servers: Server[]): Server[] {
  const exact = servers.filter((s) => s.name === node);
  if (exact.length) return exact;
  const lower = node.toLowerCase();
  const folded = servers.filter((s) => s.name.toLowerCase() === lower);
  if (folded.length) return folded;
  const label = firstLabel(lower);
  return servers.filter((s) => firstLabel(s.name.toLowerCase()) === label);
}

/**
 * Ties each control-plane Node to one CloudSigma server.
 *
 * Rule: an address of the node (ExternalIP/InternalIP) that appears on a server NIC (static IP or
 * runtime IP) is the strongest evidence, because server names are free text. If exactly one server
 * carries a node address, that is the node's server, unless name matching points at a different
 * server (then the match is ambiguous and reported). If several servers carry node addresses, the
 * name decides among them. With no address match, a unique server with the node's name wins (exact,
 * then case-insensitive, then the first DNS label, so node `cp-1.example.com` matches server `cp-1`).
 * Anything else (no candidate, several candidates, two nodes on one server) is an error that asks
 * for `--server`.
 */
export function matchNodesToServers(nodes: NodeInfo[], servers: Server[]): MatchResult {
  const matches: ServerMatch[] = [];
  const errors: string[] = [];
  const addrs = new Map(servers.map((s) => [s.uuid, serverAddresses(s)]));
  for (const node of nodes) {
    const byIp = servers.filter((s) => node.addresses.some((a) => addrs.get(s.uuid)?.has(a)));
    const byName = nameCandidates(node.name, servers);
    const both = byIp.filter((s) => byName.includes(s));
    let chosen: ServerMatch | undefined;
    if (byIp.length === 1 && byIp[0]) {
      if (byName.length > 0 && both.length === 0) {
        errors.push(
          `node ${node.name}: its address is on server ${describe(byIp)} but its name matches ${describe(byName)}; ` +
            `pass --server to choose`,
        );
        continue;
      }
      chosen = { node: node.name, server: byIp[0], by: both.length ? "ip+name" : "ip" };
    } else if (byIp.length > 1) {
      if (both.length === 1 && both[0]) chosen = { node: node.name, server: both[0], by: "ip+name" };
      else {
        errors.push(
          `node ${node.name}: its addresses are on several servers (${describe(byIp)}); pass --server`,
        );
        continue;
      }
    } else if (byName.length === 1 && byName[0]) {
      chosen = { node: node.name, server: byName[0], by: "name" };
    } else if (byName.length > 1) {
      errors.push(
        `node ${node.name}: several servers share its name (${describe(byName)}); pass --server <uuid>`,
      );
      continue;
    } else {
      const ips = node.addresses.length ? node.addresses.join(", ") : "no addresses";
      errors.push(`node ${node.name} (${ips}): no CloudSigma server has its name or address; pass --server`);
      continue;
    }
    matches.push(chosen);
  }
  // One server cannot be two nodes: that would hide a control-plane node from the check.
  const byServer = new Map<string, ServerMatch[]>();
  for (const m of matches) byServer.set(m.server.uuid, [...(byServer.get(m.server.uuid) ?? []), m]);
  const clashes = [...byServer.values()].filter((list) => list.length > 1);
  for (const list of clashes) {
    const first = list[0];
    if (!first) continue;
    errors.push(
      `nodes ${list.map((m) => m.node).join(", ")} all match server ${describe([first.server])}; pass --server`,
    );
  }
  const clashed = new Set(clashes.flat());
  return { matches: matches.filter((m) => !clashed.has(m)), errors };
}

/** `--server` values: a uuid, else a unique exact name. */
export function selectServers(
  selectors: string[],
  servers: Server[],
): { servers: Server[]; errors: string[] } {
  const chosen: Server[] = [];
  const errors: string[] = [];
  for (const sel of selectors) {
    const byUuid = servers.filter((s) => s.uuid.toLowerCase() === sel.toLowerCase());
    const found = byUuid.length ? byUuid : servers.filter((s) => s.name === sel);
    if (found.length === 1 && found[0]) {
      if (!chosen.includes(found[0])) chosen.push(found[0]);
    } else if (found.length === 0) {
      errors.push(
        `unknown server ${JSON.stringify(sel)}: no server with that uuid or name in this account/location`,
      );
    } else {
      errors.push(`server name ${JSON.stringify(sel)} is ambiguous (${describe(found)}); pass the uuid`);
    }
  }
  return { servers: chosen, errors };
}
