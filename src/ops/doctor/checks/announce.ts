// IP assigned but not announced: pools without an L2Advertisement (MetalLB #1154), no speaker on the
// advertised nodes, no node announcing (ServiceL2Status), interfaces that are not there.
//
// What is observable from the API: L2Advertisements, Nodes, the speakers' Leases
// (floatip-speaker-<node>) and their ServiceL2Status objects (node + interfaces actually used). Which
// interfaces a node has is not in the API; a ServiceL2Status listing fewer interfaces than the
// L2Advertisement asks for is the evidence that the others are missing or down on that node.

import { l2AdvertisementSelectsNode, l2AdvertisementSelectsPool } from "../../../api/l2advertisement.js";
import { preparePools } from "../../../api/pool.js";
import { isServiceForClass, serviceKeyOf } from "../../../api/service.js";
import type { L2Advertisement, ServiceL2Status } from "../../../api/types.js";
import {
  SPEAKER_LEASE_PREFIX,
  allocatedPool,
  freshSpeakerLeases,
  ingressIPs,
  isLoadBalancer,
  staleSpeakerNodes,
} from "../evidence.js";
import type { Check, Finding, Snapshot } from "../types.js";
import type { KubeService } from "../../../kube/objects.js";

const EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers";

function statusesFor(snap: Snapshot, svc: KubeService): ServiceL2Status[] {
  return (snap.l2Statuses ?? []).filter(
    (s) =>
      s.status?.serviceName === svc.metadata.name &&
      (s.status?.serviceNamespace ?? "default") === (svc.metadata.namespace ?? "default"),
  );
}

function eligibleNodes(snap: Snapshot, ads: readonly L2Advertisement[]): string[] {
  return snap.nodes
    .filter((n) => !(n.metadata.labels && EXCLUDE_LABEL in n.metadata.labels))
    .filter((n) => ads.some((a) => l2AdvertisementSelectsNode(a, n.metadata.labels)))
    .map((n) => n.metadata.name)
    .sort();
}

export const checkAdvertisements: Check = (snap) => {
  if (!snap.pools || !snap.l2Advertisements) return [];
  const ns = snap.config.namespace;
  const pools = preparePools(snap.pools).pools;
  const ads = snap.l2Advertisements;
  const out: Finding[] = [];
  for (const pool of pools) {
    if (ads.some((a) => l2AdvertisementSelectsPool(a, pool))) continue;
    out.push({
      check: "pool-not-advertised",
      severity: "warning",
      object: { kind: "IPAddressPool", namespace: ns, name: pool.name },
      explanation: `No L2Advertisement selects pool ${pool.name}: its IPs are assigned to Services but never announced (no ARP/NDP answers; MetalLB issue 1154).`,
      fix: `Create one:\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: ${pool.name}-l2, namespace: ${ns}}\nspec: {ipAddressPools: [${pool.name}], interfaces: [ens3]}`,
    });
  }
  for (const ad of ads) {
    const missing = (ad.spec?.ipAddressPools ?? []).filter((p) => !pools.some((q) => q.name === p));
    if (missing.length > 0) {
      out.push({
        check: "advertisement-unknown-pool",
        severity: "warning",
        object: { kind: "L2Advertisement", namespace: ns, name: ad.metadata.name },
        explanation: `spec.ipAddressPools names ${missing.join(", ")}, which do(es) not exist (or are invalid) in ${ns}.`,
        fix: "Correct the pool names.",
      });
    }
    if (snap.nodes.length > 0 && eligibleNodes(snap, [ad]).length === 0) {
      out.push({
        check: "advertisement-no-nodes",
        severity: "warning",
        object: { kind: "L2Advertisement", namespace: ns, name: ad.metadata.name },
        explanation: `spec.nodeSelectors match no node (or all matching nodes carry ${EXCLUDE_LABEL}): nobody may announce its pools.`,
        fix: "Fix the nodeSelectors or the node labels.",
      });
    }
  }
  return out;
};

/**
 * The endpoint part of "why does no node announce": read from the EndpointSlices when we could
 * list them, so that "no ready endpoint" is a finding, not a guess.
 */
export function endpointCause(snap: Snapshot, svc: KubeService, speakerNodes: readonly string[]): string {
  const local = svc.spec.externalTrafficPolicy === "Local";
  if (!snap.endpointSlices)
    return `Likely causes: no ready endpoint${local ? " on a node with a speaker (externalTrafficPolicy: Local)" : ""} (EndpointSlices not readable); `;
  const ready = snap.endpointSlices
    .filter(
      (s) =>
        s.metadata.namespace === svc.metadata.namespace &&
        s.metadata.labels?.["kubernetes.io/service-name"] === svc.metadata.name,
    )
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready !== false);
  const usable = local ? ready.filter((e) => e.nodeName && speakerNodes.includes(e.nodeName)) : ready;
  if (usable.length === 0)
    return ready.length > 0
      ? `Cause: its ${ready.length} ready endpoint(s) run on no node with a speaker (externalTrafficPolicy: Local; EndpointSlices). Other possible causes: `
      : "Cause: the Service has no ready endpoint (its EndpointSlices list none ready). Other possible causes: ";
  return `It has ${usable.length} ready endpoint(s) (EndpointSlices), so look at: `;
}

/** What each node that ServiceL2Status names as announcer tells: missing interfaces, a stale speaker. */
function announcerFindings(
  statuses: readonly ServiceL2Status[],
  base: Pick<Finding, "object" | "service">,
  seen: {
    ips: string[];
    wanted: string[];
    speakers: ReadonlyMap<string, unknown>;
    anyFloatipSpeaker: boolean;
  },
): Finding[] {
  const { ips, wanted, speakers, anyFloatipSpeaker } = seen;
  const out: Finding[] = [];
  for (const st of statuses) {
    const node = st.status?.node ?? "?";
    const used = (st.status?.interfaces ?? []).map((i) => i.name);
    const absent = wanted.filter((i) => !used.includes(i));
    if (absent.length > 0 && used.length > 0) {
      out.push({
        ...base,
        check: "interface-missing",
        severity: "info",
        explanation: `Node ${node} announces on ${used.join(", ")} but not on ${absent.join(", ")}: those interfaces are missing or down on ${node}.`,
        fix: `Check \`ip link\` on ${node}; list in the L2Advertisement only interfaces that exist (CloudSigma: ens3; Kube-OVN: br-ext-cloud).`,
      });
    }
    if (anyFloatipSpeaker && !speakers.has(node)) {
      out.push({
        ...base,
        check: "announcer-stale",
        severity: "warning",
        explanation: `ServiceL2Status says ${node} announces ${ips.join(", ")}, but the speaker Lease ${SPEAKER_LEASE_PREFIX}${node} is missing or not renewed: that speaker may be gone.`,
        fix: `Check the speaker pod on ${node}.`,
      });
    }
  }
  return out;
}

export const checkAnnouncement: Check = (snap) => {
  if (!snap.pools || !snap.l2Advertisements) return [];
  const pools = preparePools(snap.pools).pools;
  const speakers = freshSpeakerLeases(snap.leases, snap.now);
  const stale = staleSpeakerNodes(snap.leases, snap.now);
  const anyFloatipSpeaker = snap.leases.some((l) => l.metadata.name.startsWith(SPEAKER_LEASE_PREFIX));
  const out: Finding[] = [];
  for (const svc of snap.services) {
    if (!isLoadBalancer(svc) || !isServiceForClass(svc, snap.config.lbClass)) continue;
    const ips = ingressIPs(svc);
    if (ips.length === 0) continue;
    const poolName = allocatedPool(svc);
    const pool = pools.find((p) => p.name === poolName);
    if (!pool) continue; // checkForeignIngress explains a missing or unknown pool annotation
    const base = {
      object: { kind: "Service", namespace: svc.metadata.namespace, name: svc.metadata.name },
      service: serviceKeyOf(svc),
    };
    const ads = snap.l2Advertisements.filter((a) => l2AdvertisementSelectsPool(a, pool));
    if (ads.length === 0) {
      out.push({
        ...base,
        check: "ip-not-announced",
        severity: "error",
        explanation: `${ips.join(", ")} is assigned (pool ${pool.name}) but never announced: no L2Advertisement selects the pool, so no node answers ARP/NDP for it.`,
        fix: `Create an L2Advertisement with ipAddressPools: [${pool.name}] (see the pool's finding).`,
      });
      continue;
    }
    const statuses = statusesFor(snap, svc);
    const eligible = eligibleNodes(snap, ads);
    const wanted = [...new Set(ads.flatMap((a) => a.spec?.interfaces ?? []))].sort();
    const withSpeaker = eligible.filter((n) => speakers.has(n));
    // A node that never had a speaker Lease runs no speaker by design (e.g. workers); one whose Lease
    // went stale lost its speaker.
    const stopped = eligible.filter((n) => stale.has(n));
    if (withSpeaker.length > 0 && stopped.length > 0) {
      out.push({
        ...base,
        check: "speaker-missing",
        severity: "warning",
        explanation: `The speaker Lease of ${stopped.join(", ")} is no longer renewed: those nodes cannot take over ${ips.join(", ")}.`,
        fix: `Check the speaker pods there (kubectl get pods -n ${snap.config.namespace} -o wide).`,
      });
    }
    if (statuses.length > 0) {
      out.push(...announcerFindings(statuses, base, { ips, wanted, speakers, anyFloatipSpeaker }));
      continue;
    }
    out.push({
      ...base,
      check: withSpeaker.length === 0 ? "no-speaker" : "no-announcer",
      severity: "error",
      explanation:
        withSpeaker.length === 0
          ? `${ips.join(", ")} is assigned but no speaker runs on the advertised nodes (${eligible.join(", ") || "none"}): no Lease ${SPEAKER_LEASE_PREFIX}<node> is being renewed.`
          : `${ips.join(", ")} is assigned and speakers run on ${withSpeaker.join(", ")}, but no node announces it (no ServiceL2Status). ${endpointCause(snap, svc, withSpeaker)}the interfaces ${wanted.join(", ") || "(default)"} are missing or down on those nodes; the speakers run with another --lb-class.`,
      fix:
        withSpeaker.length === 0
          ? `Check the speaker DaemonSet (kubectl get pods -n ${snap.config.namespace} -o wide) and its node selector/tolerations for control-plane nodes.`
          : `Check the Service's endpoints (kubectl get endpointslices -n ${svc.metadata.namespace} -l kubernetes.io/service-name=${svc.metadata.name}), \`ip link\` on the nodes, and the speaker logs.`,
    });
  }
  return out;
};
