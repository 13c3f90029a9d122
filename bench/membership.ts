/**
 * Membership cost and detection vs cluster size, measured on the deterministic simulation (the real
 * membership, codec, plan and reconcile on a simulated clock and network; see test/sim/README.md).
 *
 *   npx tsx bench/membership.ts [--sizes 3,10,25,100] [--fanout all|sparse|both] [--voters 5]
 *                               [--ips 1] [--ownership strict|sticky] [--invariants] [--crash-seeds 1]
 *                               [--out file.json]
 *
 * Per size and fan-out: 4 simulated seconds without faults (packets and bytes per node per second,
 * the busiest node, false suspicions = ownership changes with no fault plus members some node does
 * not count alive at the end), then the owner of one IP crashes (detection = until another node
 * answers it). All-to-all beyond what the simulation runs in reasonable time is computed from the
 * packet format (one ≤ 1,200-byte datagram per peer per 40 ms).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_FANOUT, type FanoutConfig } from "../src/election/fanout.js";
import type { OwnershipMode } from "../src/election/ranking.js";
import { World } from "../test/sim/world.js";
import type { Schedule } from "../test/sim/schedule.js";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "3,10,25,100" },
    fanout: { type: "string", default: "both" },
    voters: { type: "string", default: String(DEFAULT_FANOUT.voters) },
    /** IPs in the cluster (sticky lists every owned IP in each heartbeat: size grows with it). */
    ips: { type: "string", default: "1" },
    ownership: { type: "string", default: "strict" },
    /** Check the simulation's invariants too (slow above ~50 nodes: quadratic per Lease write). */
    invariants: { type: "boolean", default: false },
    /** Crash runs per size, each under another seed (another tick phase); detection = their median. */
    "crash-seeds": { type: "string", default: "1" },
    out: { type: "string" },
  },
});
const IP = "203.0.113.50";
const IPS = Array.from({ length: Number(values.ips) }, (_, i) =>
  i === 0 ? IP : `2001:db8:1::${(i + 1).toString(16)}`,
);
const ownership = values.ownership as OwnershipMode;
const CRASH_AT = 4000;
const IDLE_FROM = 2500;

interface Row {
  fanout: "all" | "sparse";
  nodes: number;
  packetsPerNodePerS: number;
  busiestNodePacketsPerS: number;
  bytesPerNodePerS: number;
  meanPacketBytes: number;
  /** Median over --crash-seeds runs (1: the single run of seed = nodes). */
  detectionMs: number | undefined;
  detectionMinMs?: number;
  detectionMaxMs?: number;
  falseSuspicions: number;
  violations: number;
  cpuS: number;
}

function schedule(n: number, fanout: FanoutConfig | undefined, extra: Partial<Schedule>): Schedule {
  const nodes = Array.from({ length: n }, (_, i) => `node-${i}`);
  return {
    seed: n,
    nodes,
    ips: IPS,
    ownership,
    ...(fanout ? { fanout } : {}),
    faults: [],
    faultsEndAt: 0,
    endAt: CRASH_AT,
    ...extra,
  };
}

function measure(n: number, mode: "all" | "sparse"): Row {
  const started = process.cpuUsage();
  const fanout = mode === "sparse" ? { ...DEFAULT_FANOUT, voters: Number(values.voters) } : undefined;
  const probe = new World(schedule(n, fanout, {}));
  let owner = "";
  let changes = 0;
  let last = "";
  const idle = probe.run((w) => {
    const who = w.answering(IP).join(",");
    if (w.now > IDLE_FROM && who !== last) changes++;
    last = who;
    owner = w.answering(IP)[0] ?? owner;
  }, values.invariants);
  // Members some node does not count alive after the idle run (nobody failed).
  let notAlive = 0;
  for (const node of probe.nodes.values()) {
    for (const m of node.membership.view(probe.now).members.values()) if (!m.alive) notAlive++;
  }
  // Detection = last heartbeat heard + 200 ms, rounded up to the successor's next 40 ms tick: one
  // run samples one tick phase; --crash-seeds runs the crash under that many seeds (phases).
  const detections: number[] = [];
  let crashViolations = 0;
  for (let k = 0; k < Number(values["crash-seeds"]); k++) {
    const world = new World(
      schedule(n, fanout, {
        seed: n + k,
        faults: [{ at: CRASH_AT, durationMs: 5000, fault: { kind: "crash", node: owner } }],
        faultsEndAt: CRASH_AT + 5000,
        endAt: CRASH_AT + 3000,
      }),
    );
    let detected: number | undefined;
    const crash = world.run((w) => {
      if (detected === undefined && w.now > CRASH_AT && w.answering(IP).some((x) => x !== owner))
        detected = w.now;
    }, values.invariants);
    crashViolations += crash.violations.length;
    if (detected !== undefined) detections.push(detected - CRASH_AT);
  }
  detections.sort((a, b) => a - b);
  const seconds = CRASH_AT / 1000;
  const cpu = process.cpuUsage(started);
  return {
    fanout: mode,
    nodes: n,
    packetsPerNodePerS: Math.round(idle.packets / n / seconds),
    busiestNodePacketsPerS: Math.round(Math.max(...probe.sentBy.values()) / seconds),
    bytesPerNodePerS: Math.round(idle.bytes / n / seconds),
    meanPacketBytes: Math.round(idle.bytes / idle.packets),
    detectionMs: detections.length
      ? Math.round(detections[Math.floor((detections.length - 1) / 2)]!)
      : undefined,
    ...(detections.length > 1
      ? { detectionMinMs: Math.round(detections[0]!), detectionMaxMs: Math.round(detections.at(-1)!) }
      : {}),
    falseSuspicions: (changes > 0 ? changes - 1 : 0) + notAlive,
    violations: idle.violations.length + crashViolations,
    cpuS: Math.round((cpu.user + cpu.system) / 1e5) / 10,
  };
}

const modes: ("all" | "sparse")[] = values.fanout === "both" ? ["all", "sparse"] : [values.fanout as "all"];
const rows: Row[] = [];
for (const size of values.sizes.split(",").map(Number)) {
  for (const mode of modes) {
    rows.push(measure(size, mode));
    console.log(JSON.stringify(rows.at(-1)));
  }
}
// All-to-all from the packet format: N−1 datagrams per 40 ms, each the 1,200-byte maximum once the
// per-member reports fill it (7 bytes per member), plus 28 bytes IP/UDP.
const formatModel = [100, 300, 500].map((nodes) => {
  const bytes = Math.min(1200, 90 + 7 * (nodes - 1)) + 28;
  return {
    nodes,
    packetsPerNodePerS: Math.round((nodes - 1) / 0.04),
    bytesPerNodePerS: Math.round(((nodes - 1) / 0.04) * bytes),
  };
});
console.table(rows);
console.log("all-to-all from the format:");
console.table(formatModel);
if (values.out)
  writeFileSync(values.out, JSON.stringify({ rows, allToAllFromFormat: formatModel }, null, 2) + "\n");
