/**
 * Heartbeats on the wire, through the heartbeat pump (native/src/pump.cc): one UDP socket bound to
 * this node's heartbeat address (not 0.0.0.0), one authenticated packet per peer per round (each
 * carries its own echo), received packets decoded and checked against the address the sender's
 * Lease declares. Every dropped packet is counted by reason; nothing a peer sends can throw here.
 *
 * All-to-all (the default): the pump's thread sends every round from the templates `publish` last
 * gave it (sequence, echo, ages and HMAC patched in per round) and wakes the speaker only when
 * something may have changed; each wake `drain`s what it sent and received into membership. So an
 * idle speaker runs JavaScript a few times a second instead of every 40 ms (issue 13).
 * Sparse fan-out (manual): each round's recipients change, so the speaker ticks every interval,
 * drains, and sends the round itself (`sendRound`).
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { isIPv6 } from "node:net";
import type { Logger } from "pino";
import {
  bodyIsComplete,
  decodeHeartbeat,
  encodeHeartbeat,
  encodeHeartbeatBody,
  nameHash,
  repeatInto,
  type Heartbeat,
} from "../election/heartbeat.js";
import { maskBody, type Arm } from "../election/pump.js";
import { HeartbeatPump, type PumpDatagram } from "../native/pump.js";

export interface Peer {
  address: string;
  port: number;
}

export interface HeartbeatTransportOptions {
  port: number;
  /** Heartbeats are signed with it, and taken when signed with it. */
  key: Buffer;
  /** A second key heartbeats are taken with (a key rotation rolling out node by node). */
  acceptKey?: Buffer;
  /** Our boot id (16 hex digits): the pump checks echoes against it. */
  boot: string;
  intervalMs: number;
  /** How old an echoed round may be and still count (Membership.freshnessMs). */
  freshnessMs: number;
  /** The pump stops sending when the speaker has not re-armed it for this long (a hung event loop). */
  watchdogMs: number;
  /** A round the pump sent (automatic mode): echoes of it count from `at`. */
  onSent: (seq: number, at: number) => void;
  /**
   * A decoded heartbeat from the address its sender's Lease declares; returns a drop reason or
   * "accepted". Its content may be kept; its sequence, echo and report ages only during the call
   * (the sender's next unchanged datagram overwrites them in place, `repeatInto`).
   */
  onHeartbeat: (hb: Heartbeat, receivedAt: number) => string;
  /** A datagram dropped before or by membership, by reason. */
  onDropped: (reason: string) => void;
  /** The kernel refused a packet (the errno's name, for the metric); logged here once per peer and error. */
  onSendError: (code: string) => void;
  /** Something may have changed (automatic mode): the speaker should drain and step. */
  onWake: () => void;
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
  /** Each sender's latest fully decoded heartbeat (an unchanged datagram repeats it). */
  private readonly lastHeard = new Map<string, Heartbeat>();
  /** The content (maskBody) of each peer's template in the pump: publish sends only what changed. */
  private readonly published = new Map<string, Buffer>();
  /** The last send error logged per peer: a round is 40 ms, the log says it once until it changes. */
  private readonly sendErrors = new Map<string, string>();
  private pump: HeartbeatPump | undefined;

  /** Imported once: an HMAC with a raw Buffer key imports it again for every packet. */
  private key: KeyObject;
  private acceptKey: KeyObject | undefined;
  private keyBytes: { key: Buffer; accept?: Buffer };

  constructor(private readonly options: HeartbeatTransportOptions) {
    this.keyBytes = { key: options.key, ...(options.acceptKey ? { accept: options.acceptKey } : {}) };
    this.key = createSecretKey(options.key);
    this.acceptKey = options.acceptKey && createSecretKey(options.acceptKey);
  }

  /**
   * New keys (a rotation, read from the key files): sign with `key` from now on, take heartbeats
   * signed with `key` or `accept`. Each phase of a rotation takes a superset of the keys the peers
   * still sign with, so no two speakers refuse each other while it rolls out (deploy/README.md).
   */
  setKeys(key: Buffer, accept?: Buffer): void {
    // What the pump took with the old keys is decoded with them (the pump and membership must
    // take the same datagrams: test/sim/README.md), then both switch.
    this.drain();
    this.keyBytes = { key, ...(accept ? { accept } : {}) };
    this.key = createSecretKey(key);
    this.acceptKey = accept && createSecretKey(accept);
    this.pump?.setKey(key, accept);
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
    this.pump = new HeartbeatPump({
      family: bindAddress && isIPv6(bindAddress) ? 6 : 4,
      bindAddress: bindAddress ?? "0.0.0.0",
      port,
      key: this.keyBytes.key,
      boot: this.options.boot,
      firstSeq: 1,
      intervalMs: this.options.intervalMs,
      freshnessMs: this.options.freshnessMs,
      watchdogMs: this.options.watchdogMs,
      onWake: this.options.onWake,
    });
    if (this.keyBytes.accept) this.pump.setKey(this.keyBytes.key, this.keyBytes.accept);
    for (const [node, peer] of this.peers) this.pump.setPeer(node, nameHash(node), peer.address, peer.port);
  }

  /**
   * Hands membership what the pump sent and received since the last drain, in order. First tells
   * `stalled` the longest time the pump's rounds were late (the whole process stood still, in
   * milliseconds; 0 if none), so that the silence is noted as ours before the datagrams count.
   */
  drain(stalled: (stalledMs: number) => void = () => {}): void {
    const pump = this.pump;
    if (!pump) return stalled(0);
    const out = pump.drain();
    stalled(out.stalledMs);
    for (const { seq, at } of out.sent) this.options.onSent(seq, at);
    for (const d of out.datagrams) this.receive(d);
    for (const { peer, code } of out.sendErrors) this.sendFailed(peer, code);
    for (let i = 0; i < out.overflow; i++) this.options.onDropped("queue-overflow");
    if (out.watchdogStops > 0)
      this.options.log.warn(
        { event: "heartbeatsPaused", times: out.watchdogStops },
        "the event loop did not re-arm the heartbeat pump in time: heartbeats paused so peers can take over",
      );
  }

  private receive(d: PumpDatagram): void {
    if (d.data.length > 1200) return this.options.onDropped("oversized");
    const repeated = this.repeat(d);
    const hb = repeated ?? this.decode(d);
    if (!hb) return;
    // The sender is who its Lease says listens at this address and port: a valid packet from
    // elsewhere is a reflection or a stolen key used from another host.
    const declared = this.peers.get(hb.from);
    if (declared && (declared.address !== d.address || declared.port !== d.port))
      return this.options.onDropped("address-mismatch");
    // As the pump: only what comes from the declared address is content a repeat refers to.
    if (!repeated) this.lastHeard.set(hb.from, hb);
    const verdict = this.options.onHeartbeat(hb, d.arrivedAt);
    if (verdict !== "accepted") this.options.onDropped(verdict);
  }

  /**
   * A datagram the pump found unchanged is its sender's previous heartbeat with the new sequence,
   * echo and ages, written into that heartbeat in place (`repeatInto`: no HMAC, no parse, no
   * garbage but the sender's name read to find it; most of an idle speaker's JavaScript otherwise).
   */
  private repeat(d: PumpDatagram): Heartbeat | undefined {
    if (!d.unchanged) return undefined;
    const last = this.lastHeard.get(d.data.toString("utf8", 37, 37 + (d.data[36] ?? 0)));
    return last && repeatInto(last, d.data) ? last : undefined;
  }

  /**
   * Any other is decoded in full. What that refuses forgets every previous one (the pump may have
   * taken it as the latest content).
   */
  private decode(d: PumpDatagram): Heartbeat | undefined {
    let decoded = decodeHeartbeat(d.data, this.key);
    if (!decoded.ok && decoded.reason === "unauthenticated" && this.acceptKey)
      decoded = decodeHeartbeat(d.data, this.acceptKey);
    if (decoded.ok) return decoded.heartbeat;
    this.lastHeard.clear();
    this.options.onDropped(decoded.reason);
    return undefined;
  }

  /** Where a peer listens ("host:port", from its Lease); false when unchanged or unparsable (ignored). */
  setPeer(node: string, address: string): boolean {
    const parsed = parsePeerAddress(address);
    if (!parsed) return false;
    const known = this.peers.get(node);
    if (known?.address === parsed.address && known.port === parsed.port) return false;
    this.peers.set(node, parsed);
    this.pump?.setPeer(node, nameHash(node), parsed.address, parsed.port);
    return true;
  }

  removePeer(node: string): void {
    this.peers.delete(node);
    this.published.delete(node);
    this.pump?.removePeer(node);
  }

  /**
   * Automatic mode: each peer's heartbeat as of `builtAt`, for the pump to send every round. Returns
   * whether one carries only a page of its acquired list (the pages must then rotate every round).
   */
  publish(build: (node: string) => Heartbeat, builtAt: number): boolean {
    const pump = this.pump;
    let paged = false;
    if (!pump) return paged;
    for (const node of this.peers.keys()) {
      const body = encodeHeartbeatBody(build(node));
      paged ||= !bodyIsComplete(body);
      // Sequence, echo and ages differ at every step; the pump patches those itself.
      const content = maskBody(body, body[0]!, body.readUInt16BE(36 + body[0]!));
      if (this.published.get(node)?.equals(content)) continue;
      this.published.set(node, content);
      pump.setTemplate(node, body, builtAt);
    }
    return paged;
  }

  /** Automatic mode: when to wake the speaker next (wake.ts). */
  arm(plan: Arm): void {
    this.pump?.arm({ ...plan, peers: [...plan.peers] });
  }

  /** Manual mode: one round, a packet built for each of `to` (each carries that peer's echo). */
  sendRound(build: (node: string) => Heartbeat, to: Iterable<string>): void {
    const pump = this.pump;
    if (!pump) return;
    const packets: { data: Buffer; address: string; port: number }[] = [];
    const nodes: string[] = [];
    for (const node of to) {
      const peer = this.peers.get(node);
      if (!peer) continue;
      packets.push({ data: encodeHeartbeat(build(node), this.key), address: peer.address, port: peer.port });
      nodes.push(node);
    }
    for (const { index, code } of pump.send(packets)) this.sendFailed(nodes[index]!, code);
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
    this.pump?.close();
    this.pump = undefined;
  }
}
