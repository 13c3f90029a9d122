/**
 * What an ARP/NDP flood costs the answering path (issue 13: 100,000 ARP requests/s at the owner
 * must not starve heartbeats). Two namespaces joined by two veth pairs: the "owner" runs the
 * speaker's real Announcer for one IPv4 and one IPv6 VIP on `ens3` plus a 40 ms timer (the tick),
 * and receives a 40 ms UDP "heartbeat" on `eth1`; the "segment" namespace floods with lab/l2flood.c
 * and sends the heartbeats. Per phase: frames that reached the JS handler, the owner process's CPU,
 * the tick's worst delay and the heartbeats' worst one-way delay (both processes read the same
 * CLOCK_MONOTONIC).
 *
 *   sudo npx tsx bench/flood.ts [--seconds 10] [--out bench/results/flood.json]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { flood, l2floodBinary, type FloodResult } from "../lab/l2flood.js";
import { run } from "../lab/sh.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    out: { type: "string", default: "bench/results/flood.json" },
    role: { type: "string" },
  },
});
const SECONDS = Number(values.seconds);
const VIP = "203.0.113.50";
const VIP6 = "2001:db8:1::50";
const OWNER_HB = "198.51.100.12";
const SEGMENT_HB = "198.51.100.11";
const HB_PORT = 7946;
const log = (line: string) => process.stderr.write(`[flood] ${line}\n`);
const monoMs = () => Number(process.hrtime.bigint()) / 1e6;

if (values.role === "owner") await owner();
else if (values.role === "beat") await beat();
else await main();

/** The owner: Announcer + tick + heartbeat receiver; prints one JSON line per `report` on stdin. */
async function owner(): Promise<void> {
  const { pino } = await import("pino");
  const { Announcer } = await import("../src/speaker/announcer.js");
  const { SpeakerMetrics } = await import("../src/speaker/metrics.js");
  const dgram = await import("node:dgram");
  const metrics = new SpeakerMetrics();
  const announcer = new Announcer(pino({ level: "silent" }), metrics, [0]);
  announcer.set(VIP, ["ens3"]);
  announcer.set(VIP6, ["ens3"]);
  let tickLag = 0;
  let last = monoMs();
  setInterval(() => {
    const now = monoMs();
    tickLag = Math.max(tickLag, now - last - 40);
    last = now;
  }, 40);
  let beatDelay = 0;
  let beats = 0;
  const sock = dgram.createSocket("udp4");
  sock.on("message", (msg) => {
    beats++;
    beatDelay = Math.max(beatDelay, monoMs() - Number(msg.toString()));
  });
  sock.bind(HB_PORT, OWNER_HB);
  let cpu = process.cpuUsage();
  let at = monoMs();
  const counters = async () => {
    const all = await metrics.registry.getMetricsAsJSON();
    const sum = (name: string, reason?: string) =>
      (all.find((m) => m.name === name)?.values ?? [])
        .filter((v) => reason === undefined || v.labels.reason === reason)
        .reduce((s, v) => s + v.value, 0);
    return {
      handled: sum("floatip_layer2_frames_handled_total"),
      ignored: sum("floatip_layer2_frames_ignored"),
      rateLimited: sum("floatip_layer2_frames_ignored", "rate-limited"),
      queueOverflow: sum("floatip_layer2_frames_ignored", "queue-overflow"),
      requests: sum("floatip_layer2_requests_received"),
      replies: sum("floatip_layer2_responses_sent"),
    };
  };
  for await (const _ of createInterface({ input: process.stdin })) {
    const used = process.cpuUsage(cpu);
    const now = monoMs();
    const line = { cpuPercent: ((used.user + used.system) / 1000 / (now - at)) * 100 };
    process.stdout.write(
      `${JSON.stringify({ ...line, tickLag, beatDelay, beats, ...(await counters()) })}\n`,
    );
    cpu = process.cpuUsage();
    at = now;
    tickLag = 0;
    beatDelay = 0;
    beats = 0;
  }
  announcer.close();
  sock.close();
  process.exit(0);
}

/** The heartbeat sender: a datagram with its send time every 40 ms. */
async function beat(): Promise<void> {
  const dgram = await import("node:dgram");
  const sock = dgram.createSocket("udp4");
  setInterval(() => sock.send(String(monoMs()), HB_PORT, OWNER_HB), 40);
  await new Promise(() => {});
}

async function main(): Promise<void> {
  await l2floodBinary();
  const tag = `flb-${process.pid}-${randomBytes(2).toString("hex")}`;
  const [segment, ownerNs] = [`${tag}-seg`, `${tag}-own`];
  const children: ReturnType<typeof spawn>[] = [];
  try {
    for (const ns of [segment, ownerNs]) await run("ip", ["netns", "add", ns]);
    for (const [a, b] of [
      ["eth0", "ens3"],
      ["hb0", "eth1"],
    ] as const) {
      await run("ip", ["-n", segment, "link", "add", a, "type", "veth", "peer", "name", b, "netns", ownerNs]);
      await run("ip", ["-n", segment, "link", "set", a, "up"]);
      await run("ip", ["-n", ownerNs, "link", "set", b, "up"]);
    }
    await run("ip", ["-n", segment, "addr", "add", `${SEGMENT_HB}/24`, "dev", "hb0"]);
    await run("ip", ["-n", ownerNs, "addr", "add", `${OWNER_HB}/24`, "dev", "eth1"]);
    const ownerMac = (
      await run("ip", ["netns", "exec", ownerNs, "cat", "/sys/class/net/ens3/address"])
    ).trim();
    const node = (ns: string, role: string) => {
      const child = spawn(
        "ip",
        ["netns", "exec", ns, process.execPath, "--import", "tsx", import.meta.filename, "--role", role],
        { stdio: ["pipe", "pipe", "inherit"] },
      );
      children.push(child);
      return child;
    };
    const ownerProc = node(ownerNs, "owner");
    node(segment, "beat");
    const lines = createInterface({ input: ownerProc.stdout! })[Symbol.asyncIterator]();
    const report = async () => {
      ownerProc.stdin!.write("report\n");
      return JSON.parse((await lines.next()).value as string) as Record<string, number>;
    };
    await new Promise((r) => setTimeout(r, 3000)); // start-up: module loading, first GARPs
    await report();
    const phases: Record<string, unknown>[] = [];
    const phase = async (name: string, run?: () => Promise<FloodResult>) => {
      log(name);
      const before = await report();
      const result = run ? await run() : await new Promise((r) => setTimeout(r, SECONDS * 1000));
      const after = await report();
      const seconds = (result as FloodResult | undefined)?.seconds ?? SECONDS;
      const perSecond = (k: string) => Math.round((after[k]! - before[k]!) / seconds);
      // Old builds have no handled counter: every frame that reached JS was counted as ignored or a request.
      const handled =
        after.handled! > 0 ? perSecond("handled") : perSecond("ignored") + perSecond("requests");
      phases.push({
        phase: name,
        flood: result ?? null,
        framesToJsPerSecond: handled,
        rateLimitedPerSecond: perSecond("rateLimited"),
        queueOverflowPerSecond: perSecond("queueOverflow"),
        repliesPerSecond: perSecond("replies"),
        ownerCpuPercent: Math.round(after.cpuPercent!),
        tickLagMaxMs: Math.round(after.tickLag!),
        heartbeatDelayMaxMs: Math.round(after.beatDelay!),
        heartbeatsPerSecond: Math.round(after.beats! / seconds),
      });
      log(JSON.stringify(phases.at(-1)));
    };
    const at = (kind: "arp" | "ns", target: string, extra: Partial<Parameters<typeof flood>[0]> = {}) =>
      flood({ ns: segment, iface: "eth0", kind, target, perSecond: 100_000, seconds: SECONDS, ...extra });
    await phase("idle");
    await phase("arp 100k/s, one source", () => at("arp", VIP));
    await phase("arp 100k/s, random sources", () => at("arp", VIP, { source: "random" }));
    await phase("arp 100k/s for another IP", () => at("arp", "203.0.113.77"));
    await phase("ns 100k/s, one source", () => at("ns", VIP6));
    await phase("arp max rate, one source", () => at("arp", VIP, { perSecond: 0, destination: ownerMac }));
    mkdirSync(dirname(values.out!), { recursive: true });
    writeFileSync(values.out!, `${JSON.stringify({ at: new Date().toISOString(), phases }, null, 2)}\n`);
    console.log(JSON.stringify(phases, null, 2));
  } finally {
    for (const child of children) child.kill("SIGKILL");
    for (const ns of [segment, ownerNs]) await run("ip", ["netns", "del", ns]).catch(() => {});
  }
}
