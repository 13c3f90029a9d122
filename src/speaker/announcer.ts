import type { Logger } from "pino";
import { canonicalIP } from "../api/ip.js";
import { buildGratuitousArp, buildUnsolicitedNA, respond } from "../l2/index.js";
import { detectConflict, type Conflict } from "../l2/conflict.js";
import { formatMac } from "../l2/mac.js";
import { answerFilter, ARP_NDP_FILTER } from "../l2/bpf.js";
import { DEFAULT_REPLY_LIMITS, type ReplyLimits } from "../l2/ratelimit.js";
import { interfaceInfo, RawSocket, type RawSocketStats } from "../native/rawsocket.js";
import type { SpeakerMetrics } from "./metrics.js";

/**
 * Gratuitous ARP / unsolicited NA schedule after a takeover (ms after the first). Dense at first so
 * clients switch fast, then spread over ~5 s because Linux ignores neighbour updates that arrive
 * within `locktime` (1 s by default) of the previous one.
 */
export const DEFAULT_GARP_SCHEDULE_MS = [0, 50, 200, 500, 1100, 2200, 3300, 4400, 5500];

/**
 * IPs announced gratuitously on one schedule: those (re)announced in the same step share its
 * timers (a takeover of thousands of IPs sets one timer per slot, not one per IP and slot).
 */
interface Wave {
  port: Port;
  frames: Map<string, Buffer[]>;
  timers: NodeJS.Timeout[];
}

/** What the announcer needs of a raw socket (RawSocket; a recording fake in unit tests). */
export type AnswerSocket = Pick<RawSocket, "on" | "send" | "setFilter" | "stats" | "close">;

/** Opens the raw socket of an announce interface and reads its MAC (the native addon by default). */
export interface Link {
  open(name: string, limits: ReplyLimits): AnswerSocket;
  mac(name: string): Buffer;
}

const NATIVE_LINK: Link = {
  open: (name, limits) => new RawSocket(name, "arp+ipv6", limits),
  mac: (name) => interfaceInfo(name).mac,
};

/** A standby port that failed is opened again after this long. */
const STANDBY_RETRY_MS = 5000;

/** The key of `ip` on `port` in `waveOf`. */
function waveKey(port: Port, ip: string): string {
  return `${port.name}/${ip}`;
}

interface Port {
  name: string;
  mac: string;
  socket: AnswerSocket;
  owned: Set<string>;
  /** The socket's counters as last added to the metrics. */
  counted: RawSocketStats;
  /** Warned that the IPs do not fit an exact kernel filter. */
  warnedInexact: boolean;
}

/**
 * Answers ARP/NDP for the IPs this node owns, from raw sockets on the announce interfaces, and
 * announces takeovers. The IPs are never added to an interface: that keeps the kernel out of it
 * (no arp_announce/arp_filter surprises, works on bridges without host IPs).
 */
export class Announcer {
  private readonly ports = new Map<string, Port>();
  /** The wave each `interface/ip` is announced in. */
  private readonly waveOf = new Map<string, Wave>();
  /** Waves still taking IPs: until the end of the current step (a microtask). */
  private readonly openWaves = new Map<Port, Wave>();
  /** Ports whose kernel filter must follow their owned IPs (done once per batch of changes). */
  private readonly dirty = new Set<Port>();
  /** Monotonic time until which the last decision holds (see fence). */
  private answerUntil: () => number = () => Infinity;
  /** Interfaces whose port stays open without IPs (standBy), and that list as last given. */
  private standby = new Set<string>();
  private standbyKey: string | undefined;

  constructor(
    private readonly log: Logger,
    private readonly metrics: SpeakerMetrics,
    private readonly garpScheduleMs: readonly number[] = DEFAULT_GARP_SCHEDULE_MS,
    /** Another MAC claimed an IP we answer for (see l2/conflict.ts). */
    private readonly onConflict: (conflict: Conflict, iface: string) => void = () => {},
    private readonly limits: ReplyLimits = DEFAULT_REPLY_LIMITS,
    private readonly link: Link = NATIVE_LINK,
  ) {
    metrics.onScrape(() => {
      for (const port of this.ports.values()) this.countStats(port);
    });
  }

  /** Interfaces each IP is answered on right now. */
  announced(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const port of this.ports.values()) {
      for (const ip of port.owned) out.set(ip, [...(out.get(ip) ?? []), port.name].sort());
    }
    return out;
  }

  /** Answers for `ip` on exactly these interfaces; new (ip, interface) pairs are announced gratuitously. */
  set(ip: string, interfaces: readonly string[]): string[] {
    const canonical = canonicalIP(ip) ?? ip;
    const errors: string[] = [];
    for (const port of this.ports.values()) {
      if (port.owned.has(canonical) && !interfaces.includes(port.name)) this.drop(port, canonical);
    }
    for (const name of interfaces) {
      const port = this.port(name, errors);
      if (!port || port.owned.has(canonical)) continue;
      port.owned.add(canonical);
      this.refilterSoon(port);
      this.scheduleGratuitous(port, canonical);
    }
    return errors;
  }

  /** Announces `ip` again (gratuitous ARP / unsolicited NA schedule) where it is answered. */
  reannounce(ip: string): void {
    const canonical = canonicalIP(ip) ?? ip;
    for (const port of this.ports.values())
      if (port.owned.has(canonical)) this.scheduleGratuitous(port, canonical);
  }

  remove(ip: string): void {
    const canonical = canonicalIP(ip) ?? ip;
    for (const port of this.ports.values()) if (port.owned.has(canonical)) this.drop(port, canonical);
  }

  /**
   * Keeps a port open, reading nothing, on each of `interfaces` (where this node may have to take an
   * IP over), and closes idle ports elsewhere. Opening a packet socket with its ring waits for the
   * kernel (an RCU grace period, 6-8 ms measured): done here ahead, a takeover step only swaps the
   * port's filter. A port that cannot open is reported once per change of the list; `set()` still
   * tries it again when an IP needs it.
   */
  standBy(interfaces: readonly string[]): void {
    const key = interfaces.join(",");
    if (key === this.standbyKey) return;
    this.standbyKey = key;
    this.standby = new Set(interfaces);
    for (const port of [...this.ports.values()])
      if (port.owned.size === 0 && !this.standby.has(port.name)) this.retire(port);
    const errors: string[] = [];
    for (const name of interfaces) {
      const port = this.port(name, errors);
      if (port && port.owned.size === 0) this.refilterSoon(port);
    }
    if (errors.length > 0)
      this.log.warn(
        { event: "standbyPortFailed", errors },
        "cannot open a raw socket ahead on an announce interface; a takeover there will open it then",
      );
  }

  close(): void {
    this.standby.clear();
    this.standbyKey = "";
    for (const wave of this.waveOf.values()) wave.timers.forEach(clearTimeout);
    this.waveOf.clear();
    this.openWaves.clear();
    for (const port of this.ports.values()) this.closePort(port);
    this.ports.clear();
  }

  private drop(port: Port, ip: string): void {
    port.owned.delete(ip);
    this.leaveWave(port, ip);
    if (port.owned.size === 0 && !this.standby.has(port.name)) this.retire(port);
    else this.refilterSoon(port);
  }

  private retire(port: Port): void {
    this.closePort(port);
    this.ports.delete(port.name);
  }

  private closePort(port: Port): void {
    this.countStats(port);
    this.dirty.delete(port);
    port.socket.close();
  }

  /** Adds what the addon counted since the last time (rate limit, full queue, handled) to the metrics. */
  private countStats(port: Port): void {
    const now = port.socket.stats();
    const was = port.counted;
    this.metrics.framesIgnored.inc({ reason: "rate-limited" }, now.rateLimited - was.rateLimited);
    this.metrics.framesIgnored.inc({ reason: "queue-overflow" }, now.queueDrops - was.queueDrops);
    this.metrics.framesHandled.inc(now.handled - was.handled);
    port.counted = now;
  }

  /** Installs the kernel filter for the port's IPs before the next frame is read (after this batch of changes). */
  private refilterSoon(port: Port): void {
    if (this.dirty.size === 0) queueMicrotask(() => this.refilter());
    this.dirty.add(port);
  }

  private refilter(): void {
    for (const port of this.dirty) {
      const { program, exact } = answerFilter(port.owned);
      if (!exact && !port.warnedInexact) {
        port.warnedInexact = true;
        this.log.warn(
          { event: "l2FilterInexact", interface: port.name, ips: port.owned.size },
          "too many IPs for an exact kernel filter: every ARP/NDP frame reaches the speaker (still rate-limited)",
        );
      }
      try {
        port.socket.setFilter(program);
      } catch (err) {
        this.log.error(
          { event: "l2FilterFailed", interface: port.name, error: String(err) },
          "could not install the kernel filter for the announced IPs; passing every ARP/NDP frame",
        );
        try {
          port.socket.setFilter(ARP_NDP_FILTER);
        } catch {
          // The socket itself failed: its 'error' event closes it and the next set() reopens it.
        }
      }
    }
    this.dirty.clear();
  }

  private port(name: string, errors: string[]): Port | undefined {
    const existing = this.ports.get(name);
    if (existing) return existing;
    try {
      const mac = formatMac(this.link.mac(name));
      const socket = this.link.open(name, this.limits);
      const port: Port = {
        name,
        mac,
        socket,
        owned: new Set(),
        counted: socket.stats(),
        warnedInexact: false,
      };
      socket.on("frame", (frame, _type, vlan) => this.onFrame(port, frame, vlan));
      socket.on("error", (err: Error) => {
        this.log.error(
          { event: "interfaceError", interface: name, error: err.message },
          "raw socket failed; will reopen",
        );
        this.closePort(port);
        if (this.ports.get(name) === port) this.ports.delete(name);
        // The next standBy() opens it again, not at once: an interface that keeps failing is not
        // reopened (and logged) at every step.
        setTimeout(() => (this.standbyKey = undefined), STANDBY_RETRY_MS).unref();
      });
      this.ports.set(name, port);
      return port;
    } catch (err) {
      const message = `cannot answer on interface ${name}: ${err instanceof Error ? err.message : String(err)}`;
      errors.push(message);
      return undefined;
    }
  }

  /**
   * Answer only until `until` (monotonic ms) unless a newer decision extends it. After a freeze
   * the process reads queued frames before its next step: this keeps it from answering on a
   * decision its peers may have overruled meanwhile. A function is asked at each frame (the
   * membership's answerUntil grows as peers' echoes arrive between steps).
   */
  fence(until: number | (() => number)): void {
    this.answerUntil = typeof until === "number" ? () => until : until;
  }

  private onFrame(port: Port, frame: Buffer, vlan: number | undefined): void {
    if (performance.now() > this.answerUntil()) {
      this.metrics.framesIgnored.inc({ reason: "decision-expired" });
      return;
    }
    const decision = respond(frame, { name: port.name, mac: port.mac }, port.owned, { vlan });
    if (decision.kind === "ignore") {
      if (decision.reason === "not-request" || decision.reason === "announcement") {
        const conflict = detectConflict(frame, port.mac, (ip) => port.owned.has(ip), { vlan });
        if (conflict) this.onConflict(conflict, port.name);
      }
      if (decision.reason !== "not-owned" && decision.reason !== "not-request") {
        this.metrics.framesIgnored.inc({ reason: decision.reason });
      }
      return;
    }
    // Rate-limited per source already in the addon: a flood of questions never reaches this point.
    this.metrics.requestsReceived.inc({ ip: decision.ip });
    try {
      port.socket.send(decision.frame);
      this.metrics.responsesSent.inc({ ip: decision.ip });
    } catch (err) {
      this.log.warn(
        { event: "replyFailed", interface: port.name, ip: decision.ip, error: String(err) },
        "could not send reply",
      );
    }
  }

  private scheduleGratuitous(port: Port, ip: string): void {
    this.leaveWave(port, ip);
    const frames = ip.includes(":")
      ? [buildUnsolicitedNA(port.mac, ip)]
      : [buildGratuitousArp(port.mac, ip, "request"), buildGratuitousArp(port.mac, ip, "reply")];
    const [first, ...rest] = this.garpScheduleMs;
    if (first === 0) this.sendGratuitous(port, ip, frames);
    const later = first === 0 ? rest : this.garpScheduleMs;
    if (later.length === 0) return;
    let wave = this.openWaves.get(port);
    if (!wave) {
      const w: Wave = { port, frames: new Map(), timers: [] };
      w.timers = later.map((ms, i) => setTimeout(() => this.sendWave(w, i === later.length - 1), ms));
      for (const t of w.timers) t.unref();
      if (this.openWaves.size === 0) queueMicrotask(() => this.openWaves.clear());
      this.openWaves.set(port, (wave = w));
    }
    wave.frames.set(ip, frames);
    this.waveOf.set(waveKey(port, ip), wave);
  }

  private sendWave(wave: Wave, last: boolean): void {
    for (const [ip, frames] of wave.frames) this.sendGratuitous(wave.port, ip, frames);
    if (!last) return;
    for (const ip of wave.frames.keys()) {
      const key = waveKey(wave.port, ip);
      if (this.waveOf.get(key) === wave) this.waveOf.delete(key);
    }
  }

  /** `ip` stops being announced gratuitously on `port` (dropped, or announced again in a newer wave). */
  private leaveWave(port: Port, ip: string): void {
    const key = waveKey(port, ip);
    const wave = this.waveOf.get(key);
    if (!wave) return;
    this.waveOf.delete(key);
    wave.frames.delete(ip);
    if (wave.frames.size > 0) return;
    wave.timers.forEach(clearTimeout);
    if (this.openWaves.get(wave.port) === wave) this.openWaves.delete(wave.port);
  }

  private sendGratuitous(port: Port, ip: string, frames: readonly Buffer[]): void {
    if (!port.owned.has(ip)) return;
    for (const frame of frames) {
      try {
        port.socket.send(frame);
        this.metrics.gratuitousSent.inc({ ip });
      } catch (err) {
        this.log.warn(
          { event: "gratuitousFailed", interface: port.name, ip, error: String(err) },
          "could not send gratuitous announcement",
        );
      }
    }
  }
}
