/**
 * Heartbeats on the wire: one UDP socket bound to this node's heartbeat address (not 0.0.0.0), one
 * authenticated packet per peer per round (each carries its own echo), received packets decoded
 * and checked against the address the sender's Lease declares. Every dropped packet is counted by
 * reason; nothing a peer sends can throw here.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import type { Logger } from "pino";
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from "../election/heartbeat.js";

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

export class HeartbeatTransport {
  private readonly peers = new Map<string, Peer>();
  private udp: Socket | undefined;

  constructor(private readonly options: HeartbeatTransportOptions) {}

  /** Listens on `bindAddress` (this node's heartbeat address); undefined listens everywhere, with a warning. */
  async start(bindAddress: string | undefined): Promise<void> {
    const { port, log } = this.options;
    const udp = createSocket({ type: bindAddress && isIPv6(bindAddress) ? "udp6" : "udp4", reuseAddr: true });
    udp.on("message", (msg, rinfo) => this.receive(msg, rinfo));
    udp.on("error", (err) =>
      log.error({ event: "heartbeatSocketError", error: err.message }, "heartbeat socket error"),
    );
    if (!bindAddress) {
      log.warn(
        { event: "heartbeatListenAll", port },
        "no heartbeat address known (no --heartbeat-address, no Node InternalIP): listening on all addresses",
      );
    }
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(port, bindAddress, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    this.udp = udp;
  }

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    const receivedAt = this.options.now();
    const decoded = decodeHeartbeat(msg, this.options.key);
    if (!decoded.ok) return this.options.onDropped(decoded.reason);
    // The sender is who its Lease says listens at this address: a valid packet from elsewhere is
    // a reflection or a stolen key used from another host.
    const declared = this.peers.get(decoded.heartbeat.from);
    if (declared && declared.address !== rinfo.address) return this.options.onDropped("address-mismatch");
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
    for (const node of to ?? this.peers.keys()) {
      const peer = this.peers.get(node);
      if (!peer) continue;
      const packet = encodeHeartbeat(build(node), this.options.key);
      udp.send(packet, peer.port, peer.address, () => {});
    }
  }

  close(): void {
    this.udp?.close();
    this.udp = undefined;
  }
}
