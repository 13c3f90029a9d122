import type { Heartbeat } from "../../src/election/heartbeat.js";

/** A valid heartbeat that says nothing: no peers, no IPs, no carrier; override what a test needs. */
export function emptyHeartbeat(from: string, overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    from,
    boot: "0123456789abcdef",
    seq: 1,
    timeoutMs: 200,
    leaving: false,
    ready: true,
    quorum: true,
    peers: [],
    announcedCount: 0,
    announcedDigest: "0000000000000000",
    acquired: [],
    carrier: {},
    ...overrides,
  };
}
