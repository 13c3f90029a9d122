import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../src/common/wait.js";
import { type Heartbeat } from "../../src/election/heartbeat.js";
import { PolledUdpSocket } from "../../src/native/udp.js";
import { HeartbeatTransport } from "../../src/speaker/heartbeat-transport.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

const key = Buffer.from("heartbeat-transport test key");
interface Node {
  transport: HeartbeatTransport;
  port: number;
  heard: { hb: Heartbeat; at: number }[];
  dropped: string[];
  sendErrors: string[];
}
const started: HeartbeatTransport[] = [];
let clock = 1_000_000;

function node(address: string): Node {
  const heard: Node["heard"] = [];
  const dropped: string[] = [];
  const sendErrors: string[] = [];
  for (let port = 30000 + Math.floor(Math.random() * 20000); ; port++) {
    const transport = new HeartbeatTransport({
      port,
      key,
      onHeartbeat: (h, at) => (heard.push({ hb: h, at }), "accepted"),
      onDropped: (reason) => dropped.push(reason),
      onSendError: (code) => sendErrors.push(code),
      now: () => clock,
      log: pino({ level: "silent" }),
    });
    try {
      transport.start(address);
    } catch {
      continue; // port taken: the next one
    }
    started.push(transport);
    return { transport, port, heard, dropped, sendErrors };
  }
}

afterEach(() => {
  for (const t of started.splice(0)) t.close();
});

describe("the heartbeat transport, drained once per tick", () => {
  it("delivers a round at the next poll, dated no earlier than the previous poll", async () => {
    const a = node("127.0.0.1");
    const b = node("127.0.0.1");
    a.transport.setPeer("b", `127.0.0.1:${b.port}`);
    b.transport.setPeer("a", `127.0.0.1:${a.port}`);
    clock += 40;
    b.transport.poll(); // the previous poll at clock
    const previous = clock;
    a.transport.sendRound(() => emptyHeartbeat("a"));
    clock += 40;
    await waitFor("b hears a", () => (b.transport.poll(), b.heard.length === 1), 5000, 5);
    expect(b.heard[0]!.hb.from).toBe("a");
    expect(b.heard[0]!.at).toBeGreaterThanOrEqual(previous);
    expect(b.heard[0]!.at).toBeLessThanOrEqual(clock);
    expect(b.dropped).toEqual([]);
  });

  it("drops a packet from an address other than the one its sender's Lease declares, and oversized ones", async () => {
    const a = node("127.0.0.1");
    const b = node("127.0.0.2");
    a.transport.setPeer("b", `127.0.0.2:${b.port}`);
    b.transport.setPeer("a", `127.0.0.3:${a.port}`); // a's Lease says 127.0.0.3
    a.transport.sendRound(() => emptyHeartbeat("a"));
    const raw = new PolledUdpSocket(4, "127.0.0.1", 0);
    raw.send([{ data: Buffer.alloc(4000), address: "127.0.0.2", port: b.port }]);
    raw.close();
    await waitFor("two drops", () => (b.transport.poll(), b.dropped.length === 2), 5000, 5);
    expect(b.dropped.sort()).toEqual(["address-mismatch", "oversized"]);
    expect(b.heard).toEqual([]);
  });

  it("counts a packet the kernel refuses and still sends the rest of the round", async () => {
    const a = node("127.0.0.1");
    const b = node("127.0.0.1");
    a.transport.setPeer("gone", "198.51.100.77:7946"); // no route from loopback-only bind: refused
    a.transport.setPeer("b", `127.0.0.1:${b.port}`);
    a.transport.sendRound(() => emptyHeartbeat("a"));
    await waitFor("b hears a", () => (b.transport.poll(), b.heard.length === 1), 5000, 5);
    expect(a.sendErrors).toEqual(["EINVAL"]);
  });
});
