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
