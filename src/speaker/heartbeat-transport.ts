/**
 * Heartbeats on the wire: one UDP socket, sent to every known peer, received and decoded; decoded
 * heartbeats go to the callback (membership), rejected ones are counted by reason.
 */
import { createSocket, type Socket } from "node:dgram";
import type { Logger } from "pino";
import { decodeHeartbeat, encodeHeartbeat } from "../election/heartbeat.js";
import type { HeartbeatInfo } from "../election/membership.js";

export interface Peer {
  address: string;
  port: number;
}

export interface HeartbeatTransportOptions {
  port: number;
  key: Buffer | undefined;
  onHeartbeat: (hb: HeartbeatInfo, receivedAt: number) => void;
  /** A datagram that did not decode, by reason. */
  onRejected: (reason: string) => void;
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

  async start(): Promise<void> {
    const udp = createSocket({ type: "udp4", reuseAddr: true });
    udp.on("message", (msg) => {
      const decoded = decodeHeartbeat(msg, this.options.key);
      if (!decoded.ok) {
        this.options.onRejected(decoded.reason);
        return;
      }
      this.options.onHeartbeat(decoded.heartbeat, Date.now());
    });
    udp.on("error", (err) =>
      this.options.log.error({ event: "heartbeatSocketError", error: err.message }, "heartbeat socket error"),
    );
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(this.options.port, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    this.udp = udp;
  }

  /** Where a peer listens ("host:port", from its Lease); an unparsable address is ignored. */
  setPeer(node: string, address: string): void {
    const parsed = parsePeerAddress(address);
    if (parsed) this.peers.set(node, parsed);
  }

  removePeer(node: string): void {
    this.peers.delete(node);
  }

  send(hb: HeartbeatInfo): void {
    if (!this.udp) return;
    const packet = encodeHeartbeat(hb, this.options.key);
    for (const peer of this.peers.values()) this.udp.send(packet, peer.port, peer.address, () => {});
  }

  close(): void {
    this.udp?.close();
    this.udp = undefined;
  }
}
