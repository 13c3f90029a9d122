/** The speaker's tuning defaults; its own module so the CLI can show them without loading the speaker. */
export const SPEAKER_DEFAULTS = {
  heartbeatPort: 7946,
  heartbeatIntervalMs: 40,
  suspectAfterMs: 200,
  maxSuspectAfterMs: 1000,
  nice: -10,
  rejoinAfterMs: 1000,
  leaseDurationMs: 6000,
  leaseRenewMs: 2000,
  handoverTimeoutMs: 3000,
  excludeCordoned: true,
  /** Owner rule: "sticky" (an IP stays with its live owner; see src/speaker/README.md) or "strict" (MetalLB). */
  ownership: "sticky",
  /** Heartbeat fan-out: "all" (every speaker to every other) or "sparse" (election/fanout.ts; strict ownership only). */
  heartbeatFanout: "all",
  /** "InternalIP" = the Node's InternalIP (for hostNetwork pods, also the pod IP kubelet probes). */
  metricsAddress: "InternalIP:7472",
} as const;
