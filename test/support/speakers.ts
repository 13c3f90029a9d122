// Waiting on the speakers of a lab cluster, shared by the speaker lab tests.

import { VIP } from "../../lab/addresses.js";
import type { LabCluster } from "../../lab/cluster.js";
import { announcers, speakerReady } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";

/** Every node's speaker answers ready. */
export function allSpeakersReady(c: LabCluster): Promise<true> {
  return waitFor(
    "all speakers ready",
    async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
    60_000,
  );
}

/** `expected` announces the IP and nobody else does. */
export function soleAnnouncer(c: LabCluster, expected: string, timeoutMs = 30_000, ip = VIP): Promise<true> {
  return waitFor(
    `${expected} as the only announcer`,
    async () => {
      const who = await announcers(c.lab, ip);
      return who.length === 1 && who[0] === expected;
    },
    timeoutMs,
    200,
  );
}
