// What the speaker is started with (the CLI builds it from flags and SPEAKER_DEFAULTS).

import type { OwnershipMode } from "../election/ranking.js";
import type { FanoutConfig } from "../election/fanout.js";
import type { ForwardOptions } from "./forward-plan.js";
import type { HeartbeatKeyFiles } from "./heartbeat-keys.js";

export interface SpeakerConfig {
  nodeName: string;
  namespace: string;
  lbClass?: string;
  heartbeatPort: number;
  /** Address peers send heartbeats to; default: the Node's InternalIP. */
  heartbeatAddress?: string;
  heartbeatIntervalMs: number;
  /** HMAC key shared by all speakers (the CLI refuses to start without one unless told otherwise). */
  heartbeatKey: Buffer;
  /** A second key heartbeats are accepted with, while a rotation rolls out (heartbeat-keys.ts). */
  heartbeatAcceptKey?: Buffer | undefined;
  /** Where the keys came from: read again while running (a rotation); undefined: fixed keys. */
  heartbeatKeyFiles?: HeartbeatKeyFiles | undefined;
  suspectAfterMs: number;
  maxSuspectAfterMs: number;
  rejoinAfterMs: number;
  /** Scheduling priority (nice) to ask for: failure detection is latency-critical. */
  nice: number;
  leaseDurationMs: number;
  leaseRenewMs: number;
  handoverTimeoutMs: number;
  excludeCordoned: boolean;
  /** Who owns an IP: "sticky" keeps it with its live owner, "strict" is MetalLB's ranking. */
  ownership: OwnershipMode;
  /** Sparse heartbeat fan-out (election/fanout.ts); undefined: all-to-all. */
  heartbeatFanout?: FanoutConfig;
  /** host:port for /metrics, /healthz, /readyz, /state; empty disables. */
  metricsAddress: string;
  garpScheduleMs?: number[];
  podName?: string;
  podUid?: string;
  /** Send mid-flow packets to the previous owner after a planned move (forward*.ts); undefined: off. */
  forward?: ForwardOptions;
}
