// Results of `floatip migrate` shared by the runner and its report.

import type { ProbeSummary } from "../timeline.js";

/** The node that announces the migrated IP, from its ServiceL2Status. */
export interface AnnouncedBy {
  node: string;
  interfaces: string[];
}

export interface Downtime {
  /** What the headline number is based on. */
  basis: "probe" | "http" | "announce";
  /**
   * The headline: with the probe loop, the summed outages; else ms from the delete until the URL
   * answered; else until a node announced the IP (an upper bound of the API-side gap only).
   */
  ms: number;
  recreatedMs?: number;
  ipAssignedMs?: number;
  announcedMs?: number;
  answeringMs?: number;
  /**
   * The probe loop: `totalMs` sums every outage (the headline), `unavailableMs` is the longest one,
   * `spanMs` runs from the first to the last failed or slow probe.
   */
  probe?: Pick<ProbeSummary, "probes" | "failed" | "unavailableMs" | "spanMs"> & {
    outages: number;
    totalMs: number;
  };
}
