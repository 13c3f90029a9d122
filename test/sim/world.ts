/**
 * The simulated world: a clock, a network between the speakers (delays, reordering, loss, blocks),
 * an API server holding their Leases, and the faults of one schedule. Deterministic per schedule.
 */
import { createHash } from "node:crypto";
import { encodeHeartbeat, MAX_SEQ } from "../../src/election/heartbeat.js";
import { Invariants, type Violation } from "./invariants.js";
import { API_FENCE_MS, SimNode, TIMING } from "./node.js";
import { Prng } from "./prng.js";
import { EventQueue } from "./queue.js";
import type { Fault, Schedule, ScheduledFault } from "./schedule.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

type Ev =
  | { t: "tick"; node: string }
  | { t: "round"; node: string; inc: number }
  | { t: "check"; node: string; at: number }
  | { t: "step"; node: string; token: number }
  | { t: "deliver"; from: string; to: string; packet: Buffer }
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
          schedule.fanout !== undefined || schedule.jsTick === true,
        ),
      );
    }
    for (const node of this.nodes.values()) node.onWake = () => this.requestStep(node);
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
    this.q.push(this.now + delay, { t: "deliver", from, to, packet });
    if (this.activeFaults().some((f) => f.kind === "duplicate" && f.from === from && f.to === to))
      this.q.push(this.now + delay + this.rng.next() * 10, {
        t: "deliver",
        from,
        to,
        packet: Buffer.from(packet),
      });
  }

  private startNode(node: SimNode): void {
    // The speaker lists the Leases before it starts (it cannot start without the API server).
    node.start(
      this.now,
      [...this.leases].filter(([n]) => n !== node.name),
    );
    this.q.push(this.now, { t: "renew", node: node.name });
    if (node.manual) {
      this.q.push(this.now + TIMING.heartbeatIntervalMs, { t: "tick", node: node.name });
      return;
    }
    // The first step, then the pump's rounds on its own schedule.
    this.requestStep(node);
    this.q.push(node.pump.nextRoundAt(), { t: "round", node: node.name, inc: node.incarnation });
  }

  /** How late a starved event loop runs the next step or tick (0 when not starved). */
  private lateness(node: string): number {
    const stall = this.activeFaults().find((f) => f.kind === "stall" && f.node === node);
    return stall?.kind === "stall" ? this.rng.next() * stall.maxMs : 0;
  }

  /** A wake or an input event: JavaScript steps (once, however many come before it runs). */
  private requestStep(node: SimNode): void {
    if (node.manual || node.stepPending) return;
    // A trigger armed already due (the pump and membership disagree on what they accepted) would
    // wake us at once, forever: a bug, not a schedule to run on.
    if (node.stepsAt(this.now) > 20) throw new Error(`${node.name} wakes in a loop at ${this.now}`);
    node.stepPending = true;
    const token = ++node.stepToken;
    this.q.push(this.now + this.lateness(node.name), { t: "step", node: node.name, token });
  }

  /** The pump thread wakes at its earliest armed trigger: an event then (earlier ones supersede). */
  private scheduleCheck(node: SimNode): void {
    if (node.manual || !node.up || node.frozen) return;
    const at = Math.max(this.now, node.pump.nextTriggerAt());
    if (at === Infinity || at >= node.checkAt) return;
    node.checkAt = at;
    this.q.push(at, { t: "check", node: node.name, at });
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
        const late = this.lateness(ev.node);
        this.q.push(this.now + TIMING.heartbeatIntervalMs + this.rng.next() * 3 + late, ev);
        return;
      }
      case "round": {
        const node = this.nodes.get(ev.node)!;
        // A stopped process keeps no rhythm: the round after it resumes is late (unfreeze).
        if (ev.inc !== node.incarnation || !node.up || node.frozen) return;
        if (node.readQueued()) this.requestStep(node);
        for (const p of node.round(this.now)) this.send(node.name, p.peer, p.data);
        this.q.push(node.pump.nextRoundAt() + this.rng.next() * 0.5, ev);
        return this.scheduleCheck(node);
      }
      case "check": {
        const node = this.nodes.get(ev.node)!;
        if (ev.at !== node.checkAt || !node.up || node.frozen) return;
        node.checkAt = Infinity;
        if (node.readQueued() || node.pump.due(this.now)) this.requestStep(node);
        return this.scheduleCheck(node);
      }
      case "step": {
        const node = this.nodes.get(ev.node)!;
        if (ev.token !== node.stepToken || !node.up || node.frozen) return;
        // (arm() also makes the thread read the socket: nothing arrives during a simulated step,
        // and the step's drain read everything before it.)
        node.step(this.now, ips);
        return this.scheduleCheck(node);
      }
      case "deliver": {
        const node = this.nodes.get(ev.to)!;
        if (node.receive(ev.packet, ev.from, this.now)) this.requestStep(node);
        return this.scheduleCheck(node);
      }
      case "renew":
        return this.renew(ev.node);
      case "written": {
        const node = this.nodes.get(ev.node)!;
        if (!this.apiReachable(ev.node)) return;
        this.leases.set(ev.node, this.now);
        this.epoch++;
        // Our renewal succeeded: a step only when it gives us the API server back.
        if (this.now - node.lastRenewOkStart > API_FENCE_MS) this.requestStep(node);
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
        if (w.observeLease(ev.node, this.now)) this.requestStep(w);
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
      case "key": {
        // The process's key: its JavaScript and its pump thread sign and check with it.
        this.nodes.get(f.node)!.rekey(on ? OTHER_KEY : KEY, this.now);
        return;
      }
      case "freeze": {
        const node = this.nodes.get(f.node)!;
        if (on) node.frozen = true;
        else if (node.frozen) this.unfreeze(node);
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
        if (on && node.up && !node.frozen) {
          node.leavingSince = this.now;
          this.requestStep(node);
        } else if (!on && !node.up) this.startNode(node);
        return;
      }
      case "carrier": {
        const node = this.nodes.get(f.node)!;
        node.carrier = !on;
        if (node.up && !node.frozen) this.requestStep(node);
        return;
      }
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

  /** The process runs again: the pump reads what queued, its next round is late, JavaScript steps. */
  private unfreeze(node: SimNode): void {
    node.unfreeze();
    if (!node.up || node.manual) return;
    this.q.push(this.now, { t: "round", node: node.name, inc: node.incarnation });
    node.stepPending = false;
    node.checkAt = Infinity;
    this.requestStep(node);
    this.scheduleCheck(node);
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
    const deliver = (p: Buffer) =>
      this.q.push(this.now, { t: "deliver", from: ev.from, to: ev.to, packet: p });
    if (packet) deliver(Buffer.from(packet));
    if (ev.n === 0) deliver(this.forged(ev.from));
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
      let changed = false;
      for (const [node] of this.leases)
        if (node !== w.name) changed = w.observeLease(node, this.now) || changed;
      if (changed) this.requestStep(w);
    }
  }
}
