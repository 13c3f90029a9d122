// Waiting on the speakers of a lab cluster, shared by the speaker lab tests.

import { VIP } from "../../lab/addresses.js";
import type { LabCluster } from "../../lab/cluster.js";
import { announcers, speakerReady } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";

/** Every node's speaker answers ready. */
export function allSpeakersReady(c: LabCluster, timeoutMs = 60_000): Promise<true> {
  return waitFor(
    "all speakers ready",
    async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
    timeoutMs,
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

/**
 * Distinct MACs answering ARP requests for the VIP from the client: 3 broadcast requests (`-b`:
 * iputils arping otherwise sends follow-ups unicast to the first MAC that answered, hiding a second).
 */
export async function arpOnce(c: LabCluster, ip = VIP): Promise<string[]> {
  const out = await c.lab
    .client("arping", ["-c", "3", "-w", "4", "-I", "eth0", ip], 10_000)
    .catch((err: unknown) => String((err as { stdout?: string }).stdout ?? err));
  const macs = [...out.matchAll(/reply from [\d.]+ \[([0-9a-f:]+)\]/gi)].map((m) => m[1]!.toLowerCase());
  return [...new Set(macs)].sort();
}

/** The MACs of the first arping run that gets any answer (a move may leave a short silence). */
export function arpAnswerers(c: LabCluster, ip = VIP): Promise<string[]> {
  return waitFor(
    "an ARP answer for the VIP",
    async () => {
      const macs = await arpOnce(c, ip);
      return macs.length > 0 ? macs : undefined;
    },
    20_000,
    0,
  );
}
