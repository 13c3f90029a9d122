// Typed wrapper around the native AF_PACKET addon (native/src/rawsocket.cc).
import { EventEmitter } from "node:events";
import { loadAddon } from "./addon.js";
import { encodeFilter, type BpfInsn } from "../l2/bpf.js";
import type { ReplyLimits } from "../l2/ratelimit.js";

/** Linux sll_pkttype of a received frame: how its destination MAC relates to this interface. */
export enum PacketType {
  Host = 0,
  Broadcast = 1,
  Multicast = 2,
  OtherHost = 3,
}

export interface InterfaceInfo {
  index: number;
  mac: Buffer;
  mtu: number;
  up: boolean;
  /** IFF_RUNNING: operationally up, i.e. has carrier. */
  running: boolean;
  broadcast: boolean;
  loopback: boolean;
}

/** Counters since the socket opened. */
export interface RawSocketStats {
  /** Frames read from the socket (they passed the kernel filter). */
  read: number;
  /** Dropped by the rate limit before any JS ran. */
  rateLimited: number;
  /** Handed to the 'frame' listeners. */
  handled: number;
  /** Dropped by the kernel: the receive ring (or queue) was full. */
  queueDrops: number;
  /** Frames arrive through a TPACKET_V3 ring (false: the kernel refused one; read with recvmmsg). */
  ring: boolean;
}

interface NativeRawSocket {
  send(frame: Buffer): number;
  setFilter(program: Buffer): void;
  stats(): RawSocketStats;
  close(): void;
  readonly ignoresOutgoing: boolean;
}

interface NativeAddon {
  RawSocket: new (
    ifname: string,
    protocols: "arp+ipv6",
    onFrame: (frame: Buffer, packetType: number, vlan: number | undefined) => void,
    onError: (err: Error) => void,
    limits?: ReplyLimits,
  ) => NativeRawSocket;
  ReplyLimiter: new (limits: ReplyLimits) => NativeReplyLimiter;
  interfaceInfo(ifname: string): InterfaceInfo;
  interfaceCarrier(ifname: string): boolean;
}

const loaded = loadAddon<NativeAddon>("floatip_rawsocket");
const addon = loaded.addon;
const loadError = loaded.error;

/** Whether the native addon loaded; if not, nativeLoadError() says why. */
export function nativeAvailable(): boolean {
  return addon !== undefined;
}

export function nativeLoadError(): string | undefined {
  return loadError;
}

function native(): NativeAddon {
  if (addon === undefined) throw new Error(loadError);
  return addon;
}

/**
 * Whether the interface is up with carrier (IFF_UP and IFF_RUNNING, as interfaceInfo's `up &&
 * running`); false when it does not exist. One ioctl on a socket kept open: asked at every step.
 */
export function interfaceCarrier(ifname: string): boolean {
  return native().interfaceCarrier(ifname);
}

/** Index, MAC, MTU and flags of a network interface; throws (code ENODEV) if it does not exist. */
export function interfaceInfo(ifname: string): InterfaceInfo {
  return native().interfaceInfo(ifname);
}

interface NativeReplyLimiter {
  allow(source: number, nowMs: number): boolean;
  readonly trackedSources: number;
}

/**
 * The addon's token buckets (native/src/replylimiter.h) on their own, for tests: per source MAC (a
 * 48-bit number) and for all sources together; `nowMs` is a monotonic time.
 */
export function replyLimiter(limits: ReplyLimits): NativeReplyLimiter {
  return new (native().ReplyLimiter)(limits);
}

export interface RawSocketEvents {
  /** `vlan`: the frame's VLAN id when it came tagged (the kernel strips the tag from the data). */
  frame: [frame: Buffer, packetType: PacketType, vlan: number | undefined];
  error: [err: Error];
}

/**
 * Raw Ethernet socket on one interface, receiving only ARP and ICMPv6 NS/NA frames (kernel BPF filter) and
 * never our own transmissions, each with its VLAN id (PACKET_AUXDATA) when it came tagged. With `limits`,
 * frames beyond a source MAC's share (or all sources' share) are dropped in the addon before any JS runs;
 * frames arrive through a shared-memory ring (TPACKET_V3; recvmmsg batches if the kernel refuses one), at
 * most 64 listener calls per event-loop turn. Receive errors
 * (e.g. interface deleted) arrive as 'error' events; as with any EventEmitter, an 'error' without a
 * listener is thrown. Keeps the process alive until close().
 */
export class RawSocket extends EventEmitter<RawSocketEvents> {
  readonly ifname: string;
  readonly #native: NativeRawSocket;

  constructor(ifname: string, protocols: "arp+ipv6" = "arp+ipv6", limits?: ReplyLimits) {
    super();
    this.ifname = ifname;
    this.#native = new (native().RawSocket)(
      ifname,
      protocols,
      (frame, packetType, vlan) => this.emit("frame", frame, packetType as PacketType, vlan),
      (err) => this.emit("error", err),
      limits,
    );
  }

  /** True when the kernel itself drops our outgoing frames (PACKET_IGNORE_OUTGOING, Linux >= 4.20). */
  get ignoresOutgoing(): boolean {
    return this.#native.ignoresOutgoing;
  }

  /** Sends a complete Ethernet frame (from destination MAC on); returns bytes sent, throws with errno code. */
  send(frame: Buffer): number {
    return this.#native.send(frame);
  }

  /** Replaces the kernel filter (see src/l2/bpf.ts); throws with errno code if the kernel refuses it. */
  setFilter(program: readonly BpfInsn[]): void {
    this.#native.setFilter(encodeFilter(program));
  }

  stats(): RawSocketStats {
    return this.#native.stats();
  }

  /** Stops receiving and closes the socket; safe to call more than once. */
  close(): void {
    this.#native.close();
  }
}
