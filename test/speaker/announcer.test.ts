// The announcer's gratuitous schedule with a recording socket: which frames go out when, for IPs
// taken together, dropped meanwhile or announced again.
import { EventEmitter } from "node:events";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RawSocketStats } from "../../src/native/rawsocket.js";
import { Announcer, type AnswerSocket, type Link } from "../../src/speaker/announcer.js";
import { SpeakerMetrics } from "../../src/speaker/metrics.js";

const SCHEDULE = [0, 50, 200];
const STATS: RawSocketStats = { rateLimited: 0, queueDrops: 0, handled: 0 } as RawSocketStats;

/** A link whose sockets record the target address of every frame sent (IPv4 ARP or IPv6 NA). */
function recordingLink() {
  const sent: { at: number; ip: string }[] = [];
  const open = () =>
    Object.assign(new EventEmitter(), {
      send: (frame: Buffer) => {
        const ipv6 = frame.readUInt16BE(12) === 0x86dd;
        const ip = ipv6 ? frameTarget6(frame) : [...frame.subarray(38, 42)].join(".");
        sent.push({ at: Date.now(), ip });
        return frame.length;
      },
      setFilter: () => {},
      stats: () => STATS,
      close: () => {},
    }) as unknown as AnswerSocket;
  const link: Link = { open, mac: () => Buffer.from([2, 0, 0, 0, 0, 1]) };
  return { link, sent, count: (ip: string) => sent.filter((s) => s.ip === ip).length };
}

/** The NA's target address, in the canonical short form the tests use (2001:db8::N). */
function frameTarget6(frame: Buffer): string {
  const last = frame.readUInt16BE(14 + 40 + 8 + 14);
  return `2001:db8::${last.toString(16)}`;
}

/** An announcer on a recording link, under fake timers (the schedule's slots). */
function announcerOnFakeTimers() {
  vi.useFakeTimers();
  const r = recordingLink();
  const a = new Announcer(
    pino({ level: "silent" }),
    new SpeakerMetrics(),
    SCHEDULE,
    () => {},
    undefined,
    r.link,
  );
  return { r, a };
}

describe("Announcer: gratuitous announcements", () => {
  afterEach(() => vi.useRealTimers());

  it("announces IPs taken in one step on one schedule, every slot for each IP (ARP request and reply, NA)", async () => {
    const { r, a } = announcerOnFakeTimers();
    const ips = ["198.51.100.10", "198.51.100.11", "2001:db8::12"];
    for (const ip of ips) a.set(ip, ["eth0"]);
    expect(ips.map(r.count)).toEqual([2, 2, 1]); // the first slot at once
    expect(vi.getTimerCount()).toBe(2); // one timer per later slot, not per IP
    await vi.advanceTimersByTimeAsync(200);
    expect(ips.map(r.count)).toEqual([6, 6, 3]);
    expect(vi.getTimerCount()).toBe(0);
    a.close();
  });

  it("stops announcing a dropped IP, restarts the schedule of one announced again, keeps the others", async () => {
    const { r, a } = announcerOnFakeTimers();
    const ips = ["198.51.100.10", "198.51.100.11", "198.51.100.12"];
    for (const ip of ips) a.set(ip, ["eth0"]);
    await vi.advanceTimersByTimeAsync(60);
    a.remove("198.51.100.10");
    a.reannounce("198.51.100.11"); // a conflict: its schedule starts over
    expect(ips.map(r.count)).toEqual([4, 6, 4]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(ips.map(r.count)).toEqual([4, 10, 6]);
    expect(vi.getTimerCount()).toBe(0);
    a.close();
  });

  it("leaves no timer behind when every IP of a wave is dropped, or on close", async () => {
    const { a } = announcerOnFakeTimers();
    a.set("198.51.100.10", ["eth0"]);
    a.set("198.51.100.11", ["eth0"]);
    a.remove("198.51.100.10");
    a.remove("198.51.100.11");
    expect(vi.getTimerCount()).toBe(0);
    a.set("198.51.100.12", ["eth0"]);
    await vi.advanceTimersByTimeAsync(0);
    a.set("198.51.100.13", ["eth0"]); // a later step: a wave of its own
    expect(vi.getTimerCount()).toBe(4);
    a.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});

/** A link that records each socket's interface, filters (by length) and whether it is closed. */
function portLink(failing: ReadonlySet<string> = new Set()) {
  const sockets: { name: string; filters: number[]; closed: boolean; socket: EventEmitter }[] = [];
  const open = (name: string) => {
    if (failing.has(name)) throw new Error(`no such device: ${name}`);
    const entry = { name, filters: [] as number[], closed: false, socket: new EventEmitter() };
    sockets.push(entry);
    return Object.assign(entry.socket, {
      send: (frame: Buffer) => frame.length,
      setFilter: (program: readonly unknown[]) => entry.filters.push(program.length),
      stats: () => STATS,
      close: () => (entry.closed = true),
    }) as unknown as AnswerSocket;
  };
  const link: Link = { open, mac: () => Buffer.from([2, 0, 0, 0, 0, 1]) };
  const open_ = (name?: string) =>
    sockets.filter((s) => !s.closed && (name === undefined || s.name === name));
  return { link, sockets, open: open_ };
}

describe("Announcer: standby ports (opened ahead of a takeover)", () => {
  afterEach(() => vi.useRealTimers());

  function announcer(link: Link, warnings: unknown[] = []) {
    vi.useFakeTimers();
    const log = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    return new Announcer(log, new SpeakerMetrics(), SCHEDULE, () => {}, undefined, link);
  }

  it("opens a port that reads nothing; a takeover there opens none and swaps the filter; the last IP's withdrawal keeps it open", async () => {
    const l = portLink();
    const a = announcer(l.link);
    a.standBy(["eth0", "eth1"]);
    await vi.advanceTimersByTimeAsync(0);
    expect(l.open().map((s) => s.name)).toEqual(["eth0", "eth1"]);
    expect(l.sockets.map((s) => s.filters)).toEqual([[1], [1]]); // one instruction: drop every frame
    a.set("198.51.100.10", ["eth0"]);
    await vi.advanceTimersByTimeAsync(0);
    expect(l.sockets).toHaveLength(2);
    expect(l.sockets[0]!.filters.at(-1)).toBeGreaterThan(1);
    a.remove("198.51.100.10");
    await vi.advanceTimersByTimeAsync(0);
    expect(l.open()).toHaveLength(2);
    expect(l.sockets[0]!.filters.at(-1)).toBe(1);
    a.close();
    expect(l.open()).toHaveLength(0);
  });

  it("closes an idle port whose interface leaves the list, and a busy one when its last IP goes", async () => {
    const l = portLink();
    const a = announcer(l.link);
    a.standBy(["eth0", "eth1"]);
    a.set("198.51.100.10", ["eth1"]);
    a.standBy(["eth2"]);
    expect(l.open().map((s) => s.name)).toEqual(["eth1", "eth2"]);
    a.remove("198.51.100.10");
    expect(l.open().map((s) => s.name)).toEqual(["eth2"]);
    // Without a standby list, a port lives as long as its IPs (as before standby ports).
    a.standBy([]);
    a.set("198.51.100.11", ["eth3"]);
    a.remove("198.51.100.11");
    expect(l.open()).toHaveLength(0);
    a.close();
  });

  it("does nothing for the list it already has (it is handed over at every step)", async () => {
    const l = portLink();
    const a = announcer(l.link);
    a.standBy(["eth0"]);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 5; i++) a.standBy(["eth0"]);
    await vi.advanceTimersByTimeAsync(0);
    expect(l.sockets).toHaveLength(1);
    expect(l.sockets[0]!.filters).toEqual([1]);
    a.close();
  });

  it("reports an interface it cannot open once per list, and reopens a failed port only after a delay", async () => {
    const l = portLink(new Set(["gone0"]));
    const warnings: { event?: string }[] = [];
    const a = announcer(l.link, warnings);
    a.standBy(["gone0", "eth0"]);
    a.standBy(["gone0", "eth0"]);
    expect(warnings.filter((w) => w.event === "standbyPortFailed")).toHaveLength(1);
    expect(l.open().map((s) => s.name)).toEqual(["eth0"]);
    // The socket fails (an interface going away): closed now, opened again 5 s later, not at every step.
    l.sockets[0]!.socket.emit("error", new Error("ENETDOWN"));
    expect(l.open()).toHaveLength(0);
    a.standBy(["gone0", "eth0"]);
    expect(l.open()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(5000);
    a.standBy(["gone0", "eth0"]);
    expect(l.open().map((s) => s.name)).toEqual(["eth0"]);
    a.close();
  });
});
