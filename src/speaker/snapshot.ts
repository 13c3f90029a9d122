/** What a speaker believes, as its /state endpoint shows it (`floatip verify`, the lab, debugging). */
import type { ClusterView } from "../election/membership.js";

export interface SpeakerSnapshot {
  node: string;
  apiHealthy: boolean;
  isolated: boolean;
  members: {
    node: string;
    alive: boolean;
    eligible: boolean;
    leaving: boolean;
    reason: string;
    announcing: string[];
    /** Silence after which this speaker writes that member off (adaptive: election/peers.ts); not for itself. */
    timeoutMs?: number;
  }[];
  announcing: Record<string, string[]>;
  /** Sparse fan-out: the voter set (empty with all-to-all). */
  voters: string[];
}

export function speakerSnapshot(
  node: string,
  apiHealthy: boolean,
  view: ClusterView | undefined,
  announced: Iterable<[string, string[]]>,
  voters: Iterable<string>,
  timeoutOf: (node: string) => number | undefined = () => undefined,
): SpeakerSnapshot {
  return {
    node,
    apiHealthy,
    isolated: view?.isolated ?? false,
    members: [...(view?.members.values() ?? [])].map((m) => ({
      node: m.node,
      alive: m.alive,
      eligible: m.eligible,
      leaving: m.leaving,
      reason: m.reason,
      announcing: [...m.announcing],
      ...(m.node !== node && timeoutOf(m.node) !== undefined ? { timeoutMs: timeoutOf(m.node) } : {}),
    })),
    announcing: Object.fromEntries(announced),
    voters: [...voters],
  };
}
