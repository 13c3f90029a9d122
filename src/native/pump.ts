// Typed wrapper around the native heartbeat pump (native/src/pump.cc; design in native/PUMP-SPEC.md).
// Times in and out are performance.now() milliseconds; the addon counts on CLOCK_MONOTONIC.
import { constants } from "node:os";
import { loadAddon } from "./addon.js";

export interface OutgoingDatagram {
  data: Buffer;
  address: string;
  port: number;
}

export interface SendError {
  /** Index into the packets given to send(). */
  index: number;
  errno: number;
  /** The errno's name (EHOSTUNREACH, ...). */
  code: string;
}

export interface PumpOptions {
  family: 4 | 6;
  bindAddress: string;
  port: number;
  key: Buffer;
  /** Our boot, 16 hex digits (heartbeat.ts). */
  boot: string;
  /** The first round's sequence. */
  firstSeq: number;
  intervalMs: number;
  /** How old a round may be when its echo comes back and still count as accepted. */
  freshnessMs: number;
  /** Sending stops when arm() has not been called for this long (JavaScript is hung). */
  watchdogMs: number;
  /** Called on the event loop when a trigger fired (at most one call pending): drain, step, arm. */
  onWake: () => void;
}

export interface PumpArmPeer {
  name: string;
  /** Wake when the peer's last accepted heartbeat is this old (ms). */
  silenceMs?: number;
  /** Wake when the send time of the peer's latest confirmed round is this old (ms). */
  confirmMs?: number;
  /** Wake on an accepted heartbeat from the peer. */
  wakeOnAccept?: boolean;
}

export interface PumpArm {
  /** performance.now() time to wake at; absent or Infinity: no such trigger. */
  wakeAt?: number;
  peers: PumpArmPeer[];
}

export interface PumpDatagram {
  data: Buffer;
  address: string;
  port: number;
  /** performance.now() time of arrival (the kernel's timestamp). */
  arrivedAt: number;
  /**
   * The pump authenticated it (key, the registered peer's address and port) and its content is that
   * peer's previous authenticated heartbeat's but for sequence, echo and ages (repeatInto).
   */
  unchanged?: boolean;
}

export interface PumpDrain {
  /** Rounds the thread sent, oldest first: feed to Membership.noteSent(seq, at). */
  sent: { seq: number; at: number }[];
  /** Every datagram received, oldest first (at most 4,096 between drains). */
  datagrams: PumpDatagram[];
  sendErrors: { peer: string; errno: number; code: string }[];
  /** Datagrams dropped because 4,096 were queued. */
  overflow: number;
  /** Times the watchdog stopped the sending. */
  watchdogStops: number;
  /** The longest lateness of a round (> one interval: the whole process stood still), 0 if none. */
  stalledMs: number;
}

/** What the thread and the bare core share (pump_js.h binds both to one PumpCore). */
interface NativeShared {
  setKey(key: Buffer, accept?: Buffer): void;
  setPeer(name: string, hash: number, address: string, port: number): void;
  removePeer(name: string): void;
  setTemplate(name: string, body: Buffer | undefined, builtAt: number): void;
  drain(): FlatDrain;
}

/** What the addon's drain returns (pump_js.h DrainedToJs): flat arrays, made into objects here. */
interface FlatDrain {
  /** [seq, at] per round. */
  sent: Float64Array;
  /** Every datagram's bytes, one after another. */
  bytes: Buffer;
  /** [offset, length, address index, port, arrivedAt, unchanged (0/1)] per datagram. */
  meta: Float64Array;
  addresses: string[];
  sendErrors: { peer: string; errno: number }[];
  overflow: number;
  watchdogStops: number;
  stalledMs: number;
}

const META_FIELDS = 6;

interface NativePump extends NativeShared {
  arm(wakeAt: number, peers: PumpArmPeer[]): void;
  send(packets: OutgoingDatagram[]): Omit<SendError, "code">[];
  close(): void;
}

interface NativeCore extends NativeShared {
  arm(now: number, wakeAt: number, peers: PumpArmPeer[]): void;
  tick(now: number): { peer: string; data: Buffer }[];
  noteSendError(peer: string, errno: number): void;
  receive(data: Buffer, address: string, port: number, arrivedAt: number): void;
  checkTriggers(now: number): boolean;
  nextDeadline(): number;
}

interface NativeAddon {
  PumpCore: new (
    key: Buffer,
    boot: Buffer,
    firstSeq: number,
    intervalMs: number,
    freshnessMs: number,
    watchdogMs: number,
    now: number,
  ) => NativeCore;
  Pump: new (
    family: 4 | 6,
    bindAddress: string,
    port: number,
    key: Buffer,
    boot: Buffer,
    firstSeq: number,
    intervalMs: number,
    freshnessMs: number,
    watchdogMs: number,
    onWake: () => void,
  ) => NativePump;
  nowMs(): number;
}

const loaded = loadAddon<NativeAddon>("floatip_pump");
const errnoNames = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));
const errnoName = (n: number): string => errnoNames.get(n) ?? `errno ${n}`;

function bootBytes(boot: string): Buffer {
  if (!/^[0-9a-f]{16}$/i.test(boot)) throw new TypeError("boot must be 16 hex digits");
  return Buffer.from(boot, "hex");
}

/** CLOCK_MONOTONIC ms minus performance.now(): both count on the same clock, from different origins. */
function monotonicOffset(): number {
  return Number(process.hrtime.bigint()) / 1e6 - performance.now();
}

/** The addon's clock (CLOCK_MONOTONIC, ms), for tests comparing it with performance.now(). */
export function nativeNowMs(): number {
  if (loaded.addon === undefined) throw new Error(loaded.error);
  return loaded.addon.nowMs();
}

/**
 * The calls both faces of the native pump take alike. `offset` turns the caller's times into the
 * addon's: CLOCK_MONOTONIC minus performance.now() for the thread, 0 for the bare core (whose
 * caller passes its own clock).
 */
abstract class PumpPeers<N extends NativeShared> {
  protected constructor(
    protected readonly native: N,
    protected readonly offset: number,
  ) {}

  /**
   * A rotated key: rounds are signed, and datagrams checked, with it from now on; datagrams signed
   * with `accept` are taken too (a rotation rolling out node by node).
   */
  setKey(key: Buffer, accept?: Buffer): void {
    this.native.setKey(key, accept);
  }

  /** Where the peer listens; its hash (nameHash) names it in report lists. Keeps its state if known. */
  setPeer(name: string, hash: number, address: string, port: number): void {
    this.native.setPeer(name, hash >>> 0, address, port);
  }

  /** Forgets the peer: template, echo, acceptance, triggers. */
  removePeer(name: string): void {
    this.native.removePeer(name);
  }

  /** The peer's heartbeat body (encodeHeartbeatBody) as built at `builtAt`; undefined: send it nothing. */
  setTemplate(name: string, body: Buffer | undefined, builtAt: number): void {
    this.native.setTemplate(name, body, builtAt + this.offset);
  }

  /** Everything since the previous drain. */
  drain(): PumpDrain {
    const d = this.native.drain();
    const sent: PumpDrain["sent"] = [];
    for (let i = 0; i < d.sent.length; i += 2)
      sent.push({ seq: d.sent[i]!, at: d.sent[i + 1]! - this.offset });
    const datagrams: PumpDatagram[] = [];
    const m = d.meta;
    for (let i = 0; i < m.length; i += META_FIELDS) {
      const datagram: PumpDatagram = {
        data: d.bytes.subarray(m[i]!, m[i]! + m[i + 1]!),
        address: d.addresses[m[i + 2]!]!,
        port: m[i + 3]!,
        arrivedAt: m[i + 4]! - this.offset,
      };
      if (m[i + 5]) datagram.unchanged = true;
      datagrams.push(datagram);
    }
    return {
      sent,
      datagrams,
      sendErrors: d.sendErrors.map((e) => ({ ...e, code: errnoName(e.errno) })),
      overflow: d.overflow,
      watchdogStops: d.watchdogStops,
      stalledMs: d.stalledMs,
    };
  }
}

/**
 * The native heartbeat pump: a thread that sends a heartbeat to every peer with a template every
 * interval (sequence, echo and ages patched in, signed), receives and authenticates the peers',
 * and calls `onWake` only when an armed trigger fires. Throws (with `errno`) if the address cannot
 * be bound.
 */
export class HeartbeatPump extends PumpPeers<NativePump> {
  constructor(options: PumpOptions) {
    if (loaded.addon === undefined) throw new Error(loaded.error);
    const native = new loaded.addon.Pump(
      options.family,
      options.bindAddress,
      options.port,
      options.key,
      bootBytes(options.boot),
      options.firstSeq,
      options.intervalMs,
      options.freshnessMs,
      options.watchdogMs,
      options.onWake,
    );
    super(native, monotonicOffset());
  }

  /** Sets the triggers for the next wake and feeds the watchdog. */
  arm(arm: PumpArm): void {
    const wakeAt = arm.wakeAt === undefined ? Infinity : arm.wakeAt + this.offset;
    this.native.arm(wakeAt, arm.peers);
  }

  /** Manual mode: sends whole (signed) packets in one call; returns the refused ones. */
  send(packets: OutgoingDatagram[]): SendError[] {
    if (packets.length === 0) return [];
    return this.native.send(packets).map((e) => ({ ...e, code: errnoName(e.errno) }));
  }

  /** Stops the thread and closes the socket; safe to call more than once. */
  close(): void {
    this.native.close();
  }
}

/**
 * The pump's logic alone (native/src/pump_core.h, the code the thread runs), driven with explicit
 * times (any monotonic clock, ms) and no thread or socket: what a round sends, what a datagram
 * changes, when the pump would wake. For comparing with the TypeScript model (PumpCore) input for
 * input.
 */
export class NativePumpCore extends PumpPeers<NativeCore> {
  constructor(options: Omit<PumpOptions, "family" | "bindAddress" | "port" | "onWake"> & { now: number }) {
    if (loaded.addon === undefined) throw new Error(loaded.error);
    const native = new loaded.addon.PumpCore(
      options.key,
      bootBytes(options.boot),
      options.firstSeq,
      options.intervalMs,
      options.freshnessMs,
      options.watchdogMs,
      options.now,
    );
    super(native, 0);
  }

  arm(now: number, arm: PumpArm): void {
    this.native.arm(now, arm.wakeAt ?? Infinity, arm.peers);
  }

  /** Runs the round if one is due at `now`: its signed packets, in peer-name order ([] if none). */
  tick(now: number): { peer: string; data: Buffer }[] {
    return this.native.tick(now);
  }

  noteSendError(peer: string, errno: number): void {
    this.native.noteSendError(peer, errno);
  }

  receive(datagram: PumpDatagram): void {
    this.native.receive(datagram.data, datagram.address, datagram.port, datagram.arrivedAt);
  }

  /** Whether the pump wakes JavaScript at `now` (it disarms, as the thread does). */
  checkTriggers(now: number): boolean {
    return this.native.checkTriggers(now);
  }

  /** The next round or armed deadline, whichever is first. */
  nextDeadline(): number {
    return this.native.nextDeadline();
  }
}
