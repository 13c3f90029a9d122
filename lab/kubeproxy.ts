import type { Lab, LabNode } from "./lab.js";
import { nsRun } from "./sh.js";

export interface LabEndpoint {
  node: string;
  ip: string;
  ip6: string;
  port: number;
}

export interface LabService {
  name: string;
  vips: string[];
  port: number;
  externalTrafficPolicy: "Cluster" | "Local";
  endpoints: LabEndpoint[];
}

const TABLE = "floatip_kube_proxy";

/**
 * The nftables ruleset kube-proxy would give one node for these Services: DNAT from VIP:port to a
 * backend. Cluster: any endpoint (random), masqueraded so replies come back through this node.
 * Local: only endpoints on this node, no SNAT (client IP preserved); traffic is dropped without one.
 */
export function kubeProxyRuleset(node: LabNode, services: LabService[]): string {
  const lines: string[] = [
    `table inet ${TABLE} {`,
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
  ];
  const filter: string[] = [];
  for (const svc of services) {
    const eps =
      svc.externalTrafficPolicy === "Local"
        ? svc.endpoints.filter((e) => e.node === node.name)
        : svc.endpoints;
    for (const vip of svc.vips) {
      const v6 = vip.includes(":");
      const fam = v6 ? "ip6" : "ip";
      const match = `${fam} daddr ${vip} tcp dport ${svc.port}`;
      if (eps.length === 0) {
        filter.push(`    ${match} drop`);
        continue;
      }
      const addrs = eps.map((e) => (v6 ? e.ip6 : e.ip));
      const port = eps[0]?.port ?? svc.port;
      if (addrs.length === 1) {
        lines.push(`    ${match} dnat ${fam} to ${v6 ? `[${addrs[0]}]` : addrs[0]}:${port}`);
      } else {
        const map = addrs.map((a, i) => `${i} : ${a}`).join(", ");
        lines.push(`    ${match} dnat ${fam} to numgen random mod ${addrs.length} map { ${map} } : ${port}`);
      }
    }
  }
  lines.push("  }");
  lines.push("  chain postrouting {", "    type nat hook postrouting priority srcnat; policy accept;");
  lines.push('    ct status dnat oifname "eth1" masquerade');
  lines.push("  }");
  lines.push("  chain forward {", "    type filter hook prerouting priority dstnat - 10; policy accept;");
  lines.push(...filter);
  lines.push("  }");
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** Installs (or replaces) the kube-proxy emulation on every lab node. */
export async function applyKubeProxy(lab: Lab, services: LabService[]): Promise<void> {
  for (const node of lab.nodes) {
    await nsRun(node.ns, "nft", ["-f", "-"], { input: `table inet ${TABLE}\ndelete table inet ${TABLE}\n` });
    await nsRun(node.ns, "nft", ["-f", "-"], { input: kubeProxyRuleset(node, services) });
  }
}
