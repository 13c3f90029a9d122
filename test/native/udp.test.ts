import { afterEach, describe, expect, it } from "vitest";
import { PolledUdpSocket } from "../../src/native/udp.js";
import { waitFor } from "../../src/common/wait.js";

// Loopback only, on free ports found by trying.
const open: PolledUdpSocket[] = [];
function bound(family: 4 | 6, address: string): { socket: PolledUdpSocket; port: number } {
  for (let port = 20000 + Math.floor(Math.random() * 20000); ; port++) {
    try {
      const socket = new PolledUdpSocket(family, address, port);
      open.push(socket);
      return { socket, port };
    } catch (err) {
      if ((err as { errno?: number }).errno !== 98) throw err; // EADDRINUSE: try the next one
    }
  }
}

afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe("the polled heartbeat socket", () => {
  it("delivers a round sent in one call, in order, with the sender and an arrival age", async () => {
    const a = bound(4, "127.0.0.1");
    const b = bound(4, "127.0.0.1");
    const errors = a.socket.send([
      { data: Buffer.from("one"), address: "127.0.0.1", port: b.port },
      { data: Buffer.from("two"), address: "127.0.0.1", port: b.port },
    ]);
    expect(errors).toEqual([]);
    let got: ReturnType<PolledUdpSocket["receive"]> = [];
    await waitFor("two datagrams", () => (got = got.concat(b.socket.receive())).length === 2, 5000);
    expect(got.map((d) => d.data.toString())).toEqual(["one", "two"]);
    expect(got[0]).toMatchObject({ address: "127.0.0.1", port: a.port, truncated: false });
    expect(got[0]!.ageMs).toBeGreaterThanOrEqual(0);
    expect(got[0]!.ageMs).toBeLessThan(5000);
    expect(b.socket.receive()).toEqual([]); // drained: nothing twice
  });

  it("reports an oversized datagram as truncated and an unusable address without stopping the round", async () => {
    const a = bound(4, "127.0.0.1");
    const b = bound(4, "127.0.0.1");
    const errors = a.socket.send([
      { data: Buffer.alloc(3000, 1), address: "127.0.0.1", port: b.port },
      { data: Buffer.from("x"), address: "not-an-address", port: b.port },
      { data: Buffer.from("after"), address: "127.0.0.1", port: b.port },
    ]);
    expect(errors).toEqual([{ index: 1, errno: 22, code: "EINVAL" }]);
    let got: ReturnType<PolledUdpSocket["receive"]> = [];
    await waitFor("two datagrams", () => (got = got.concat(b.socket.receive())).length === 2, 5000);
    expect(got[0]!.truncated).toBe(true);
    expect(got[0]!.data.length).toBe(2048);
    expect(got[1]!.data.toString()).toBe("after");
  });

  it("reads at most `max` per call and keeps the rest queued", async () => {
    const a = bound(4, "127.0.0.1");
    const b = bound(4, "127.0.0.1");
    const packets = Array.from({ length: 150 }, (_, i) => ({
      data: Buffer.from(String(i)),
      address: "127.0.0.1",
      port: b.port,
    }));
    expect(a.socket.send(packets)).toEqual([]);
    let first: ReturnType<PolledUdpSocket["receive"]> = [];
    await waitFor(
      "100 queued",
      () => (first = first.concat(b.socket.receive(100 - first.length))).length === 100,
      5000,
    );
    const rest = b.socket.receive();
    expect(first.concat(rest).map((d) => Number(d.data.toString()))).toEqual(packets.map((_, i) => i));
  });

  it("works over IPv6 and refuses a bind address of the other family", async () => {
    const a = bound(6, "::1");
    expect(a.socket.send([{ data: Buffer.from("v6"), address: "::1", port: a.port }])).toEqual([]);
    let got: ReturnType<PolledUdpSocket["receive"]> = [];
    await waitFor("own datagram", () => (got = got.concat(a.socket.receive())).length === 1, 5000);
    expect(got[0]).toMatchObject({ address: "::1", port: a.port });
    expect(() => new PolledUdpSocket(4, "::1", a.port)).toThrow(/invalid bind address/);
  });

  it("binds beside a lingering socket of a restarted speaker (SO_REUSEADDR) and refuses an address this host lacks", () => {
    const a = bound(4, "127.0.0.1");
    // Both sockets set SO_REUSEADDR, as dgram's reuseAddr did: a restart never waits for the old one.
    const again = new PolledUdpSocket(4, "127.0.0.1", a.port);
    open.push(again);
    expect(() => new PolledUdpSocket(4, "198.51.100.254", a.port)).toThrow(/bind/);
  });
});
