// The lab's ARP/NDP flood generator (lab/l2flood.c): compiled once per source version into
// ~/.cache/floatip (keyed by the source's hash, so an edit rebuilds it) and run inside a namespace.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { nsRun, run } from "./sh.js";

const SOURCE = join(import.meta.dirname, "l2flood.c");

/** Path of the compiled generator, building it first if this source version has no binary yet. */
export async function l2floodBinary(): Promise<string> {
  const source = readFileSync(SOURCE);
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const dir = join(homedir(), ".cache", "floatip", "l2flood");
  const binary = join(dir, `l2flood-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  // Build beside the target and rename: parallel runs never see a half-written binary.
  const tmp = `${binary}.${process.pid}.tmp`;
  await run("gcc", ["-O2", "-Wall", "-Wextra", "-o", tmp, SOURCE], { timeoutMs: 60_000 });
  renameSync(tmp, binary);
  return binary;
}

export interface FloodOptions {
  /** Namespace and interface the frames leave from. */
  ns: string;
  iface: string;
  kind: "arp" | "ns";
  /** The IP asked about (IPv4 for arp, IPv6 for ns). */
  target: string;
  /** Frames per second; 0: as fast as the machine allows. */
  perSecond: number;
  seconds: number;
  /** One source MAC for every frame, or "random": a new one per frame. Default 02:00:5e:00:00:99. */
  source?: string;
  /** Sender IP of ARP requests / source IP of solicitations. */
  senderIp?: string;
  /** ARP only: unicast the requests to this MAC (the owner's) instead of broadcasting them. */
  destination?: string;
}

export interface FloodResult {
  sent: number;
  seconds: number;
  perSecond: number;
  /** sendmmsg calls the kernel refused (ENOBUFS): the interface could not take more. */
  refusedBatches: number;
}

/** Floods at the bounded rate for the bounded time and reports what went out. */
export async function flood(o: FloodOptions): Promise<FloodResult> {
  const binary = await l2floodBinary();
  const args = [o.iface, o.kind, o.target, String(o.perSecond), String(o.seconds)];
  const sender = o.senderIp ?? (o.kind === "ns" ? "2001:db8:1::99" : "203.0.113.99");
  args.push(o.source ?? "02:00:5e:00:00:99", sender, ...(o.destination ? [o.destination] : []));
  const out = await nsRun(o.ns, binary, args, { timeoutMs: (o.seconds + 30) * 1000 });
  return JSON.parse(out) as FloodResult;
}
