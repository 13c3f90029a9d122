/**
 * The simulated world: a clock, a network between the speakers (delays, reordering, loss, blocks),
 * an API server holding their Leases, and the faults of one schedule. Deterministic per schedule.
 */
import { createHash } from "node:crypto";
import { encodeHeartbeat, MAX_SEQ } from "../../src/election/heartbeat.js";
import { Invariants, type Violation } from "./invariants.js";
import { SimNode, TIMING } from "./node.js";
import { Prng } from "./prng.js";
import { EventQueue } from "./queue.js";
import type { Fault, Schedule, ScheduledFault } from "./schedule.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

type Ev =
  | { t: "tick"; node: string }
  | { t: "deliver"; to: string; packet: Buffer }
  | { t: "renew"; node: string }
  | { t: "written"; node: string; start: number }
  | { t: "watch"; watcher: string; node: string }
  | { t: "fault"; i: number; on: boolean }
  | { t: "replay"; from: string; to: string; n: number };

export interface RunResult {
  violations: Violation[];
  checks: number;
  packets: number;
  bytes: number;
  drops: Record<string, number>;
  overlaps: number;
  /** The longest time two or more nodes answered one IP at once. */
  longestOverlapMs: number;
  /** Ownership changes (a new owner of an IP). */
  moves: number;
}

const KEY = createHash("sha256").update("simulated cluster key").digest();
const OTHER_KEY = createHash("sha256").update("the next key, half rolled out").digest();

export class World {
  readonly nodes = new Map<string, SimNode>();
  now = 0;
  private readonly q = new EventQueue<Ev>();
  private readonly rng: Prng;
  readonly active = new Set<ScheduledFault>();
  /** Server-side Lease write times (truth). */
  readonly leases = new Map<string, number>();
  private readonly recorded = new Map<string, Buffer[]>();
  packets = 0;
  bytes = 0;

  constructor(readonly schedule: Schedule) {
    this.rng = new Prng(schedule.seed ^ 0x5eed);
    for (const name of schedule.nodes) {
      const peers = schedule.nodes.filter((n) => n !== name);
      this.nodes.set(
        name,
        new SimNode(
          name,
          peers,
          KEY,
          () => this.rng.hex16(),
          schedule.ownership ?? "strict",
          schedule.fanout,
          new Set(schedule.voterPins ?? []),
        ),
      );
    }
  }

  private faults: Fault[] = [];
  /** Bumped whenever the truth about links or the API server may have changed. */
  epoch = 0;

  private activeFaults(): Fault[] {
    return this.faults;
  }

  apiReachable(node: string): boolean {
    const n = this.nodes.get(node)!;
    if (!n.up) return false;
    return !this.activeFaults().some(
      (f) => f.kind === "api-down" || (f.kind === "api-cut" && f.node === node),
    );
  }

  /** Whether packets from → to get through at all (truth for the invariants). */
  linkUp(from: string, to: string): boolean {
    const a = this.nodes.get(from)!;
    const b = this.nodes.get(to)!;
    if (!a.up || !b.up || a.frozen || b.frozen || !a.key.equals(b.key)) return false;
    for (const f of this.activeFaults()) {
      if (f.kind === "block" && f.from === from && f.to === to) return false;
      if (f.kind === "cut" && (f.node === from || f.node === to)) return false;
      if (f.kind === "split" && ((f.a === from && f.b === to) || (f.a === to && f.b === from))) return false;
    }
    return true;
  }

  /**
   * Random loss, delay or a starved node somewhere: availability bounds do not hold then (a node
   * whose ticks come 900 ms apart is linked to its peers but no reliable quorum partner).
   */
  noisy(): boolean {
    return this.activeFaults().some((f) => f.kind === "loss" || f.kind === "delay" || f.kind === "stall");
  }

  /** Datagrams sent per node (benchmarks: voters send more than the rest). */
  readonly sentBy = new Map<string, number>();

  private send(from: string, to: string, packet: Buffer): void {
    this.packets++;
    this.sentBy.set(from, (this.sentBy.get(from) ?? 0) + 1);
    this.bytes += packet.length + 28;
    const key = `${from}>${to}`;
    const log = this.recorded.get(key) ?? [];
    log.push(packet);
    if (log.length > 100) log.shift();
    this.recorded.set(key, log);
    const a = this.nodes.get(from)!;
    const b = this.nodes.get(to)!;
    if (!b.up) return;
    let delay = 0.1 + this.rng.next() * 2;
    for (const f of this.activeFaults()) {
      if (f.kind === "block" && f.from === from && f.to === to) return;
      if (f.kind === "cut" && (f.node === from || f.node === to)) return;
      if (f.kind === "split" && ((f.a === from && f.b === to) || (f.a === to && f.b === from))) return;
      if (f.kind === "loss" && f.from === from && f.to === to && this.rng.chance(f.p)) return;
      if (f.kind === "delay" && f.from === from && f.to === to) delay += this.rng.next() * f.maxMs;
    }
    if (!a.up) return;
    this.q.push(this.now + delay, { t: "deliver", to, packet });
    if (this.activeFaults().some((f) => f.kind === "duplicate" && f.from === from && f.to === to))
      this.q.push(this.now + delay + this.rng.next() * 10, { t: "deliver", to, packet: Buffer.from(packet) });
  }

  private startNode(node: SimNode): void {
    // The speaker lists the Leases before it starts (it cannot start without the API server).
    node.start(
      this.now,
      [...this.leases].filter(([n]) => n !== node.name),
    );
    this.q.push(this.now, { t: "renew", node: node.name });
    this.q.push(this.now + TIMING.heartbeatIntervalMs, { t: "tick", node: node.name });
  }

  /** Nodes answering for `ip` right now. */
  answering(ip: string): string[] {
    return [...this.nodes.values()].filter((n) => n.answers(ip, this.now)).map((n) => n.name);
  }

  /** Runs the schedule; `probe` sees the world after every event (benchmarks may skip the invariants). */
  run(probe?: (w: World) => void, checkInvariants = true): RunResult {
    const inv = new Invariants(this);
    for (const node of this.nodes.values()) this.startNode(node);
    this.schedule.faults.forEach((f, i) => {
      this.q.push(f.at, { t: "fault", i, on: true });
      this.q.push(f.at + f.durationMs, { t: "fault", i, on: false });
    });
    for (let ev = this.q.pop(); ev && ev.at <= this.schedule.endAt; ev = this.q.pop()) {
      this.now = ev.at;
      this.handle(ev.item);
      if (checkInvariants) inv.check();
      probe?.(this);
    }
    const drops: Record<string, number> = {};
    for (const n of this.nodes.values()) for (const [r, c] of n.drops) drops[r] = (drops[r] ?? 0) + c;
    return {
      violations: inv.violations,
      checks: inv.checks,
      packets: this.packets,
      bytes: this.bytes,
      drops,
      overlaps: inv.overlaps,
      longestOverlapMs: inv.longestOverlapMs,
      moves: inv.moves,
    };
  }

  private handle(ev: Ev): void {
    const ips = this.schedule.ips;
    switch (ev.t) {
      case "tick": {
        const node = this.nodes.get(ev.node)!;
        if (!node.up) return;
        node.tick(this.now, ips, { send: (from, to, packet) => this.send(from, to, packet) });
        const stall = this.activeFaults().find((f) => f.kind === "stall" && f.node === ev.node);
        const late = stall?.kind === "stall" ? this.rng.next() * stall.maxMs : 0;
        this.q.push(this.now + TIMING.heartbeatIntervalMs + this.rng.next() * 3 + late, ev);
        return;
      }
      case "deliver":
        this.nodes.get(ev.to)!.receive(ev.packet, this.now);
        return;
      case "renew":
        return this.renew(ev.node);
      case "written": {
        const node = this.nodes.get(ev.node)!;
        if (!this.apiReachable(ev.node)) return;
        this.leases.set(ev.node, this.now);
        this.epoch++;
        node.lastRenewOkStart = Math.max(node.lastRenewOkStart, ev.start);
        for (const w of this.nodes.keys()) {
          if (w !== ev.node)
            this.q.push(this.now + 1 + this.rng.next() * 30, { t: "watch", watcher: w, node: ev.node });
        }
        return;
      }
      case "watch": {
        const w = this.nodes.get(ev.watcher)!;
        if (!w.up || !this.apiReachable(ev.watcher)) return;
        if (w.frozen) return this.q.push(this.now + 10, ev);
        w.observeLease(ev.node, this.now);
        return;
      }
      case "fault":
        return this.toggle(this.schedule.faults[ev.i]!, ev.on);
      case "replay":
        return this.replay(ev);
    }
  }

  private renew(name: string): void {
    const node = this.nodes.get(name)!;
    if (!node.up) return;
    this.q.push(this.now + TIMING.leaseRenewMs, { t: "renew", node: name });
    if (node.frozen || !this.apiReachable(name)) return;
    this.q.push(this.now + 2 + this.rng.next() * 8, { t: "written", node: name, start: this.now });
  }

  private toggle(sf: ScheduledFault, on: boolean): void {
    const f = sf.fault;
    if (on) this.active.add(sf);
    else this.active.delete(sf);
    this.faults = [...this.active].map((x) => x.fault);
    this.epoch++;
    switch (f.kind) {
      case "key":
        this.nodes.get(f.node)!.key = on ? OTHER_KEY : KEY;
        return;
      case "freeze": {
        const node = this.nodes.get(f.node)!;
        if (on) node.frozen = true;
        else node.unfreeze(this.now);
        return;
      }
      case "crash": {
        const node = this.nodes.get(f.node)!;
        if (on) node.up = false;
        else if (!node.up) this.startNode(node);
        return;
      }
      case "leave": {
        const node = this.nodes.get(f.node)!;
        if (on && node.up && !node.frozen) node.leavingSince = this.now;
        else if (!on && !node.up) this.startNode(node);
        return;
      }
      case "carrier":
        this.nodes.get(f.node)!.carrier = !on;
        return;
      case "clock-step":
        this.nodes.get(f.node)!.wallOffsetMs += on ? f.deltaMs : 0;
        return;
      case "replay":
        if (on) this.restartForReplay(f.from, f.to);
        return;
      case "api-down":
      case "api-cut":
        if (!on) this.relist();
        return;
      default:
        return;
    }
  }

  /** The receiver restarts, then an attacker replays what it recorded, plus a forged packet. */
  private restartForReplay(from: string, to: string): void {
    const node = this.nodes.get(to)!;
    if (node.up && !node.frozen) this.startNode(node);
    this.q.push(this.now + 5, { t: "replay", from, to, n: 0 });
  }

  private replay(ev: { from: string; to: string; n: number }): void {
    const log = this.recorded.get(`${ev.from}>${ev.to}`) ?? [];
    const packet = log[ev.n % Math.max(1, log.length)];
    if (packet) this.q.push(this.now, { t: "deliver", to: ev.to, packet: Buffer.from(packet) });
    if (ev.n === 0) this.q.push(this.now, { t: "deliver", to: ev.to, packet: this.forged(ev.from) });
    if (ev.n < 200) this.q.push(this.now + 7, { t: "replay", from: ev.from, to: ev.to, n: ev.n + 1 });
  }

  private forged(from: string): Buffer {
    const hb = emptyHeartbeat(from, {
      boot: "ffffffffffffffff",
      seq: MAX_SEQ,
      acquired: this.schedule.ips,
      carrier: { eth1: true },
    });
    return encodeHeartbeat(hb, OTHER_KEY);
  }

  /** Reconnected watches list the Leases again: renewals missed meanwhile are seen now. */
  private relist(): void {
    for (const w of this.nodes.values()) {
      if (!w.up || !this.apiReachable(w.name)) continue;
      for (const [node] of this.leases) if (node !== w.name) w.observeLease(node, this.now);
    }
  }
}
