/**
 * The heartbeat pump's logic, pure (native/PUMP-SPEC.md "What the pump does"): the native thread
 * (native/src/pump.cc) runs the same rules on a socket and CLOCK_MONOTONIC; this model gets time and
 * datagrams as arguments, so the simulation can run it and a differential test can compare the two.
 *
 * Every interval a round: one sequence number, and per peer its template (the body JavaScript built
 * with encodeHeartbeatBody) with seq, echo and report ages patched in, then signed. Received
 * datagrams are queued for JavaScript; authenticated ones from registered peers also update the echo,
 * the acceptance (an echo of a recent round of ours: mutual contact) and the content (the body with
 * the fields that change every round masked). JavaScript is woken only when something may change
 * its view: a trigger it armed (a deadline, a peer's silence or lapsing confirmation, an accepted
 * packet from a peer it counts out), a change of content, a filling queue.
 */
import { createHmac, type KeyObject } from "node:crypto";
import { MAX_DATAGRAM } from "./heartbeat.js";

const MAGIC = Buffer.from("FIP2");
const HEADER = MAGIC.length + 32;
const FLAG_ECHO = 8;
/** Report age meaning "never or long ago": left as the template has it. */
const AGE_NEVER = 0xffff;
const AGE_MAX = 0xfffe;

export interface PumpConfig {
  /** Our boot id, 16 hex digits (Membership's). */
  boot: string;
  key: Buffer | KeyObject;
  intervalMs: number;
  /** How old an echoed round may be (Membership.freshnessMs). */
  freshnessMs: number;
  /** No arm() for longer than this: JavaScript is hung, stop sending so that peers take over. */
  watchdogMs: number;
  /** The first round's sequence number (default 1). */
  firstSeq?: number;
  /** Datagrams queued for JavaScript at most (default 4096); newer ones are counted and dropped. */
  queueLimit?: number;
}

export interface PeerTrigger {
  name: string;
  /** Wake once the peer's last accepted datagram is this old (absent: never). */
  silenceMs?: number;
  /** Wake once the send time of our latest round the peer echoed is this old (absent: never). */
  confirmMs?: number;
  /** Wake on the next accepted datagram from it. */
  wakeOnAccept?: boolean;
}

export interface Arm {
  /** Wake at this time at the latest (absent: no deadline). */
  wakeAt?: number;
  peers: readonly PeerTrigger[];
}

export type WakeReason = "deadline" | "silence" | "confirm" | "accept" | "content" | "queue";

export interface PumpDatagram {
  data: Buffer;
  address: string;
  port: number;
  arrivedAt: number;
}

export interface Drained {
  sent: { seq: number; at: number }[];
  datagrams: PumpDatagram[];
  sendErrors: { peer: string; errno: number }[];
  /** Datagrams dropped because the queue was full. */
  overflow: number;
  /** Rounds not sent because the watchdog had expired. */
  watchdogStops: number;
  /** The longest lateness of a round (the whole process stopped), 0 if none was late. */
  stalledMs: number;
}

export interface PumpPacket {
  peer: string;
  address: string;
  port: number;
  data: Buffer;
}

interface PeerEntry {
  hash: number;
  address: string;
  port: number;
  template?: { body: Buffer; builtAt: number };
  echo?: { boot: Buffer; seq: bigint };
  accepted?: { boot: Buffer; seq: bigint };
  lastAccepted?: number;
  confirmedAt?: number;
  masked?: Buffer;
  trigger?: PeerTrigger;
  /** A datagram of it was accepted since the last drain (wakeOnAccept counts those too). */
  acceptedSinceDrain?: boolean;
}

/** Offsets in a body whose sender name is `n` bytes long (native/PUMP-SPEC.md "Wire format"). */
const at = (n: number) => ({
  boot: 1 + n,
  seq: 9 + n,
  echoBoot: 17 + n,
  echoSeq: 25 + n,
  flags: 35 + n,
  count: 36 + n,
  reports: 38 + n,
});

/** The parsed prefix of an authenticated body, up to and including the report list. */
interface Prefix {
  name: string;
  n: number;
  count: number;
}

function parsePrefix(body: Buffer): Prefix | undefined {
  if (body.length < 1) return undefined;
  const n = body[0]!;
  const o = at(n);
  if (n === 0 || body.length < o.reports) return undefined;
  const count = body.readUInt16BE(o.count);
  if (body.length < o.reports + 7 * count) return undefined;
  return { name: body.toString("utf8", 1, 1 + n), n, count };
}

/** The body with what changes every round (seq, echo, the echo flag, report ages) zeroed. */
export function maskBody(body: Buffer, n: number, count: number): Buffer {
  const o = at(n);
  const masked = Buffer.from(body);
  masked.fill(0, o.seq, o.echoSeq + 8);
  masked[o.flags] = masked[o.flags]! & ~FLAG_ECHO;
  for (let i = 0; i < count; i++) masked.writeUInt16BE(0, o.reports + 7 * i + 4);
  return masked;
}

export class PumpCore {
  private readonly peers = new Map<string, PeerEntry>();
  private readonly byHash = new Map<number, PeerEntry>();
  private readonly boot: Buffer;
  private seq: number;
  private nextAt: number;
  /** Our recent rounds: seq → send time (freshnessMs + 2 intervals). */
  private readonly log = new Map<number, number>();
  private lastArm: number;
  private armed = false;
  private wakeAt = Infinity;
  /** A content or queue wake fired since the last drain. */
  private contentFired = false;
  private queueFired = false;
  private out: Drained = PumpCore.empty();
  private readonly queueLimit: number;
  private key: Buffer | KeyObject;
  private acceptKey: Buffer | KeyObject | undefined;
  /** Wakes fired (for tests and metrics). */
  wakes = 0;

  constructor(
    private readonly config: PumpConfig,
    startedAt: number,
  ) {
    this.boot = Buffer.from(config.boot, "hex");
    this.seq = (config.firstSeq ?? 1) - 1;
    this.nextAt = startedAt;
    this.lastArm = startedAt;
    this.queueLimit = config.queueLimit ?? 4096;
    this.key = config.key;
  }

  private static empty(): Drained {
    return { sent: [], datagrams: [], sendErrors: [], overflow: 0, watchdogStops: 0, stalledMs: 0 };
  }

  /**
   * A new key (a rotation): rounds are signed, and datagrams checked, with it from now on; with
   * `accept`, datagrams signed with that second key are taken too (a rotation rolling out).
   */
  setKey(key: Buffer | KeyObject, accept?: Buffer | KeyObject): void {
    this.key = key;
    this.acceptKey = accept;
  }

  setPeer(name: string, hash: number, address: string, port: number): void {
    const entry = this.peers.get(name) ?? { hash, address, port };
    if (entry.hash !== hash) this.byHash.delete(entry.hash);
    Object.assign(entry, { hash, address, port });
    this.peers.set(name, entry);
    this.byHash.set(hash, entry);
  }

  removePeer(name: string): void {
    const entry = this.peers.get(name);
    if (!entry) return;
    this.peers.delete(name);
    if (this.byHash.get(entry.hash) === entry) this.byHash.delete(entry.hash);
  }

  /** The body for `name` as encodeHeartbeatBody built it at `builtAt`; undefined: send nothing. */
  setTemplate(name: string, body: Buffer | undefined, builtAt: number): void {
    const entry = this.peers.get(name);
    if (!entry) return;
    entry.template = body ? { body: Buffer.from(body), builtAt } : undefined;
  }

  template(name: string): Buffer | undefined {
    return this.peers.get(name)?.template?.body;
  }

  /** When the next round is due. */
  nextRoundAt(): number {
    return this.nextAt;
  }

  /** The round due at nextRoundAt(), run at `now`: the packets to send (none while the watchdog has expired). */
  round(now: number): PumpPacket[] {
    const late = now - this.nextAt;
    if (late > this.config.intervalMs) {
      // The whole process stopped (SIGSTOP, a VM pause): keep the rhythm from now, tell JavaScript.
      this.out.stalledMs = Math.max(this.out.stalledMs, late);
      this.nextAt = now + this.config.intervalMs;
    } else this.nextAt += this.config.intervalMs;
    const names = [...this.peers.keys()].filter((name) => this.peers.get(name)!.template).sort();
    // Nothing to send is no round: no sequence number used (the native pump does the same).
    if (names.length === 0) return [];
    if (now - this.lastArm > this.config.watchdogMs) {
      this.out.watchdogStops++;
      return [];
    }
    this.seq++;
    this.log.set(this.seq, now);
    for (const [seq, sentAt] of this.log) {
      if (now - sentAt <= this.config.freshnessMs + 2 * this.config.intervalMs) break;
      this.log.delete(seq);
    }
    this.out.sent.push({ seq: this.seq, at: now });
    // In name order, like the native pump (a differential test compares them packet for packet).
    return names.map((name) => {
      const peer = this.peers.get(name)!;
      return { peer: name, address: peer.address, port: peer.port, data: this.patch(peer, now) };
    });
  }

  /** A packet the socket refused (sendmmsg): kept for the drain. */
  sendFailed(peer: string, errno: number): void {
    this.out.sendErrors.push({ peer, errno });
  }

  private patch(peer: PeerEntry, now: number): Buffer {
    const { body: template, builtAt } = peer.template!;
    const body = Buffer.from(template);
    const n = body[0]!;
    const o = at(n);
    body.writeBigUInt64BE(BigInt(this.seq), o.seq);
    if (peer.echo) {
      peer.echo.boot.copy(body, o.echoBoot);
      body.writeBigUInt64BE(peer.echo.seq, o.echoSeq);
      body[o.flags] = body[o.flags]! | FLAG_ECHO;
    } else {
      body.fill(0, o.echoBoot, o.echoSeq + 8);
      body[o.flags] = body[o.flags]! & ~FLAG_ECHO;
    }
    const count = body.readUInt16BE(o.count);
    for (let i = 0; i < count; i++) {
      const r = o.reports + 7 * i;
      const about = this.byHash.get(body.readUInt32BE(r));
      const age = body.readUInt16BE(r + 4);
      if (about?.lastAccepted !== undefined) {
        body.writeUInt16BE(Math.min(AGE_MAX, Math.max(0, Math.round(now - about.lastAccepted))), r + 4);
      } else if (age !== AGE_NEVER) {
        body.writeUInt16BE(Math.min(AGE_MAX, age + Math.max(0, Math.round(now - builtAt))), r + 4);
      }
    }
    const mac = createHmac("sha256", this.key).update(body).digest();
    return Buffer.concat([MAGIC, mac, body]);
  }

  /**
   * One datagram read from the socket, with its arrival time. Queued for JavaScript; an
   * authenticated one from a registered peer also moves the echo, acceptance and content. Returns
   * the wake it fires, if any.
   */
  receive(data: Buffer, address: string, port: number, arrivedAt: number): WakeReason | undefined {
    if (this.out.datagrams.length >= this.queueLimit) {
      // Not looked at either: what the pump knows must be what JavaScript will see.
      this.out.overflow++;
      return undefined;
    }
    this.out.datagrams.push({ data, address, port, arrivedAt });
    const wake = this.inspect(data, address, port, arrivedAt);
    if (wake) return wake;
    if (!this.queueFired && this.out.datagrams.length >= this.queueLimit / 2) {
      this.queueFired = true;
      return this.fire("queue");
    }
    return undefined;
  }

  private inspect(data: Buffer, address: string, port: number, arrivedAt: number): WakeReason | undefined {
    if (data.length > MAX_DATAGRAM || data.length <= HEADER) return undefined;
    if (!data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const body = data.subarray(HEADER);
    const tag = data.subarray(MAGIC.length, HEADER);
    const signedWith = (key: Buffer | KeyObject) =>
      createHmac("sha256", key).update(body).digest().equals(tag);
    if (!signedWith(this.key) && !(this.acceptKey && signedWith(this.acceptKey))) return undefined;
    const prefix = parsePrefix(body);
    const peer = prefix && this.peers.get(prefix.name);
    if (!prefix || !peer || peer.address !== address || peer.port !== port) return undefined;
    const o = at(prefix.n);
    const boot = Buffer.from(body.subarray(o.boot, o.boot + 8));
    const seq = body.readBigUInt64BE(o.seq);
    // The echo we send back: the latest of its process (a new boot replaces it).
    if (!peer.echo || !peer.echo.boot.equals(boot) || seq > peer.echo.seq) peer.echo = { boot, seq };
    let wake: WakeReason | undefined;
    if (this.accept(peer, body, prefix.n, boot, seq, arrivedAt) && peer.trigger?.wakeOnAccept && this.armed)
      wake = this.fire("accept");
    const masked = maskBody(body, prefix.n, prefix.count);
    const changed = !peer.masked?.equals(masked);
    peer.masked = masked;
    if (changed && !this.contentFired) {
      this.contentFired = true;
      wake ??= this.fire("content");
    }
    return wake;
  }

  /** Mutual contact: it echoes a recent round of ours, and is no replay of its stream. */
  private accept(
    peer: PeerEntry,
    body: Buffer,
    n: number,
    boot: Buffer,
    seq: bigint,
    arrivedAt: number,
  ): boolean {
    const o = at(n);
    if ((body[o.flags]! & FLAG_ECHO) === 0) return false;
    if (!body.subarray(o.echoBoot, o.echoBoot + 8).equals(this.boot)) return false;
    const echoSeq = body.readBigUInt64BE(o.echoSeq);
    const sentAt = echoSeq <= BigInt(Number.MAX_SAFE_INTEGER) ? this.log.get(Number(echoSeq)) : undefined;
    if (sentAt === undefined || arrivedAt - sentAt > this.config.freshnessMs) return false;
    if (peer.accepted?.boot.equals(boot) && seq <= peer.accepted.seq) return false;
    peer.accepted = { boot, seq };
    peer.lastAccepted = arrivedAt;
    peer.confirmedAt = Math.max(peer.confirmedAt ?? -Infinity, sentAt);
    peer.acceptedSinceDrain = true;
    return true;
  }

  /** JavaScript has stepped: wake it once at the first of these (and feeds the watchdog). */
  arm(request: Arm, now: number): void {
    this.lastArm = now;
    this.armed = true;
    this.wakeAt = request.wakeAt ?? Infinity;
    for (const peer of this.peers.values()) peer.trigger = undefined;
    for (const t of request.peers) {
      const peer = this.peers.get(t.name);
      if (peer) peer.trigger = t;
    }
  }

  /**
   * The earliest trigger armed (Infinity: none armed; -Infinity: due now — a peer armed
   * wakeOnAccept was accepted since the drain, while JavaScript was stepping).
   */
  nextTriggerAt(): number {
    if (!this.armed) return Infinity;
    let next = this.wakeAt;
    for (const peer of this.peers.values()) {
      const t = peer.trigger;
      if (!t) continue;
      if (t.wakeOnAccept && peer.acceptedSinceDrain) return -Infinity;
      if (t.silenceMs !== undefined && peer.lastAccepted !== undefined)
        next = Math.min(next, peer.lastAccepted + t.silenceMs);
      if (t.confirmMs !== undefined && peer.confirmedAt !== undefined)
        next = Math.min(next, peer.confirmedAt + t.confirmMs);
    }
    return next;
  }

  /** Fires the time-based wake due at `now`, if any. */
  due(now: number): WakeReason | undefined {
    const next = this.nextTriggerAt();
    if (!this.armed || now < next) return undefined;
    if (next === -Infinity) return this.fire("accept");
    if (now >= this.wakeAt) return this.fire("deadline");
    for (const peer of this.peers.values()) {
      const t = peer.trigger;
      if (
        t?.silenceMs !== undefined &&
        peer.lastAccepted !== undefined &&
        peer.lastAccepted + t.silenceMs <= now
      )
        return this.fire("silence");
    }
    return this.fire("confirm");
  }

  private fire(reason: WakeReason): WakeReason {
    this.armed = false;
    this.wakes++;
    return reason;
  }

  /** Everything since the previous drain, in order. */
  drain(): Drained {
    const out = this.out;
    this.out = PumpCore.empty();
    this.contentFired = false;
    this.queueFired = false;
    for (const peer of this.peers.values()) peer.acceptedSinceDrain = false;
    return out;
  }

  /** What the pump knows of a peer (tests, /state). */
  peer(name: string): Readonly<Pick<PeerEntry, "lastAccepted" | "confirmedAt">> | undefined {
    return this.peers.get(name);
  }
}
