/**
 * Membership cost and detection vs cluster size, measured on the deterministic simulation (the real
 * membership, codec, plan and reconcile on a simulated clock and network; see test/sim/README.md).
 *
 *   npx tsx bench/membership.ts [--sizes 3,10,25,50] [--ips 1] [--ownership strict|sticky] [--out bench/results/membership.json]
 *
 * Per size: 4 simulated seconds without faults (packets and bytes per node per second, false
 * suspicions = ownership changes with no fault), then the owner of one IP crashes (detection =
 * until another node answers it). All-to-all is what the speaker does; larger sizes are extrapolated
 * from the packet format (one ≤ 1,200-byte datagram per peer per 40 ms).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { OwnershipMode } from "../src/election/ranking.js";
import { World } from "../test/sim/world.js";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "3,10,25,50" },
    /** IPs in the cluster (sticky lists every owned IP in each heartbeat: size grows with it). */
    ips: { type: "string", default: "1" },
    ownership: { type: "string", default: "strict" },
    out: { type: "string" },
  },
});
const IP = "203.0.113.50";
const IPS = Array.from({ length: Number(values.ips) }, (_, i) =>
  i === 0 ? IP : `2001:db8:1::${(i + 1).toString(16)}`,
);
const ownership = values.ownership as OwnershipMode;
const CRASH_AT = 4000;

interface Row {
  nodes: number;
  packetsPerNodePerS: number;
  bytesPerNodePerS: number;
  meanPacketBytes: number;
  detectionMs: number | undefined;
  falseSuspicions: number;
}

function measure(n: number): Row {
  const nodes = Array.from({ length: n }, (_, i) => `node-${i}`);
  // Find the owner first (deterministic), then crash it.
  const probe = new World({
    seed: n,
    nodes,
    ips: IPS,
    ownership,
    faults: [],
    faultsEndAt: 0,
    endAt: CRASH_AT,
  });
  let owner = "";
  let changes = 0;
  let last = "";
  const idle = probe.run((w) => {
    const who = w.answering(IP).join(",");
    if (w.now > 2500 && who !== last) changes++;
    last = who;
    owner = w.answering(IP)[0] ?? owner;
  });
  const seconds = (CRASH_AT - 1000) / 1000;
  const world = new World({
    seed: n,
    nodes,
    ips: IPS,
    ownership,
    faults: [{ at: CRASH_AT, durationMs: 5000, fault: { kind: "crash", node: owner } }],
    faultsEndAt: CRASH_AT + 5000,
    endAt: CRASH_AT + 3000,
  });
  let detected: number | undefined;
  world.run((w) => {
    if (detected === undefined && w.now > CRASH_AT && w.answering(IP).some((x) => x !== owner))
      detected = w.now;
  });
  return {
    nodes: n,
    packetsPerNodePerS: Math.round(idle.packets / n / (CRASH_AT / 1000)),
    bytesPerNodePerS: Math.round(idle.bytes / n / (CRASH_AT / 1000)),
    meanPacketBytes: Math.round(idle.bytes / idle.packets),
    detectionMs: detected === undefined ? undefined : Math.round(detected - CRASH_AT),
    falseSuspicions: changes > 0 ? changes - 1 : 0,
    ...(seconds > 0 ? {} : {}),
  };
}

const rows = values.sizes.split(",").map((s) => measure(Number(s)));
// All-to-all at 500 from the packet format: 499 datagrams per 40 ms, each the 1,200-byte maximum
// once the per-member reports fill it (7 bytes per member, 500 members), plus 28 bytes IP/UDP.
const at500 = {
  nodes: 500,
  packetsPerNodePerS: Math.round(499 / 0.04),
  bytesPerNodePerS: Math.round((499 / 0.04) * 1228),
};
console.table(rows);
console.log("all-to-all at 500 nodes (from the format):", at500);
if (values.out) writeFileSync(values.out, JSON.stringify({ rows, extrapolated: at500 }, null, 2) + "\n");
