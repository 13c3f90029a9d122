/**
 * Idle cost of the native heartbeat pump (native/PUMP-SPEC.md; issue 13: an idle speaker <= 1 % of a core).
 * Three processes on loopback, each a pump with a template for the two others (40 ms rounds), and
 * JavaScript woken only by a 500 ms wakeAt: on each wake it drains (mode `drain`), or drains and
 * decodes every datagram (mode `decode`), then arms again. CPU from /proc/self/stat (utime+stime)
 * per process and per thread (/proc/self/task/<tid>/schedstat; the pump's thread is "floatip-pump"), over
 * the window. The three processes run the tsc build (tsx alone costs ~0.3 % of a core idle) with the
 * chart's Node flags.
 *
 *   npm run build && npx tsx bench/pump-idle.ts [--seconds 30] [--modes drain,decode] \
 *     [--out bench/results/pump-idle.json]
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { sleep } from "../src/common/wait.js";
import { decodeHeartbeat, encodeHeartbeatBody, nameHash, type Heartbeat } from "../src/election/heartbeat.js";
import { HeartbeatPump } from "../src/native/pump.js";
import { CHART_NODE_OPTIONS } from "./lab-speakers.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    modes: { type: "string", default: "drain,decode" },
    out: { type: "string", default: "bench/results/pump-idle.json" },
    // Internal: run as one of the three pumps.
    child: { type: "string" },
    port: { type: "string" },
    peers: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const key = Buffer.from("bench key");
const boot = (name: string) => Buffer.from(name.padEnd(8, "-")).toString("hex");

/** utime + stime of a /proc stat line, in seconds (USER_HZ = 100). */
function cpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds per thread name (the pump's thread is "floatip-pump"; Node's main thread is "node"). */
function threadSeconds(): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
      byName.set(
        name,
        // schedstat: time on a CPU in ns (stat's utime+stime count 10 ms ticks: too coarse per thread).
        (byName.get(name) ?? 0) +
          Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1e9,
      );
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return byName;
}

function heartbeat(from: string, others: string[]): Heartbeat {
  return {
    from,
    boot: boot(from),
    seq: 1,
    timeoutMs: 1000,
    leaving: false,
    ready: true,
    quorum: true,
    peers: others.map((o) => ({
      hash: nameHash(o),
      ageMs: 65535,
      direct: true,
      alive: true,
      eligible: true,
      leaving: false,
    })),
    announcedCount: 1,
    announcedDigest: "0123456789abcdef",
    acquired: [],
    carrier: { ens3: true },
  };
}

async function child(name: string, mode: string): Promise<void> {
  const peers = values.peers!.split(",").map((p) => {
    const [peer, port] = p.split(":");
    return { name: peer!, port: Number(port) };
  });
  let wakes = 0;
  let datagrams = 0;
  let decoded = 0;
  let rounds = 0;
  let stalls = 0;
  let maxStallMs = 0;
  const pump: HeartbeatPump = new HeartbeatPump({
    family: 4,
    bindAddress: "127.0.0.1",
    port: Number(values.port),
    key,
    boot: boot(name),
    firstSeq: 1,
    intervalMs: 40,
    freshnessMs: 1000,
    watchdogMs: 1000,
    onWake: () => {
      wakes++;
      const d = pump.drain();
      datagrams += d.datagrams.length;
      rounds += d.sent.length;
      if (d.stalledMs > 0) stalls++;
      maxStallMs = Math.max(maxStallMs, d.stalledMs);
      if (mode === "decode") for (const g of d.datagrams) if (decodeHeartbeat(g.data, key).ok) decoded++;
      pump.arm({ wakeAt: performance.now() + 500, peers: [] });
    },
  });
  const body = encodeHeartbeatBody(
    heartbeat(
      name,
      peers.map((p) => p.name),
    ),
  );
  for (const p of peers) {
    pump.setPeer(p.name, nameHash(p.name), "127.0.0.1", p.port);
    pump.setTemplate(p.name, body, performance.now());
  }
  pump.arm({ wakeAt: performance.now() + 500, peers: [] });
  await sleep(2000); // settle: first packets, first wakes
  const before = { process: cpuSeconds(readFileSync("/proc/self/stat", "utf8")), wakes, datagrams, rounds };
  [stalls, maxStallMs] = [0, 0];
  const threadsBefore = threadSeconds();
  const started = performance.now();
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - started) / 1000;
  const processS = cpuSeconds(readFileSync("/proc/self/stat", "utf8")) - before.process;
  const threads = Object.fromEntries(
    [...threadSeconds()]
      .map(([name, s]) => [name, Number(((100 * (s - (threadsBefore.get(name) ?? 0))) / elapsed).toFixed(3))])
      .filter(([, percent]) => percent !== 0),
  ) as Record<string, number>;
  pump.close();
  process.stdout.write(
    JSON.stringify({
      name,
      mode,
      cpuPercent: Number(((100 * processS) / elapsed).toFixed(3)),
      // The same from every thread's schedstat (ns): finer than the 10 ms ticks above.
      cpuPercentSched: Number(
        Object.values(threads)
          .reduce((a, b) => a + b, 0)
          .toFixed(3),
      ),
      pumpThreadPercent: threads["floatip-pump"] ?? 0,
      threadPercent: threads,
      wakesPerS: Number(((wakes - before.wakes) / elapsed).toFixed(2)),
      roundsPerS: Number(((rounds - before.rounds) / elapsed).toFixed(1)),
      datagramsPerS: Number(((datagrams - before.datagrams) / elapsed).toFixed(1)),
      // Drains that reported a round more than one interval late (the process stood still), and the longest.
      stalls,
      maxStallMs: Number(maxStallMs.toFixed(1)),
      ...(mode === "decode" ? { decoded } : {}),
    }) + "\n",
  );
}

async function main(): Promise<void> {
  const names = ["a", "b", "c"];
  const base = 20000 + Math.floor(Math.random() * 20000);
  const ports = names.map((_, i) => base + i);
  const built = join(import.meta.dirname, "..", "dist", "bench", "pump-idle.js");
  const self = import.meta.filename.endsWith(".js") ? import.meta.filename : built;
  if (!existsSync(self)) throw new Error(`${built} missing: run npm run build first`);
  const results = [];
  for (const mode of values.modes!.split(",")) {
    const runs = names.map((name, i) =>
      promisify(execFile)(
        process.execPath,
        [
          ...CHART_NODE_OPTIONS,
          self,
          `--child=${name}`,
          `--modes=${mode}`,
          `--seconds=${seconds}`,
          `--port=${ports[i]}`,
          `--peers=${names
            .map((n, j) => `${n}:${ports[j]}`)
            .filter((_, j) => j !== i)
            .join(",")}`,
        ],
        { timeout: (seconds + 60) * 1000 },
      ),
    );
    for (const { stdout } of await Promise.all(runs)) results.push(JSON.parse(stdout) as unknown);
  }
  const result = {
    date: new Date().toISOString(),
    seconds,
    loadavg: readFileSync("/proc/loadavg", "utf8").trim(),
    results,
  };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  mkdirSync(dirname(values.out!), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2) + "\n");
}

if (values.child) await child(values.child, values.modes!);
else await main();
