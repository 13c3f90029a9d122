import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../src/common/wait.js";
import { type Heartbeat } from "../../src/election/heartbeat.js";
import { createSocket } from "node:dgram";
import { HeartbeatTransport } from "../../src/speaker/heartbeat-transport.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

const key = Buffer.from("heartbeat-transport test key");
interface Node {
  transport: HeartbeatTransport;
  port: number;
  boot: string;
  heard: { hb: Heartbeat; at: number }[];
  sent: { seq: number; at: number }[];
  dropped: string[];
  sendErrors: string[];
}
const started: HeartbeatTransport[] = [];

function node(address: string, boot: string): Node {
  const heard: Node["heard"] = [];
  const sent: Node["sent"] = [];
  const dropped: string[] = [];
  const sendErrors: string[] = [];
  for (let port = 30000 + Math.floor(Math.random() * 20000); ; port++) {
    const transport = new HeartbeatTransport({
      port,
      key,
      boot,
      intervalMs: 40,
      freshnessMs: 1000,
      watchdogMs: 60_000,
      onSent: (seq, at) => sent.push({ seq, at }),
      // A copy: a repeat overwrites the sequence, echo and ages of the heartbeat it repeats.
      onHeartbeat: (h, at) => (heard.push({ hb: structuredClone(h), at }), "accepted"),
      onDropped: (reason) => dropped.push(reason),
      onSendError: (code) => sendErrors.push(code),
      onWake: () => {},
      log: pino({ level: "silent" }),
    });
    try {
      transport.start(address);
    } catch {
      continue; // port taken: the next one
    }
    started.push(transport);
    return { transport, port, boot, heard, sent, dropped, sendErrors };
  }
}

afterEach(() => {
  for (const t of started.splice(0)) t.close();
});

describe("the heartbeat transport on the pump", () => {
  it("sends the published heartbeat every round, numbered and dated as the drain reports them", async () => {
    const a = node("127.0.0.1", "00000000000000aa");
    const b = node("127.0.0.1", "00000000000000bb");
    a.transport.setPeer("b", `127.0.0.1:${b.port}`);
    b.transport.setPeer("a", `127.0.0.1:${a.port}`);
    const paged = a.transport.publish(
      (peer) => emptyHeartbeat("a", { boot: a.boot, timeoutMs: peer === "b" ? 250 : 0 }),
      performance.now(),
    );
    expect(paged).toBe(false);
    a.transport.arm({ wakeAt: Infinity, peers: [] });
    await waitFor("b hears three rounds", () => (b.transport.drain(), b.heard.length >= 3), 5000, 5);
    a.transport.drain();
    const seqs = b.heard.map((h) => h.hb.seq);
    expect(seqs.slice(1)).toEqual(seqs.slice(0, -1).map((s) => s + 1));
    expect(b.heard[0]!.hb.timeoutMs).toBe(250);
    for (const h of b.heard) {
      const round = a.sent.find((s) => s.seq === h.hb.seq);
      expect(round).toBeDefined();
      expect(h.at).toBeGreaterThanOrEqual(round!.at - 1);
      expect(h.at - round!.at).toBeLessThan(1000);
    }
    expect(b.dropped).toEqual([]);
  });

  it("drops a packet from an address other than the one its sender's Lease declares, and oversized ones", async () => {
    const a = node("127.0.0.1", "00000000000000aa");
    const b = node("127.0.0.2", "00000000000000bb");
    a.transport.setPeer("b", `127.0.0.2:${b.port}`);
    b.transport.setPeer("a", `127.0.0.3:${a.port}`); // a's Lease says 127.0.0.3
    a.transport.sendRound(() => emptyHeartbeat("a"), ["b"]);
    const raw = createSocket("udp4");
    await new Promise<void>((done) => raw.send(Buffer.alloc(4000), b.port, "127.0.0.2", () => done()));
    raw.close();
    await waitFor("two drops", () => (b.transport.drain(), b.dropped.length === 2), 5000, 5);
    expect(b.dropped.sort()).toEqual(["address-mismatch", "oversized"]);
    expect(b.heard).toEqual([]);
  });

  it("counts a packet the kernel refuses and still sends the rest of the round", async () => {
    const a = node("127.0.0.1", "00000000000000aa");
    const b = node("127.0.0.1", "00000000000000bb");
    a.transport.setPeer("gone", "198.51.100.77:7946"); // no route from loopback-only bind: refused
    a.transport.setPeer("b", `127.0.0.1:${b.port}`);
    a.transport.sendRound(() => emptyHeartbeat("a"), ["gone", "b"]);
    await waitFor("b hears a", () => (b.transport.drain(), b.heard.length === 1), 5000, 5);
    expect(a.sendErrors).toEqual(["EINVAL"]);
  });
});
