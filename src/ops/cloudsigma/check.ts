import { confOf, findPublicNic, nicIpv4, normalizeMac, refUuid } from "./nic.js";
import type { IpObject, Server } from "./types.js";

/** A control-plane server to check, and how it was chosen. */
export interface Target {
  server: Server;
  /** The Kubernetes node it was matched to, when chosen from the cluster. */
  node?: string;
  matchedBy?: string;
}

export interface ServerCheck {
  uuid: string;
  name: string;
  node?: string;
  matchedBy?: string;
  status?: string;
  mac?: string;
  conf?: string | null;
  /** The NIC's current IPv4 (static IP, or the runtime IP of a running server). */
  ip?: string;
  manual: boolean;
  ok: boolean;
  error?: string;
}

export interface FloatingIpCheck {
  ip: string;
  /** GET /ips/{ip}/ answered (the account can see the IP). */
  known: boolean;
  /** The IP has a subscription, i.e. the account owns it. */
  subscribed: boolean;
  attachedTo?: { uuid: string; name?: string; controlPlane: boolean };
  ok: boolean;
}

export interface Problem {
  subject: string;
  message: string;
  fix: string;
}

export interface CheckReport {
  ok: boolean;
  servers: ServerCheck[];
  floatingIps: FloatingIpCheck[];
  problems: Problem[];
  warnings: string[];
}

export interface CheckInput {
  targets: Target[];
  /** Every server of the account, to name the server an IP is attached to. */
  allServers: Server[];
  /** --public-interface-mac, normalised. */
  mac?: string;
  floatingIps: string[];
  /** GET /ips/{ip}/ per floating IP and per node IP; undefined = 404. */
  ips: Map<string, IpObject | undefined>;
}

export const fixNicHint = (uuid: string) => `run floatip cloudsigma fix-nic --server ${uuid}`;
const SUBSCRIBE_HINT =
  "subscribe the IP in the CloudSigma panel (or use an IP the account already owns), ideally in the nodes' subnet";

/** Pure evaluation of what `check` fetched. */
export function buildCheckReport(input: CheckInput): CheckReport {
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const targetUuids = new Set(input.targets.map((t) => t.server.uuid));
  const servers = input.targets.map((t) => checkServer(t, input, problems, warnings));
  const names = new Map(input.allServers.map((s) => [s.uuid, s.name]));
  const floatingIps = input.floatingIps.map((ip) =>
    checkFloatingIp(ip, input, { names, targetUuids }, problems, warnings),
  );
  if (input.floatingIps.length === 0) warnings.push("no --floating-ip given: only the NICs were checked");
  return { ok: problems.length === 0, servers, floatingIps, problems, warnings };
}

/** One target server: its public NIC must be "manual"; adds problems and warnings as it goes. */
function checkServer(t: Target, input: CheckInput, problems: Problem[], warnings: string[]): ServerCheck {
  const s = t.server;
  const base = { uuid: s.uuid, name: s.name, node: t.node, matchedBy: t.matchedBy, status: s.status };
  const found = findPublicNic(s, input.mac);
  if (!found.ok) {
    problems.push({
      subject: `${s.name} (${s.uuid})`,
      message: `server ${found.error}`,
      fix: input.mac
        ? "check --public-interface-mac against the server's NICs in the panel"
        : "pass --public-interface-mac <mac> to choose the NIC that carries the floating IP",
    });
    return { ...base, manual: false, ok: false, error: found.error };
  }
  const nic = found.nic;
  const conf = confOf(nic) ?? null;
  const ip = nicIpv4(s, nic);
  const mac = nic.mac ? (normalizeMac(nic.mac) ?? nic.mac) : undefined;
  const manual = conf === "manual";
  if (!manual) {
    problems.push({
      subject: `${s.name} (${s.uuid})`,
      message:
        `public NIC ${mac ?? "?"} has ip_v4_conf ${JSON.stringify(conf)}${ip ? ` (${ip})` : ""}; it must be ` +
        `"manual" or the cloud firewall drops traffic for the floating IP`,
      fix: fixNicHint(s.uuid),
    });
    // Manual lets a NIC use only subscribed IPs: a node address that is not one would go dark.
    if (ip && !input.ips.get(ip)?.subscription) {
      warnings.push(
        `${s.name}: its current address ${ip} is not a subscribed IP; once the NIC is manual the cloud ` +
          `firewall drops it, so give the node a subscribed IP (configured inside the VM) before switching`,
      );
    } else if (ip) {
      warnings.push(
        `${s.name}: with "manual" the cloud no longer assigns ${ip} by DHCP; configure it statically inside the VM first`,
      );
    }
  }
  return { ...base, mac, conf, ip, manual, ok: manual };
}

/** One floating IP: owned (subscribed) by the account and attached to no server but a checked one. */
function checkFloatingIp(
  ip: string,
  input: CheckInput,
  known: { names: Map<string, string>; targetUuids: Set<string> },
  problems: Problem[],
  warnings: string[],
): FloatingIpCheck {
  const { names, targetUuids } = known;
  const obj = input.ips.get(ip);
  const subscribed = Boolean(obj?.subscription);
  const attachedUuid = refUuid(obj?.server ?? null);
  const attachedTo = attachedUuid
    ? { uuid: attachedUuid, name: names.get(attachedUuid), controlPlane: targetUuids.has(attachedUuid) }
    : undefined;
  let ok = subscribed;
  if (!obj) {
    problems.push({
      subject: ip,
      message: `not an IP of this account (GET /ips/${ip}/ answered 404)`,
      fix: SUBSCRIBE_HINT,
    });
  } else if (!subscribed) {
    problems.push({
      subject: ip,
      message: "has no subscription: a dynamically assigned IP, not one the account owns",
      fix: SUBSCRIBE_HINT,
    });
  }
  if (attachedTo && !attachedTo.controlPlane) {
    ok = false;
    const who = `${attachedTo.name ?? "?"} (${attachedTo.uuid})`;
    problems.push({
      subject: ip,
      message: `attached to server ${who}, which is not one of the checked control-plane servers`,
      fix: `detach it from ${who} in the CloudSigma panel (set that NIC to dhcp or another IP)`,
    });
  } else if (attachedTo) {
    warnings.push(
      `${ip} is attached (static) to control-plane server ${attachedTo.name ?? attachedTo.uuid}; ` +
        `switching that NIC to manual releases it`,
    );
  }
  return { ip, known: obj !== undefined, subscribed, attachedTo, ok };
}

/** Addresses worth a GET /ips/{ip}/: the floating IPs and the current IPs of non-manual public NICs. */
export function ipsToLookUp(targets: Target[], floatingIps: string[], mac?: string): string[] {
  const out = new Set(floatingIps);
  for (const t of targets) {
    const found = findPublicNic(t.server, mac);
    if (!found.ok || confOf(found.nic) === "manual") continue;
    const ip = nicIpv4(t.server, found.nic);
    if (ip) out.add(ip);
  }
  return [...out];
}
