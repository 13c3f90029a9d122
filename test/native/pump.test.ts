import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { sleep, waitFor } from "../../src/common/wait.js";
import {
  decodeHeartbeat,
  encodeHeartbeat,
  encodeHeartbeatBody,
  nameHash,
  type Heartbeat,
} from "../../src/election/heartbeat.js";
import { HeartbeatPump, nativeNowMs, type PumpDatagram, type PumpDrain } from "../../src/native/pump.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

// Loopback only (127.0.0.0/8, ::1), on free ports found by trying.
const key = Buffer.from("the pump test's shared key");
const INTERVAL = 20;
const UNRELATED = 0x12345678;
const boots: Record<string, string> = { a: "aaaaaaaaaaaaaaaa", b: "bbbbbbbbbbbbbbbb", c: "cccccccccccccccc" };

/** A pump and everything it drained and every wake, for assertions. */
interface Node {
  name: string;
  pump: HeartbeatPump;
  port: number;
  address: string;
  sent: PumpDrain["sent"];
  datagrams: PumpDatagram[];
  watchdogStops: number;
  wakes: number[];
  onWake?: () => void;
  drain(): PumpDrain;
}

const open: { close(): void }[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

function freePort<T>(make: (port: number) => T): { value: T; port: number } {
  for (let port = 20000 + Math.floor(Math.random() * 20000); ; port++) {
    try {
      return { value: make(port), port };
    } catch (err) {
      if ((err as { errno?: number }).errno !== 98) throw err; // EADDRINUSE: try the next one
    }
  }
}

function pump(
  name: string,
  options: { family?: 4 | 6; address?: string; watchdogMs?: number; key?: Buffer } = {},
): Node {
  const address = options.address ?? (options.family === 6 ? "::1" : "127.0.0.1");
  const node = { name, address, sent: [], datagrams: [], watchdogStops: 0, wakes: [] } as unknown as Node;
  const { value, port } = freePort(
    (port) =>
      new HeartbeatPump({
        family: options.family ?? 4,
        bindAddress: address,
        port,
        key: options.key ?? key,
        boot: boots[name] ?? "0123456789abcdef",
        firstSeq: 100,
        intervalMs: INTERVAL,
        freshnessMs: 1000,
        watchdogMs: options.watchdogMs ?? 1e9,
        onWake: () => {
          node.wakes.push(performance.now());
          node.onWake?.();
        },
      }),
  );
  node.pump = value;
  node.port = port;
  node.drain = () => {
    const d = value.drain();
    node.sent.push(...d.sent);
    node.datagrams.push(...d.datagrams);
    node.watchdogStops += d.watchdogStops;
    return d;
  };
  open.push(value);
  return node;
}

function template(from: Node, overrides: Partial<Heartbeat> = {}): Buffer {
  return encodeHeartbeatBody(emptyHeartbeat(from.name, { boot: boots[from.name]!, ...overrides }));
}

/** from sends its heartbeats to `to` (and knows where to hear it). */
function link(from: Node, to: Node, overrides: Partial<Heartbeat> = {}): void {
  from.pump.setPeer(to.name, nameHash(to.name), to.address, to.port);
  from.pump.setTemplate(to.name, template(from, overrides), performance.now());
}

function decoded(node: Node, from: string): Heartbeat[] {
  return node.datagrams.flatMap((d) => {
    const r = decodeHeartbeat(d.data, key);
    return r.ok && r.heartbeat.from === from ? [r.heartbeat] : [];
  });
}

/** Drains `node` until `probe` holds on what it has drained. */
function drainUntil(what: string, node: Node, probe: () => boolean, timeoutMs = 5000): Promise<true> {
  return waitFor(what, () => (node.drain(), probe()), timeoutMs, 5);
}

describe("the native heartbeat pump", () => {
  it("runs on the same clock as performance.now() once converted", () => {
    const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    expect(Math.abs(nativeNowMs() - (performance.now() + offset))).toBeLessThan(1);
  });

  for (const family of [4, 6] as const) {
    it(`exchanges signed heartbeats with sequence, echo and ages patched (IPv${family})`, async () => {
      const a = pump("a", { family });
      const b = pump("b", { family });
      const builtAt = performance.now();
      // a reports b (never heard yet) and an unrelated member last heard 100 ms before builtAt.
      const peers = [
        { hash: nameHash("b"), ageMs: 65535, direct: false, alive: false, eligible: false, leaving: false },
        { hash: UNRELATED, ageMs: 100, direct: true, alive: true, eligible: true, leaving: false },
      ];
      a.pump.setPeer("b", nameHash("b"), b.address, b.port);
      a.pump.setTemplate(
        "b",
        template(a, { peers, seq: 1, echo: { boot: "ffffffffffffffff", seq: 9 } }),
        builtAt,
      );
      link(b, a);
      await drainUntil("30 heartbeats from a at b", b, () => decoded(b, "a").length >= 30);
      a.drain();
      const got = decoded(b, "a");
      // Every round one more, from firstSeq, in order (loopback loses nothing).
      expect(got.map((h) => h.seq)).toEqual(got.map((_, i) => 100 + i));
      expect(got.every((h) => h.boot === boots.a && h.timeoutMs === 200 && h.ready)).toBe(true);
      // The echo is b's latest sequence a had received when it sent (the one before: a read racing a round).
      const fromB = decoded(a, "b");
      const bAtA = a.datagrams.map((d, i) => ({ seq: fromB[i]!.seq, at: d.arrivedAt }));
      const sentAt = (seq: number) => a.sent.find((s) => s.seq === seq)!.at;
      for (const h of got.slice(5)) {
        const latest = Math.max(...bAtA.filter((x) => x.at <= sentAt(h.seq) + 0.5).map((x) => x.seq));
        expect(h.echo?.boot).toBe(boots.b);
        expect(h.echo!.seq).toBeLessThanOrEqual(latest);
        expect(h.echo!.seq).toBeGreaterThanOrEqual(latest - 2);
      }
      // b's age: 65535 until a accepted b, then the time since; the unrelated one grows from 100.
      const age = (h: Heartbeat, hash: number) => h.peers.find((p) => p.hash === hash)!.ageMs;
      expect(age(got[0]!, nameHash("b"))).toBe(65535);
      // (A loaded machine delays some rounds: the smallest of the last ten shows the patching.)
      expect(Math.min(...got.slice(-10).map((h) => age(h, nameHash("b"))))).toBeLessThan(3 * INTERVAL);
      for (const h of got) {
        expect(Math.abs(age(h, UNRELATED) - (100 + Math.round(sentAt(h.seq) - builtAt)))).toBeLessThanOrEqual(
          1,
        );
      }
      // The drained send times are when the packets arrived, within a few ms (nine in ten: a loaded
      // machine may hold the thread between the round's time and its sendmmsg).
      const delays = b.datagrams.map((d, i) => d.arrivedAt - sentAt(got[i]!.seq)).sort((x, y) => x - y);
      expect(delays[0]!).toBeGreaterThan(-0.5);
      expect(delays[Math.floor(delays.length * 0.9)]!).toBeLessThan(5);
      expect(b.datagrams[0]).toMatchObject({ address: a.address, port: a.port });
    });
  }

  it("queues garbage, a wrong key and a stranger's address but accepts none of them", async () => {
    const a = pump("a");
    // A "b" with another key, at the address and port a knows b by.
    const wrongKey = pump("b", { key: Buffer.from("not the key") });
    link(a, wrongKey);
    link(wrongKey, a);
    a.pump.arm({ peers: [{ name: "b", wakeOnAccept: true }] });
    // A pump without templates only sends what it is given (manual mode): a stranger's socket.
    const stranger = pump("stranger", { address: "127.0.0.2" }).pump;
    const hb = emptyHeartbeat("b", { boot: boots.b!, seq: 7, echo: { boot: boots.a!, seq: 100 } });
    stranger.send([
      { data: Buffer.from("FIP2 but nothing else"), address: a.address, port: a.port },
      { data: encodeHeartbeat(hb, key), address: a.address, port: a.port },
    ]);
    await drainUntil("a's queue", a, () => a.datagrams.length >= 10);
    wrongKey.pump.close();
    // A wake is queued under the lock the datagram was processed under: two loop turns deliver it.
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(a.wakes).toEqual([]);
    // The same heartbeats signed with the key, from where a knows b: woken (first content, accepted).
    const b = pump("b");
    link(a, b);
    link(b, a);
    await waitFor("a wake", () => a.wakes.length > 0, 5000, 5);
  });

  it("wakes on a change of content, never on sequence, echo or ages alone", async () => {
    const a = pump("a");
    const b = pump("b");
    link(a, b);
    const peers = [{ hash: UNRELATED, ageMs: 10, direct: true, alive: true, eligible: true, leaving: false }];
    link(b, a, { peers });
    a.onWake = () => {
      a.drain();
      a.pump.arm({ peers: [] });
    };
    a.pump.arm({ peers: [] });
    const fromB = () => decoded(a, "b").length;
    await waitFor("the first content wake", () => a.wakes.length === 1, 5000, 5);
    let seen = fromB();
    await drainUntil("10 more from b", a, () => fromB() >= seen + 10);
    // A template differing only in fields the pump patches: same content.
    b.pump.setTemplate(
      "a",
      template(b, { peers: [{ ...peers[0]!, ageMs: 999 }], seq: 77, echo: { boot: boots.a!, seq: 3 } }),
      performance.now(),
    );
    seen = fromB();
    await drainUntil("10 more from b", a, () => fromB() >= seen + 10);
    expect(a.wakes.length).toBe(1);
    b.pump.setTemplate("a", template(b, { peers, timeoutMs: 300 }), performance.now());
    await waitFor("the second content wake", () => a.wakes.length === 2, 5000, 5);
    seen = fromB();
    await drainUntil("10 more from b", a, () => fromB() >= seen + 10);
    expect(a.wakes.length).toBe(2);
  });

  it("wakes once a peer falls silent for silenceMs, and on its return with wakeOnAccept", async () => {
    const a = pump("a");
    const b = pump("b");
    link(a, b);
    link(b, a);
    const silenceMs = 100;
    const lastFromB = () => Math.max(-Infinity, ...a.datagrams.map((d) => d.arrivedAt));
    const silentWakes: { at: number; last: number }[] = [];
    a.onWake = () => {
      a.drain();
      const silent = performance.now() - lastFromB() >= silenceMs;
      if (silent) silentWakes.push({ at: performance.now(), last: lastFromB() });
      a.pump.arm({ peers: [silent ? { name: "b", wakeOnAccept: true } : { name: "b", silenceMs }] });
    };
    a.pump.arm({ peers: [{ name: "b", silenceMs }] });
    await drainUntil("b heard for 200 ms", a, () => decoded(a, "b").length >= 10);
    b.pump.setTemplate("a", undefined, 0);
    // The wake for b's final silence (on a loaded machine it may come before the stop was seen).
    const { at, last } = await waitFor(
      "the silence wake",
      () => (a.drain(), silentWakes.find((w) => w.last === lastFromB())),
      5000,
      5,
    );
    expect(at - last).toBeGreaterThanOrEqual(silenceMs);
    expect(at - last).toBeLessThan(silenceMs + 200);
    const wakes = a.wakes.length;
    link(b, a);
    await waitFor("the wake on b's return", () => a.wakes.length > wakes, 5000, 5);
  });

  it("wakes when the peer's latest confirmation of our rounds is confirmMs old", async () => {
    const a = pump("a");
    const b = pump("b");
    link(a, b);
    link(b, a);
    const confirmMs = 150;
    let stoppedAt = Infinity;
    const late: number[] = [];
    a.onWake = () => {
      a.drain();
      if (performance.now() > stoppedAt) late.push(performance.now());
      a.pump.arm({ peers: late.length > 0 ? [] : [{ name: "b", confirmMs }] });
    };
    a.pump.arm({ peers: [{ name: "b", confirmMs }] });
    await drainUntil("b heard for 200 ms", a, () => decoded(a, "b").length >= 10);
    stoppedAt = performance.now();
    b.pump.setTemplate("a", undefined, 0);
    await waitFor("the confirmation wake", () => late.length > 0, 5000, 5);
    // The round b's last heartbeat echoed: sent confirmMs before the wake.
    a.drain();
    const echoed = decoded(a, "b").at(-1)!.echo!.seq;
    const confirmedAt = a.sent.find((s) => s.seq === echoed)!.at;
    expect(late[0]! - confirmedAt).toBeGreaterThanOrEqual(confirmMs);
    expect(late[0]! - confirmedAt).toBeLessThan(confirmMs + 200);
  });

  it("reports how long the whole process stood still (SIGSTOP)", async () => {
    const addon = path.resolve("native/build/Release/floatip_pump.node");
    const script = `
      const { Pump } = require(${JSON.stringify(addon)});
      const port = 20000 + Math.floor(Math.random() * 20000);
      const p = new Pump(4, "127.0.0.1", port, Buffer.from("k"), Buffer.alloc(8, 1), 1, 50, 1000, 1e9, () => {});
      process.stdout.write("ready\\n");
      setInterval(() => {
        const { stalledMs } = p.drain();
        if (stalledMs > 0) process.stdout.write(stalledMs + "\\n");
      }, 5);`;
    const child = spawn(process.execPath, ["-e", script]);
    open.push({ close: () => child.kill("SIGKILL") });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await waitFor("the child's pump", () => out.startsWith("ready\n"), 10_000, 5);
    child.kill("SIGSTOP");
    await sleep(300); // the fault: the process stands still this long
    child.kill("SIGCONT");
    // (A loaded machine may make a round late by more than an interval too: those are shorter.)
    const stall = await waitFor(
      "the stall reported",
      () =>
        out
          .split("\n")
          .slice(1)
          .map(Number)
          .find((ms) => ms > 250),
      10_000,
      5,
    );
    expect(stall).toBeLessThan(2000);
  });

  it("wakes once when the queue is half full, and keeps at most 4,096", async () => {
    const a = pump("a");
    const flood = pump("c");
    a.pump.arm({ peers: [] }); // no trigger but the queue's; the wake neither drains nor arms
    const packets = Array.from({ length: 256 }, () => ({
      data: Buffer.from("x"),
      address: a.address,
      port: a.port,
    }));
    let sent = 0;
    for (; sent < 6000; sent += packets.length) {
      expect(flood.pump.send(packets)).toEqual([]);
      await new Promise((resolve) => setImmediate(resolve)); // lets the wake in
    }
    await waitFor("the wake", () => a.wakes.length > 0, 5000, 5);
    const d = a.pump.drain();
    expect(a.wakes.length).toBe(1);
    expect(d.datagrams.length).toBeGreaterThanOrEqual(2048);
    expect(d.datagrams.length).toBeLessThanOrEqual(4096);
    expect(d.datagrams.length + d.overflow).toBeLessThanOrEqual(sent);
  });

  it("wakes at wakeAt", async () => {
    const a = pump("a");
    const wakeAt = performance.now() + 50;
    a.pump.arm({ wakeAt, peers: [] });
    await waitFor("the wake", () => a.wakes.length === 1, 5000, 5);
    expect(a.wakes[0]!).toBeGreaterThanOrEqual(wakeAt);
    expect(a.wakes[0]! - wakeAt).toBeLessThan(250); // (late only by a loaded machine's scheduling)
  });

  it("stops sending when not armed for watchdogMs and resumes on arm()", async () => {
    const a = pump("a", { watchdogMs: 150 });
    const b = pump("b");
    link(a, b);
    await drainUntil("the watchdog stop", a, () => a.watchdogStops >= 1); // rounds not sent
    const stoppedAt = performance.now();
    b.drain(); // loopback delivers as it sends: all a sent before the stop is there
    const before = decoded(b, "a");
    expect(before.length).toBeGreaterThan(3);
    expect(before.length).toBeLessThanOrEqual(150 / INTERVAL + 2);
    const armedAt = performance.now();
    a.pump.arm({ peers: [] });
    await drainUntil("heartbeats again", b, () => decoded(b, "a").length > before.length);
    a.drain();
    expect(a.sent.filter((s) => s.at > stoppedAt && s.at < armedAt)).toEqual([]);
    expect(decoded(b, "a")[before.length]!.seq).toBe(before.at(-1)!.seq + 1);
  });

  it("sends whole packets in manual mode and reports a refused one", async () => {
    const a = pump("a");
    const b = pump("b", { family: 6 });
    const c = pump("c");
    const errors = a.pump.send([
      { data: Buffer.from("one"), address: c.address, port: c.port },
      { data: Buffer.from("x"), address: "not-an-address", port: c.port },
      { data: Buffer.from("two"), address: c.address, port: c.port },
    ]);
    expect(errors).toEqual([{ index: 1, errno: 22, code: "EINVAL" }]);
    await drainUntil("two datagrams", c, () => c.datagrams.length === 2);
    expect(c.datagrams.map((d) => d.data.toString())).toEqual(["one", "two"]);
    expect(b.pump.send([{ data: Buffer.from("v6"), address: "::1", port: b.port }])).toEqual([]);
    await drainUntil("own datagram", b, () => b.datagrams.length === 1);
    expect(a.drain().sent).toEqual([]); // no templates: no rounds
  });

  it("closes more than once, and never keeps the process alive or crashes it at exit", async () => {
    const a = pump("a");
    a.pump.close();
    a.pump.close();
    const addon = path.resolve("native/build/Release/floatip_pump.node");
    // A pump sending to itself (its first heartbeat is news: a wake) left running at the natural
    // end, then the same ended by process.exit() in the wake, and closed in it.
    const script = (end: string) => `
      const { Pump } = require(${JSON.stringify(addon)});
      const port = 20000 + Math.floor(Math.random() * 20000);
      const p = new Pump(4, "127.0.0.1", port, Buffer.from("k"), Buffer.alloc(8, 1), 1, 5, 1000, 1e9, () => {
        process.stdout.write("woke\\n");
        p.arm(Infinity, []);
        ${end}
      });
      p.setPeer("A", 1, "127.0.0.1", port);
      p.setTemplate("A", Buffer.from([1, 65, ...Array(37).fill(0)]), 0);
      p.arm(Infinity, []);
      setTimeout(() => {}, 200);`;
    for (const end of ["", "process.exit(0);", "p.close(); p.close();"]) {
      const { stdout } = await promisify(execFile)(process.execPath, ["-e", script(end)], {
        timeout: 10_000,
      });
      expect(stdout).toBe("woke\n");
    }
  });
});
