// Typed wrapper around the native heartbeat UDP socket (native/src/udp.cc).
import { constants } from "node:os";
import { loadAddon } from "./addon.js";

export interface Datagram {
  data: Buffer;
  address: string;
  port: number;
  /** Milliseconds since the kernel received it (from its arrival timestamp). */
  ageMs: number;
  /** Longer than the 2,048 bytes read: never a valid heartbeat. */
  truncated: boolean;
}

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

interface NativeUdpSocket {
  receive(max: number): Datagram[];
  send(packets: OutgoingDatagram[]): Omit<SendError, "code">[];
  close(): void;
}

interface NativeAddon {
  UdpSocket: new (family: 4 | 6, bindAddress: string, port: number) => NativeUdpSocket;
}

const loaded = loadAddon<NativeAddon>("floatip_udp");
const errnoNames = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/**
 * A bound, non-blocking UDP socket that is only read when asked: it never wakes the event loop.
 * The speaker drains it once per tick and sends each round with one system call. Throws (with
 * `errno`) if the address cannot be bound.
 */
export class PolledUdpSocket {
  readonly #native: NativeUdpSocket;

  constructor(family: 4 | 6, bindAddress: string, port: number) {
    if (loaded.addon === undefined) throw new Error(loaded.error);
    this.#native = new loaded.addon.UdpSocket(family, bindAddress, port);
  }

  /** Every datagram queued since the last call, oldest first, at most `max`. */
  receive(max = 4096): Datagram[] {
    return this.#native.receive(max);
  }

  /** Sends all packets in one call; returns the ones the kernel refused, with their errno. */
  send(packets: OutgoingDatagram[]): SendError[] {
    if (packets.length === 0) return [];
    return this.#native
      .send(packets)
      .map((e) => ({ ...e, code: errnoNames.get(e.errno) ?? `errno ${e.errno}` }));
  }

  /** Safe to call more than once. */
  close(): void {
    this.#native.close();
  }
}
