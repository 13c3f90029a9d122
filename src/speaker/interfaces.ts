import { readdirSync } from "node:fs";
import { interfaceCarrier, interfaceInfo } from "../native/rawsocket.js";

/** Names of interfaces that carry pod, tunnel or service traffic, never a LAN a floating IP lives on. */
const NOT_A_LAN =
  /^(lo|docker\d*|cni\d*|flannel\..*|cilium_.*|lxc.*|cali.*|vxlan.*|genev.*|tunl\d*|kube-ipvs\d*|kube-bridge|nodelocaldns|ovn-k8s.*|mirror.*|weave|vethwe.*|tap.*|tun\d*|wg\d*|dummy\d*)$/;

/**
 * The default announce interfaces when an L2Advertisement names none: every interface that is up,
 * broadcast-capable and not one of the well-known virtual ones above.
 */
export function defaultAnnounceInterfaces(): string[] {
  let names: string[];
  try {
    names = readdirSync("/sys/class/net");
  } catch {
    return [];
  }
  return names
    .filter((name) => !NOT_A_LAN.test(name))
    .filter((name) => {
      try {
        const info = interfaceInfo(name);
        return info.up && info.broadcast && !info.loopback;
      } catch {
        return false;
      }
    })
    .sort();
}

/** Carrier per interface: up and running (IFF_RUNNING follows the link's carrier). */
export function carrierOf(names: readonly string[]): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const name of names) {
    try {
      out[name] = interfaceCarrier(name);
    } catch {
      out[name] = false;
    }
  }
  return out;
}

/** One per pod or tunnel endpoint: many, and never what an L2Advertisement names. */
const PER_POD = /^(lo|veth.*|lxc.*|cali.*|tap.*)$/;

/**
 * What this node has for an L2Advertisement's `interfaces` to name: interfaces with carrier (up and
 * running), without the per-pod ones. Published on the speaker's Lease for `floatip verify`.
 */
export function liveInterfaceNames(): string[] {
  let names: string[];
  try {
    names = readdirSync("/sys/class/net");
  } catch {
    return [];
  }
  const carrier = carrierOf(names.filter((n) => !PER_POD.test(n)));
  return Object.keys(carrier)
    .filter((n) => carrier[n])
    .sort();
}
