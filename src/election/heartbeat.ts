/**
 * Heartbeat wire format, version 2: binary, authenticated, at most 1,200 bytes whatever the number
 * of Services.
 *
 *   "FIP2" | HMAC-SHA256(key, body) (32) | body
 *   body: from (u8 len + UTF-8) | boot (8) | seq (u64) | echo boot (8) | echo seq (u64)
 *         | timeout for the receiver, ms (u16) | flags (u8: leaving, ready, quorum, echo, complete,
 *           watch, slow)
 *         | peers: u16 count × (name hash u32, age ms u16, flags u8: direct, alive, eligible,
 *           leaving, carrier known, carrier on some / on all interfaces)
 *         | announced: count u32, digest (8) | acquired: u16 count × (u8 family 4|6, address)
 *         | carrier: u8 count × (u8 len + name, u8 up)
 *
 * The echo is the latest (boot, seq) the sender heard from the receiver, so every packet is
 * addressed to one peer: it proves freshness (a replayed packet echoes an old sequence) and mutual
 * contact (the sender has heard us). Only IPs acquired recently are listed (make-before-break needs
 * those); the whole announced set travels as a count and a digest. Decoding never throws: anything
 * malformed, oversized or unauthenticated is rejected with a reason for the metric.
 */
import { createHash, createHmac, timingSafeEqual, type KeyObject } from "node:crypto";
import { formatIpv4, formatIpv6, ipFamily, ipv4ToBytes, ipv6ToBytes } from "../api/ip.js";

export const MAX_DATAGRAM = 1200;
const MAGIC = Buffer.from("FIP2");
const MAC_LEN = 32;
const HEADER = MAGIC.length + MAC_LEN;
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export interface PeerReport {
  /** nameHash(node) of a member the sender knows. */
  hash: number;
  /** Milliseconds since the sender last had direct contact with it (65535 = never or long ago). */
  ageMs: number;
  /** The sender has direct mutual contact with it. */
  direct: boolean;
  /** Alive in the sender's view (directly, through a peer, or by Lease). */
  alive: boolean;
  /** May own IPs in the sender's view. */
  eligible: boolean;
  leaving: boolean;
  /** The member's carrier as it last told the sender first-hand (absent: not heard directly). */
  carrier?: CarrierSummary;
}

/**
 * A member's announce-interface carrier in one word, relayed so that a node hearing it only
 * through others plans with the same carrier as the nodes hearing it first-hand.
 */
export type CarrierSummary = "all" | "some" | "none";

export function summarizeCarrier(carrier: Readonly<Record<string, boolean>>): CarrierSummary {
  const states = Object.values(carrier);
  const up = states.filter(Boolean).length;
  return up === 0 ? "none" : up === states.length ? "all" : "some";
}

export interface Heartbeat {
  from: string;
  /** Random per process start (hex, 16 digits): restarts are told apart without any clock. */
  boot: string;
  seq: number;
  /** The latest heartbeat of the receiver that the sender had heard. */
  echo?: { boot: string; seq: number };
  /**
   * The sender's current suspicion timeout for the receiver: how long the receiver may go unheard
   * before the sender declares it dead (the receiver fences itself well within it).
   */
  timeoutMs: number;
  leaving: boolean;
  /** Warmed up and not written off. */
  ready: boolean;
  /** The sender has a quorum (see quorum.ts) and so may own IPs. */
  quorum: boolean;
  peers: PeerReport[];
  /** Sparse fan-out (fanout.ts): the sender asks the receiver for a heartbeat every round. */
  watch?: boolean;
  /** Sparse fan-out: the sender's next heartbeat to the receiver may be a slow round away. */
  slow?: boolean;
  announcedCount: number;
  /** 16 hex digits of sha256 over the sorted announced set. */
  announcedDigest: string;
  /** IPs the sender started answering for recently (a page of them when there are many). */
  acquired: string[];
  /** Set by the decoder: `acquired` is the whole list, not a page of it. */
  acquiredComplete?: boolean;
  carrier: Record<string, boolean>;
}

export type DecodeResult = { ok: true; heartbeat: Heartbeat } | { ok: false; reason: DropReason };
export type DropReason = "oversized" | "truncated" | "bad-magic" | "unauthenticated" | "malformed";

export function nameHash(name: string): number {
  return createHash("sha256").update(name).digest().readUInt32BE(0);
}

export function announcedDigest(ips: Iterable<string>): string {
  const h = createHash("sha256");
  for (const ip of [...ips].sort()) h.update(ip).update("\n");
  return h.digest("hex").slice(0, 16);
}

function tag(key: Buffer | KeyObject, body: Buffer): Buffer {
  return createHmac("sha256", key).update(body).digest();
}

/** Encoding is synchronous: one scratch buffer, copied out at the end. */
const scratch = Buffer.alloc(MAX_DATAGRAM - HEADER);
const FLAG_LEAVING = 1;
const FLAG_READY = 2;
const FLAG_QUORUM = 4;
const FLAG_ECHO = 8;
const FLAG_COMPLETE = 16;
const FLAG_WATCH = 32;
const FLAG_SLOW = 64;
const PEER_DIRECT = 1;
const PEER_ALIVE = 2;
const PEER_ELIGIBLE = 4;
const PEER_LEAVING = 8;
const PEER_CARRIER_KNOWN = 16;
const PEER_CARRIER_SOME = 32;
const PEER_CARRIER_ALL = 64;

/** Encodes and signs one heartbeat: "FIP2" | HMAC-SHA256(key, body) | body. */
export function encodeHeartbeat(hb: Heartbeat, key: Buffer | KeyObject): Buffer {
  const body = encodeHeartbeatBody(hb);
  return Buffer.concat([MAGIC, tag(key, body), body]);
}

/**
 * Encodes one heartbeat's body, unsigned (the heartbeat pump patches sequence, echo and ages into
 * it and signs each copy). Fields that would not fit are shortened, never the packet grown: peers
 * (direct contacts first) and acquired IPs are cut to the space left.
 */
export function encodeHeartbeatBody(hb: Heartbeat): Buffer {
  const body = scratch.fill(0);
  let o = 0;
  const name = Buffer.from(hb.from, "utf8").subarray(0, 255);
  o = body.writeUInt8(name.length, o);
  o += name.copy(body, o);
  o += Buffer.from(hb.boot, "hex").copy(body, o, 0, 8);
  o = body.writeBigUInt64BE(BigInt(hb.seq), o);
  o += (hb.echo ? Buffer.from(hb.echo.boot, "hex") : Buffer.alloc(8)).copy(body, o, 0, 8);
  o = body.writeBigUInt64BE(BigInt(hb.echo?.seq ?? 0), o);
  o = body.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.round(hb.timeoutMs))), o);
  const flags =
    (hb.leaving ? FLAG_LEAVING : 0) |
    (hb.ready ? FLAG_READY : 0) |
    (hb.quorum ? FLAG_QUORUM : 0) |
    (hb.echo ? FLAG_ECHO : 0) |
    (hb.watch ? FLAG_WATCH : 0) |
    (hb.slow ? FLAG_SLOW : 0);
  const flagsAt = o;
  o = body.writeUInt8(flags, o);
  const carrier = Object.entries(hb.carrier).slice(0, 16);
  const carrierBytes = carrier.reduce((n, [ifname]) => n + 2 + Math.min(15, Buffer.byteLength(ifname)), 1);
  const tail = 4 + 8 + 2 + carrierBytes; // announced, acquired count, carrier
  const peers = [...hb.peers].sort((a, b) => Number(b.direct) - Number(a.direct));
  const peerRoom = Math.max(0, Math.floor((body.length - o - 2 - tail - 17 * 4) / 7));
  const sentPeers = peers.slice(0, Math.min(peerRoom, 0xffff));
  o = body.writeUInt16BE(sentPeers.length, o);
  for (const p of sentPeers) {
    o = body.writeUInt32BE(p.hash >>> 0, o);
    o = body.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.round(p.ageMs))), o);
    const pf =
      (p.direct ? PEER_DIRECT : 0) |
      (p.alive ? PEER_ALIVE : 0) |
      (p.eligible ? PEER_ELIGIBLE : 0) |
      (p.leaving ? PEER_LEAVING : 0) |
      (p.carrier ? PEER_CARRIER_KNOWN : 0) |
      (p.carrier === "some" ? PEER_CARRIER_SOME : 0) |
      (p.carrier === "all" ? PEER_CARRIER_ALL : 0);
    o = body.writeUInt8(pf, o);
  }
  o = body.writeUInt32BE(Math.min(hb.announcedCount, 0xffffffff), o);
  o += Buffer.from(hb.announcedDigest.padEnd(16, "0"), "hex").copy(body, o, 0, 8);
  const countAt = o;
  o += 2;
  let acquired = 0;
  for (const ip of hb.acquired) {
    const family = ipFamily(ip);
    if (family === null) continue;
    const bytes = family === "IPv4" ? ipv4ToBytes(ip) : ipv6ToBytes(ip);
    if (o + 1 + bytes.length > body.length - carrierBytes) break;
    o = body.writeUInt8(family === "IPv4" ? 4 : 6, o);
    o += bytes.copy(body, o);
    acquired++;
  }
  body.writeUInt16BE(acquired, countAt);
  // Complete: the receiver replaces what it knew; a page (too many to fit) is merged instead.
  if (acquired === hb.acquired.length) body.writeUInt8(flags | FLAG_COMPLETE, flagsAt);
  o = body.writeUInt8(carrier.length, o);
  for (const [ifname, up] of carrier) {
    const n = Buffer.from(ifname, "utf8").subarray(0, 15);
    o = body.writeUInt8(n.length, o);
    o += n.copy(body, o);
    o = body.writeUInt8(up ? 1 : 0, o);
  }
  return Buffer.from(body.subarray(0, o));
}

/** Reads fields in order from a body; each read throws RangeError past the end. */
class Reader {
  private o = 0;
  constructor(private readonly b: Buffer) {}
  get offset(): number {
    return this.o;
  }
  get left(): number {
    return this.b.length - this.o;
  }
  private take(n: number): number {
    if (n > this.left) throw new RangeError("truncated");
    const at = this.o;
    this.o += n;
    return at;
  }
  u8 = () => this.b.readUInt8(this.take(1));
  u16 = () => this.b.readUInt16BE(this.take(2));
  u32 = () => this.b.readUInt32BE(this.take(4));
  u64 = () => this.b.readBigUInt64BE(this.take(8));
  hex = (n: number) => this.b.toString("hex", this.take(n), this.o);
  utf8 = (n: number) => this.b.toString("utf8", this.take(n), this.o);
  ip = (family: number): string | undefined =>
    family === 4
      ? formatIpv4(this.b, this.take(4))
      : family === 6
        ? formatIpv6(this.b, this.take(16))
        : undefined;
}

/** Reads a body; throws RangeError on truncation (caught by decodeHeartbeat). */
function parseBody(b: Buffer): Heartbeat | undefined {
  const r = new Reader(b);
  const nameLen = r.u8();
  if (nameLen === 0) return undefined;
  const from = r.utf8(nameLen);
  if (Buffer.byteLength(from) !== nameLen || from.length === 0) return undefined;
  const boot = r.hex(8);
  const seq = r.u64();
  const echoBoot = r.hex(8);
  const echoSeq = r.u64();
  const timeoutMs = r.u16();
  const flags = r.u8();
  if (seq < 1n || seq > BigInt(MAX_SEQ) || echoSeq > BigInt(MAX_SEQ)) return undefined;
  const peers: PeerReport[] = [];
  for (let i = r.u16(); i > 0; i--) {
    const [hash, ageMs, pf] = [r.u32(), r.u16(), r.u8()];
    peers.push({
      hash,
      ageMs,
      direct: (pf & PEER_DIRECT) !== 0,
      alive: (pf & PEER_ALIVE) !== 0,
      eligible: (pf & PEER_ELIGIBLE) !== 0,
      leaving: (pf & PEER_LEAVING) !== 0,
      ...((pf & PEER_CARRIER_KNOWN) !== 0
        ? { carrier: pf & PEER_CARRIER_ALL ? "all" : pf & PEER_CARRIER_SOME ? "some" : "none" }
        : {}),
    });
  }
  const announcedCount = r.u32();
  const digest = r.hex(8);
  const acquired: string[] = [];
  for (let i = r.u16(); i > 0; i--) {
    const ip = r.ip(r.u8());
    if (ip === undefined) return undefined;
    acquired.push(ip);
  }
  const carrier: Record<string, boolean> = {};
  for (let i = r.u8(); i > 0; i--) {
    const len = r.u8();
    if (len === 0 || len > 15) return undefined;
    carrier[r.utf8(len)] = r.u8() === 1;
  }
  if (r.left !== 0) return undefined;
  const hasEcho = (flags & FLAG_ECHO) !== 0;
  return {
    from,
    boot,
    seq: Number(seq),
    ...(hasEcho ? { echo: { boot: echoBoot, seq: Number(echoSeq) } } : {}),
    timeoutMs,
    leaving: (flags & FLAG_LEAVING) !== 0,
    ready: (flags & FLAG_READY) !== 0,
    quorum: (flags & FLAG_QUORUM) !== 0,
    peers,
    ...((flags & FLAG_WATCH) !== 0 ? { watch: true } : {}),
    ...((flags & FLAG_SLOW) !== 0 ? { slow: true } : {}),
    announcedCount,
    announcedDigest: digest,
    acquired,
    acquiredComplete: (flags & FLAG_COMPLETE) !== 0,
    carrier,
  };
}

/**
 * A datagram whose body differs from the sender's previous one only in sequence, echo and report
 * ages (the heartbeat pump checked that, and its HMAC) carries the previous heartbeat with those
 * fields new: this writes them into `hb`, the previous heartbeat, in place, sparing a decode and
 * any garbage per datagram. False, and `hb` untouched, when the body does not fit it (then decode
 * it in full). Safe because only a heartbeat's content is read after it is observed (membership
 * copies sequence and echo into numbers of its own).
 */
export function repeatInto(hb: Heartbeat, packet: Buffer): boolean {
  // Read in place (no subarray, no BigInt, the echo's boot text reused).
  const b = HEADER;
  const n = packet[b] ?? 0;
  const count = n > 0 && packet.length >= b + 38 + n ? packet.readUInt16BE(b + 36 + n) : -1;
  if (count !== hb.peers.length || packet.length < b + 38 + n + 7 * count) return false;
  hb.seq = readU64(packet, b + 9 + n);
  for (let i = 0; i < count; i++) hb.peers[i]!.ageMs = packet.readUInt16BE(b + 42 + n + 7 * i);
  if ((packet[b + 35 + n]! & FLAG_ECHO) === 0) delete hb.echo;
  else {
    const boot = bootText(packet, b + 17 + n);
    const seq = readU64(packet, b + 25 + n);
    if (hb.echo) {
      hb.echo.boot = boot;
      hb.echo.seq = seq;
    } else hb.echo = { boot, seq };
  }
  return true;
}

/** A u64 as a number, as Number(readBigUInt64BE) gives it, without the BigInt. */
function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/** The last boot read as text, by its two words: echoes name our own boot, the same 8 bytes each time. */
const bootSeen = { hi: -1, lo: -1, text: "" };

function bootText(buf: Buffer, at: number): string {
  const hi = buf.readUInt32BE(at);
  const lo = buf.readUInt32BE(at + 4);
  if (hi !== bootSeen.hi || lo !== bootSeen.lo) {
    bootSeen.hi = hi;
    bootSeen.lo = lo;
    bootSeen.text = buf.toString("hex", at, at + 8);
  }
  return bootSeen.text;
}

/** Whether an encoded body carries its whole acquired list (not a page of it). */
export function bodyIsComplete(body: Buffer): boolean {
  const flagsAt = 35 + (body[0] ?? 0);
  return flagsAt < body.length && (body[flagsAt]! & FLAG_COMPLETE) !== 0;
}

export function decodeHeartbeat(packet: Buffer, key: Buffer | KeyObject): DecodeResult {
  if (packet.length > MAX_DATAGRAM) return { ok: false, reason: "oversized" };
  if (packet.length < HEADER + 1) return { ok: false, reason: "truncated" };
  if (!packet.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, reason: "bad-magic" };
  const body = packet.subarray(HEADER);
  if (!timingSafeEqual(packet.subarray(MAGIC.length, HEADER), tag(key, body))) {
    return { ok: false, reason: "unauthenticated" };
  }
  try {
    const heartbeat = parseBody(body);
    return heartbeat ? { ok: true, heartbeat } : { ok: false, reason: "malformed" };
  } catch {
    return { ok: false, reason: "malformed" };
  }
}
