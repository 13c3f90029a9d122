/**
 * Is a node's speaker live? The one definition `verify` checks and `failover-test` waits for
 * before it says a node is restored: a ready speaker pod on the node, or a fresh speaker Lease.
 */
import type { KubeApi } from "../kube/api.js";
import type * as k8s from "../kube/types.js";
import { listItems } from "./cluster.js";
import { wallNow } from "../common/clock.js";

export const SPEAKER_LEASE_PREFIX = "floatip-speaker-";

export interface SpeakerEvidence {
  pods: k8s.V1Pod[];
  leases: k8s.V1Lease[];
}

export async function speakerEvidence(api: KubeApi, namespace: string): Promise<SpeakerEvidence> {
  const [pods, leases] = await Promise.all([
    listItems<k8s.V1Pod>(api, `/api/v1/namespaces/${namespace}/pods`, {
      labelSelector: "app.kubernetes.io/name=floatip",
    }),
    listItems<k8s.V1Lease>(api, `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`),
  ]);
  return { pods, leases };
}

export function podReady(p: k8s.V1Pod): boolean {
  return p.status?.conditions?.some((cond) => cond.type === "Ready" && cond.status === "True") ?? false;
}

const renewMs = (lease: k8s.V1Lease) =>
  lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;

export function leaseFresh(lease: k8s.V1Lease, nowMs = wallNow(), slackS = 2): boolean {
  return nowMs - renewMs(lease) <= ((lease.spec?.leaseDurationSeconds ?? 15) + slackS) * 1000;
}

/**
 * Live: a ready speaker pod on the node, or a fresh Lease. With `since` (wall clock), the Lease
 * must also have been renewed after it: a Lease that is fresh only because it has not yet expired
 * since before a crash does not show the speaker came back.
 */
export function speakerLive(e: SpeakerEvidence, node: string, nowMs = wallNow(), since?: number): boolean {
  const lease = e.leases.find((l) => l.metadata?.name === `${SPEAKER_LEASE_PREFIX}${node}`);
  if (since !== undefined && lease) return leaseFresh(lease, nowMs) && renewMs(lease) >= since;
  const pod = e.pods.find(
    (p) =>
      p.metadata?.labels?.["app.kubernetes.io/component"] === "speaker" &&
      p.spec?.nodeName === node &&
      podReady(p),
  );
  return !!pod || (!!lease && leaseFresh(lease, nowMs));
}
