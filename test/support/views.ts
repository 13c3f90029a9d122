// One member view for the planner's tests and benchmarks: every node alive, eligible, with carrier.
import type { ClusterView, MemberView } from "../../src/election/membership.js";

export function healthyMember(node: string, extra: Partial<MemberView> = {}): MemberView {
  return {
    node,
    alive: true,
    eligible: true,
    leaving: false,
    announcing: new Set(),
    carrier: { ens3: true },
    reason: "test",
    ...extra,
  };
}

/** Every node healthy unless overridden; `isolated` takes the quorum away from this node. */
export function clusterView(
  nodes: readonly string[],
  overrides: Record<string, Partial<MemberView>> = {},
  isolated = false,
): ClusterView {
  return {
    members: new Map(nodes.map((n) => [n, healthyMember(n, overrides[n])])),
    isolated,
    directPeers: nodes.length - 1,
    quorum: isolated ? { quorum: false, why: "test" } : { quorum: true, rule: "majority" },
  };
}
