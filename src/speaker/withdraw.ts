/**
 * Why a speaker stops answering for an IP. A closed set: each reason is a label value of
 * floatip_ownership_changes_total and a log field, so a free string would grow the metric's
 * series without bound and let a typo pass unseen.
 */
export const WITHDRAW_REASONS = [
  /** Another node owns the IP now (it announces it). */
  "notOwner",
  /** The member view has no node that may announce it. */
  "noEligibleNode",
  /** This node is not ready (rejoining, leaving, no carrier). */
  "notReady",
  /** This node lost its quorum. */
  "isolated",
  /** externalTrafficPolicy: Local and no ready endpoint on this node. */
  "noReadyEndpoints",
  /** A shared IP whose Services select nodes differently (MetalLB refuses these too). */
  "sharedIPWithServiceSelector",
  /** The successor never announced within --handover-timeout-ms. */
  "handoverTimeout",
  /** The successor is heard only through others: it cannot confirm, a short grace is waited instead. */
  "handoverUnconfirmable",
  /** The Service (or its IP) is gone, or no longer ours to serve. */
  "serviceGone",
  /** This speaker is stopping (graceful shutdown). */
  "shutdown",
] as const;

export type WithdrawReason = (typeof WITHDRAW_REASONS)[number];
