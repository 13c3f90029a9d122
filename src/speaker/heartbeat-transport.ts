/**
 * Heartbeats on the wire: one UDP socket bound to this node's heartbeat address (not 0.0.0.0), one
 * authenticated packet per peer per round (each carries its own echo), received packets decoded
 * and checked against the address the sender's Lease declares. Every dropped packet is counted by
 * reason; nothing a peer sends can throw here.
 *
 * The socket never wakes the event loop (native/src/udp.cc): the tick drains it before it steps
 * and sends its round in one system call. An idle speaker then wakes once per tick instead of once
 * per datagram in and out, which was most of its CPU; each datagram keeps the kernel's arrival
 * time, so membership sees when it arrived, not when it was read.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { isIPv6 } from "node:net";
import type { Logger } from "pino";
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from "../election/heartbeat.js";
import { PolledUdpSocket, type Datagram, type OutgoingDatagram } from "../native/udp.js";

export interface Peer {
  address: string;
  port: number;
}

export interface HeartbeatTransportOptions {
  port: number;
  key: Buffer;
  /** A decoded heartbeat from the address its sender's Lease declares; returns a drop reason or "accepted". */
  onHeartbeat: (hb: Heartbeat, receivedAt: number) => string;
  /** A datagram dropped before or by membership, by reason. */
  onDropped: (reason: string) => void;
  /** The kernel refused a packet (the errno's name, for the metric); logged here once per peer and error. */
  onSendError: (code: string) => void;
  /** Monotonic milliseconds. */
  now: () => number;
  log: Logger;
}

/** Parses "host:port" or "[v6]:port". */
export function parsePeerAddress(text: string): Peer | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { address: m[1]!, port };
}

/** Most datagrams read per tick: a flood of valid-looking packets cannot stretch a tick. */
const MAX_PER_TICK = 4096;

export class HeartbeatTransport {
  private readonly peers = new Map<string, Peer>();
  /** The last send error logged per peer: a round is 40 ms, the log says it once until it changes. */
  private readonly sendErrors = new Map<string, string>();
  private udp: PolledUdpSocket | undefined;
  /** When the socket was last drained: no datagram can have arrived before it (monotonic ms). */
  private lastPoll = 0;

  /** Imported once: an HMAC with a raw Buffer key imports it again for every packet. */
  private readonly key: KeyObject;

  constructor(private readonly options: HeartbeatTransportOptions) {
    this.key = createSecretKey(options.key);
  }

  /** Listens on `bindAddress` (this node's heartbeat address); undefined listens everywhere, with a warning. */
  start(bindAddress: string | undefined): void {
    const { port, log } = this.options;
    if (!bindAddress) {
      log.warn(
        { event: "heartbeatListenAll", port },
        "no heartbeat address known (no --heartbeat-address, no Node InternalIP): listening on all addresses",
      );
    }
    const family = bindAddress && isIPv6(bindAddress) ? 6 : 4;
    this.udp = new PolledUdpSocket(family, bindAddress ?? "0.0.0.0", port);
    this.lastPoll = this.options.now();
  }

  /** Reads and hands to membership every datagram that arrived since the last poll. */
  poll(): void {
    const udp = this.udp;
    if (!udp) return;
    const now = this.options.now();
    let datagrams: Datagram[];
    try {
      datagrams = udp.receive(MAX_PER_TICK);
    } catch (err) {
      this.options.log.error(
        { event: "heartbeatSocketError", error: (err as Error).message },
        "heartbeat socket error",
      );
      return;
    }
    // The kernel's timestamp is on the wall clock: its age is only trusted within the time since the
    // last poll, so a wall-clock step cannot date a packet before or after it could have arrived.
    const window = Math.max(0, now - this.lastPoll);
    this.lastPoll = now;
    for (const d of datagrams) {
      if (d.truncated) {
        this.options.onDropped("oversized");
        continue;
      }
      this.receive(d, now - Math.min(Math.max(d.ageMs, 0), window));
    }
  }

  private receive(d: Datagram, receivedAt: number): void {
    const decoded = decodeHeartbeat(d.data, this.key);
    if (!decoded.ok) return this.options.onDropped(decoded.reason);
    // The sender is who its Lease says listens at this address: a valid packet from elsewhere is
    // a reflection or a stolen key used from another host.
    const declared = this.peers.get(decoded.heartbeat.from);
    if (declared && declared.address !== d.address) return this.options.onDropped("address-mismatch");
    const verdict = this.options.onHeartbeat(decoded.heartbeat, receivedAt);
    if (verdict !== "accepted") this.options.onDropped(verdict);
  }

  /** Where a peer listens ("host:port", from its Lease); an unparsable address is ignored. */
  setPeer(node: string, address: string): void {
    const parsed = parsePeerAddress(address);
    if (parsed) this.peers.set(node, parsed);
  }

  removePeer(node: string): void {
    this.peers.delete(node);
  }

  /** One round: a packet built for each peer, or for `to` only (each carries that peer's echo). */
  sendRound(build: (node: string) => Heartbeat, to?: Iterable<string>): void {
    const udp = this.udp;
    if (!udp) return;
    const packets: OutgoingDatagram[] = [];
    const nodes: string[] = [];
    for (const node of to ?? this.peers.keys()) {
      const peer = this.peers.get(node);
      if (!peer) continue;
      packets.push({
        data: encodeHeartbeat(build(node), this.key),
        address: peer.address,
        port: peer.port,
      });
      nodes.push(node);
    }
    for (const { index, code } of udp.send(packets)) this.sendFailed(nodes[index]!, code);
  }

  private sendFailed(node: string, error: string): void {
    this.options.onSendError(error);
    if (this.sendErrors.get(node) === error) return;
    this.sendErrors.set(node, error);
    this.options.log.warn(
      { event: "heartbeatNotSent", peer: node, error },
      "the kernel refused a heartbeat to this peer (check routes and firewall toward its heartbeat address)",
    );
  }

  close(): void {
    this.udp?.close();
    this.udp = undefined;
  }
}
