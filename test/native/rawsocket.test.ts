// Native raw-socket addon: unit checks in the test process, plus a two-namespace veth setup where helper
// agents (netns-agent.ts) exchange real frames. Requires the addon (npm run build:native); the namespace
// part also needs root and iproute2. Only documentation addresses (198.51.100.0/24, 2001:db8::/32) are used.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  interfaceCarrier,
  interfaceInfo,
  nativeAvailable,
  nativeLoadError,
  PacketType,
  RawSocket,
} from "../../src/native/rawsocket.js";
import type { AgentCommand } from "./netns-agent.js";
import { sleep, waitFor } from "../../src/common/wait.js";
import { respond } from "../../src/l2/responder.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "../..");
const agentScript = path.join(here, "netns-agent.ts");

function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Whether the kernel has 802.1Q interfaces (no 8021q module in some containers' kernels). */
function vlanDevices(): boolean {
  return existsSync("/proc/net/vlan");
}

// --- frame builders --------------------------------------------------------------------------------------

const mac = (s: string): Buffer => Buffer.from(s.replaceAll(":", ""), "hex");
const ipv4 = (s: string): Buffer => Buffer.from(s.split(".").map(Number));
const BROADCAST = mac("ff:ff:ff:ff:ff:ff");
const OTHER_MAC = mac("02:00:00:00:00:99"); // addressed to nobody on the link

function ether(dst: Buffer, src: Buffer, type: number, payload: Buffer): Buffer {
  const frame = Buffer.concat([dst, src, Buffer.from([type >> 8, type & 0xff]), payload]);
  return frame.length >= 60 ? frame : Buffer.concat([frame, Buffer.alloc(60 - frame.length)]); // min frame size
}

function arp(
  op: 1 | 2,
  dst: Buffer,
  src: Buffer,
  senderIp: string,
  targetMac: Buffer,
  targetIp: string,
): Buffer {
  const hdr = Buffer.from([0, 1, 0x08, 0x00, 6, 4, 0, op]);
  return ether(dst, src, 0x0806, Buffer.concat([hdr, src, ipv4(senderIp), targetMac, ipv4(targetIp)]));
}

function ipv4Udp(dst: Buffer, src: Buffer): Buffer {
  const ip = Buffer.from("450000200000000040110000", "hex"); // version/IHL, len 32, TTL 64, proto UDP
  const udp = Buffer.from("303930390000000074657374", "hex"); // port 12345 -> 12345, "test"
  return ether(dst, src, 0x0800, Buffer.concat([ip, ipv4("198.51.100.1"), ipv4("198.51.100.2"), udp]));
}

// IPv6 from 2001:db8::1 to the solicited-node group of 2001:db8::2, with next header and an 8-byte payload.
function ipv6(src: Buffer, nextHeader: number, payload: Buffer): Buffer {
  const hdr = Buffer.from([0x60, 0, 0, 0, 0, payload.length, nextHeader, 255]);
  const from = Buffer.from("20010db8000000000000000000000001", "hex");
  const to = Buffer.from("ff0200000000000000000001ff000002", "hex");
  return ether(mac("33:33:ff:00:00:02"), src, 0x86dd, Buffer.concat([hdr, from, to, payload]));
}
const icmpv6 = (src: Buffer, type: number): Buffer => ipv6(src, 58, Buffer.from([type, 0, 0, 0, 0, 0, 0, 0]));
// NS (135) or NA (136) about `target` (2001:db8::<last>): the kernel filter reads the target.
const nd = (src: Buffer, type: number, last: number): Buffer =>
  ipv6(
    src,
    58,
    Buffer.concat([
      Buffer.from([type, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(`20010db8${"0".repeat(22)}${last.toString(16).padStart(2, "0")}`, "hex"),
    ]),
  );

// --- agent: a helper process inside a namespace ----------------------------------------------------------

interface Frame {
  hex: string;
  packetType: number;
  /** The VLAN id the kernel stripped from it (PACKET_AUXDATA), when it came tagged. */
  vlan?: number;
}
type Reply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string; code?: string };
type AgentMessage =
  | { event: "ready"; loadError: string | null }
  | ({ event: "frame" } & Frame)
  | { event: "error"; message: string }
  | (Reply & { event?: undefined });
type Distribute<T> = T extends unknown ? Omit<T, "id"> : never;

class Agent {
  readonly frames: Frame[] = [];
  readonly errors: string[] = [];
  stderr = "";
  readonly exited: Promise<number | null>;
  #nextId = 1;
  #pending = new Map<number, (r: Reply) => void>();

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => proc.on("exit", (code) => resolve(code)));
  }

  static async start(prefix: string[]): Promise<Agent> {
    const [cmd, ...args] = [...prefix, process.execPath, "--import", "tsx", agentScript];
    const agent = new Agent(spawn(cmd!, args, { cwd: repoRoot }));
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: agent.proc.stdout }).on("line", (line) => {
        const msg = JSON.parse(line) as AgentMessage;
        if (msg.event === "ready") {
          if (msg.loadError) reject(new Error(msg.loadError));
          else resolve();
        } else if (msg.event === "frame") {
          const { event: _, ...frame } = msg;
          agent.frames.push(frame);
        } else if (msg.event === "error") agent.errors.push(msg.message);
        else agent.#pending.get(msg.id)?.(msg);
      });
      void agent.exited.then((code) => reject(new Error(`agent exited (${code}): ${agent.stderr}`)));
    });
    await ready;
    return agent;
  }

  async request(c: Distribute<AgentCommand>): Promise<unknown> {
    const id = this.#nextId++;
    const reply = await Promise.race([
      new Promise<Reply>((resolve) => {
        this.#pending.set(id, resolve);
        this.proc.stdin.write(JSON.stringify({ ...c, id }) + "\n");
      }),
      this.exited.then((code): never => {
        throw new Error(`agent exited (${code}) during ${c.cmd}: ${this.stderr}`);
      }),
    ]);
    this.#pending.delete(id);
    if (!reply.ok) throw Object.assign(new Error(reply.error), { code: reply.code });
    return reply.result;
  }

  /** Resolves once `count` frames arrived, then waits a little longer so stray extra frames would show up. */
  async waitForFrames(count: number, timeoutMs = 5000): Promise<Frame[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.frames.length < count && performance.now() < deadline) await sleep(20);
    await sleep(300);
    return this.frames.splice(0);
  }
}

// --- tests -----------------------------------------------------------------------------------------------

describe("native raw socket: in-process", () => {
  it("is built", () => {
    expect(nativeLoadError()).toBeUndefined();
    expect(nativeAvailable()).toBe(true);
  });

  it("interfaceInfo reports loopback", () => {
    const lo = interfaceInfo("lo");
    expect(lo).toMatchObject({ up: true, loopback: true, broadcast: false });
    expect(lo.index).toBeGreaterThan(0);
    expect(lo.mac).toHaveLength(6);
  });

  it("interfaceCarrier: loopback is up and running, a missing interface has none", () => {
    expect(interfaceCarrier("lo")).toBe(true);
    expect(interfaceCarrier(`fipnope${randomBytes(3).toString("hex")}`)).toBe(false);
    expect(() => interfaceCarrier("x".repeat(16))).toThrow(/invalid interface name/);
  });

  it("throws clear errors for a nonexistent interface", () => {
    const missing = `fipnope${randomBytes(3).toString("hex")}`;
    expect(() => interfaceInfo(missing)).toThrow(`interface "${missing}" not found`);
    expect(() => new RawSocket(missing)).toThrow(expect.objectContaining({ code: "ENODEV" }));
    expect(() => interfaceInfo("x".repeat(16))).toThrow(/invalid interface name/);
    expect(() => new RawSocket("lo", "ipv4" as "arp+ipv6")).toThrow(/protocols must be "arp\+ipv6"/);
  });

  // Releasing a packet socket waits for an RCU grace period (10-30 ms): the ring's mapping, which
  // holds the last reference, is unmapped on another thread. It must still go.
  it.skipIf(process.getuid?.() !== 0)(
    "close() leaves the ring's release to another thread, which unmaps it",
    async () => {
      const mapped = () =>
        readFileSync("/proc/self/maps", "utf8")
          .split("\n")
          .filter((l) => / socket:\[\d+\]$/.test(l)).length;
      const before = mapped();
      const socket = new RawSocket("lo");
      expect(mapped()).toBe(before + 1); // the TPACKET_V3 ring
      socket.close();
      await waitFor("the ring unmapped", () => mapped() === before, 5000, 10);
    },
  );
});

describe.skipIf(!canUseNetns())("native raw socket: between two namespaces (root)", () => {
  const prefix = `fiptest-${randomBytes(4).toString("hex")}`;
  const nsA = `${prefix}-a`;
  const nsB = `${prefix}-b`;
  const agents: Agent[] = [];
  let a: Agent;
  let b: Agent;
  let macA: Buffer;
  let macB: Buffer;

  const ip = (...args: string[]): string => execFileSync("ip", args, { encoding: "utf8" });
  const linkShow = (ns: string, dev: string) =>
    (
      JSON.parse(ip("-n", ns, "-j", "link", "show", "dev", dev)) as {
        ifindex: number;
        address: string;
        mtu: number;
      }[]
    )[0]!;

  beforeAll(async () => {
    for (const ns of [nsA, nsB]) {
      ip("netns", "add", ns);
      // No IPv6 on the test links: the kernel would otherwise send its own DAD/MLD/RS frames and blur the counts.
      ip(
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
      );
    }
    ip("-n", nsA, "link", "add", "fip0", "type", "veth", "peer", "name", "fip1", "netns", nsB);
    ip("-n", nsA, "link", "set", "fip0", "up");
    ip("-n", nsB, "link", "set", "fip1", "up");
    macA = mac(linkShow(nsA, "fip0").address);
    macB = mac(linkShow(nsB, "fip1").address);

    [a, b] = await Promise.all([
      Agent.start(["ip", "netns", "exec", nsA]),
      Agent.start(["ip", "netns", "exec", nsB]),
    ]);
    agents.push(a, b);
    await a.request({ cmd: "open", ifname: "fip0" });
    expect(await b.request({ cmd: "open", ifname: "fip1" })).toEqual({ ignoresOutgoing: true });
  });

  afterAll(async () => {
    for (const agent of agents) agent.proc.kill();
    await Promise.all(agents.map((agent) => agent.exited));
    for (const ns of [nsA, nsB]) {
      try {
        ip("netns", "del", ns); // also destroys the veth pair
      } catch {
        // never created
      }
    }
  });

  it("receives ARP and NS/NA frames from the peer and filters out everything else", async () => {
    const wanted = [
      [icmpv6(macA, 135), PacketType.Multicast], // neighbor solicitation
      [arp(1, BROADCAST, macA, "198.51.100.1", Buffer.alloc(6), "198.51.100.2"), PacketType.Broadcast],
      [ether(macB, macA, 0x86dd, icmpv6(macA, 136).subarray(14)), PacketType.Host], // unicast neighbor advert
      [arp(2, OTHER_MAC, macA, "198.51.100.1", OTHER_MAC, "198.51.100.3"), PacketType.OtherHost],
    ] as const;
    const unwanted = [
      ipv4Udp(BROADCAST, macA),
      icmpv6(macA, 128), // echo request
      icmpv6(macA, 143), // MLDv2 report
      ipv6(macA, 17, Buffer.alloc(8)), // UDP
    ];
    for (const frame of [...unwanted, ...wanted.map(([f]) => f)]) {
      expect(await a.request({ cmd: "send", hex: frame.toString("hex") })).toBe(frame.length);
    }
    const got = await b.waitForFrames(wanted.length);
    expect(got).toEqual(wanted.map(([f, packetType]) => ({ hex: f.toString("hex"), packetType })));
    expect(a.frames).toEqual([]); // the sender does not see its own frames
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it("a filter for the announced IPs passes only questions about them and claims of them", async () => {
    await b.request({ cmd: "filter", ips: ["198.51.100.2", "2001:db8::2"] });
    const wanted = [
      arp(1, BROADCAST, macA, "198.51.100.1", Buffer.alloc(6), "198.51.100.2"), // who-has ours
      arp(2, macB, macA, "198.51.100.2", macB, "198.51.100.1"), // someone else claims ours
      nd(macA, 135, 2), // NS for ours
      nd(macA, 136, 2), // NA claiming ours
    ];
    const unwanted = [
      arp(1, BROADCAST, macA, "198.51.100.1", Buffer.alloc(6), "198.51.100.3"),
      nd(macA, 135, 3),
      icmpv6(macA, 135), // too short to hold a target
    ];
    for (const frame of [...unwanted, ...wanted])
      await a.request({ cmd: "send", hex: frame.toString("hex") });
    const got = await b.waitForFrames(wanted.length);
    expect(got.map((f) => f.hex)).toEqual(wanted.map((f) => f.toString("hex")));
    await b.request({ cmd: "filter", ips: null });
  });

  it("with limits, a flood from one source is cut in the addon; another source still gets through", async () => {
    const limited = await Agent.start(["ip", "netns", "exec", nsB]);
    agents.push(limited);
    const limits = {
      perSourcePerSecond: 1,
      perSourceBurst: 5,
      totalPerSecond: 1000,
      totalBurst: 1000,
      maxSources: 10,
    };
    await limited.request({ cmd: "open", ifname: "fip1", limits });
    const question = (src: Buffer) => arp(1, BROADCAST, src, "198.51.100.1", Buffer.alloc(6), "198.51.100.2");
    for (let i = 0; i < 50; i++) await a.request({ cmd: "send", hex: question(macA).toString("hex") });
    const other = mac("02:00:00:00:00:42");
    await a.request({ cmd: "send", hex: question(other).toString("hex") });
    const got = await limited.waitForFrames(6);
    // The burst, perhaps one more token if sending took over a second, and the other source's question.
    expect(got.length).toBeGreaterThanOrEqual(6);
    expect(got.length).toBeLessThanOrEqual(8);
    expect(got.at(-1)!.hex).toBe(question(other).toString("hex"));
    const stats = (await limited.request({ cmd: "stats" })) as Record<string, number>;
    expect(stats).toMatchObject({
      read: 51,
      handled: got.length,
      rateLimited: 51 - got.length,
      queueDrops: 0,
      ring: true,
    });
    limited.proc.kill();
    await limited.exited;
    b.frames.splice(0);
  });

  it("send() from B reaches A and is not looped back to B", async () => {
    const reply = arp(2, macA, macB, "198.51.100.2", macA, "198.51.100.1");
    expect(await b.request({ cmd: "send", hex: reply.toString("hex") })).toBe(reply.length);
    expect(await a.waitForFrames(1)).toEqual([{ hex: reply.toString("hex"), packetType: PacketType.Host }]);
    expect(b.frames).toEqual([]);
  });

  it("send() rejects runt frames", async () => {
    await expect(b.request({ cmd: "send", hex: "ffff" })).rejects.toThrow(/shorter than an Ethernet header/);
  });

  it("reports the VLAN of a tagged frame the kernel untagged, so a trunk's other VLANs are told apart", async () => {
    // B's fip1 is a trunk: untagged traffic plus tagged VLANs. The kernel takes the tag out of the
    // data before any packet tap; only PACKET_AUXDATA still tells the frames apart.
    const request = arp(1, BROADCAST, macA, "198.51.100.1", Buffer.alloc(6), "198.51.100.2");
    const tagged = (vlan: number) =>
      Buffer.concat([
        request.subarray(0, 12),
        Buffer.from([0x81, 0x00, vlan >> 8, vlan & 0xff]),
        request.subarray(12),
      ]);
    for (const frame of [tagged(10), tagged(20), request]) {
      await a.request({ cmd: "send", hex: frame.toString("hex") });
    }
    const hex = request.toString("hex");
    expect(await b.waitForFrames(3)).toEqual([
      { hex, packetType: PacketType.Broadcast, vlan: 10 },
      { hex, packetType: PacketType.Broadcast, vlan: 20 },
      { hex, packetType: PacketType.Broadcast },
    ]);
    // The responder answers only the untagged one on the trunk.
    const iface = { name: "fip1", mac: macB.toString("hex").replace(/(..)(?!$)/g, "$1:") };
    const owned = new Set(["198.51.100.2"]);
    const decide = (vlan?: number) => respond(request, iface, owned, { vlan }).kind;
    expect([decide(10), decide(20), decide()]).toEqual(["ignore", "ignore", "reply"]);
  });

  it.skipIf(!vlanDevices())("a VLAN interface sees its own VLAN's frames untagged", async () => {
    ip("-n", nsB, "link", "add", "link", "fip1", "name", "fip1.10", "type", "vlan", "id", "10");
    ip("-n", nsB, "link", "set", "fip1.10", "up");
    const onVlan10 = await Agent.start(["ip", "netns", "exec", nsB]);
    agents.push(onVlan10);
    await onVlan10.request({ cmd: "open", ifname: "fip1.10" });
    const request = arp(1, BROADCAST, macA, "198.51.100.1", Buffer.alloc(6), "198.51.100.10");
    const tagged = Buffer.concat([
      request.subarray(0, 12),
      Buffer.from([0x81, 0x00, 0, 10]),
      request.subarray(12),
    ]);
    for (const frame of [tagged, request]) await a.request({ cmd: "send", hex: frame.toString("hex") });
    // The tag belonged to the trunk: on fip1.10 the frame is untagged, and the untagged one is not there.
    expect(await onVlan10.waitForFrames(1)).toEqual([
      { hex: request.toString("hex"), packetType: PacketType.Broadcast },
    ]);
    b.frames.splice(0);
    onVlan10.proc.kill();
    await onVlan10.exited;
    ip("-n", nsB, "link", "del", "fip1.10");
  });

  it("interfaceInfo matches ip link", async () => {
    const link = linkShow(nsB, "fip1");
    expect(await b.request({ cmd: "info", ifname: "fip1" })).toEqual({
      index: link.ifindex,
      mac: macB.toString("hex"),
      mtu: link.mtu,
      up: true,
      running: true,
      broadcast: true,
      loopback: false,
    });
    await expect(b.request({ cmd: "info", ifname: "fipnope0" })).rejects.toThrow(
      'interface "fipnope0" not found',
    );
  });

  it("interfaceCarrier follows the link (its socket is opened once and asked again)", async () => {
    expect(await b.request({ cmd: "carrier", ifname: "fip1" })).toBe(true);
    ip("-n", nsB, "link", "set", "fip1", "down");
    try {
      expect(await b.request({ cmd: "carrier", ifname: "fip1" })).toBe(false);
      expect(await b.request({ cmd: "info", ifname: "fip1" })).toMatchObject({ up: false });
    } finally {
      ip("-n", nsB, "link", "set", "fip1", "up");
    }
    // Up again: the kernel sets IFF_RUNNING once the link's state settles (a moment after "up").
    await waitFor("carrier back on fip1", () => b.request({ cmd: "carrier", ifname: "fip1" }), 5000, 20);
  });

  it.skipIf(!existsSync("/usr/bin/setpriv"))("reports EPERM without CAP_NET_RAW", async () => {
    const agent = await Agent.start([
      "ip",
      "netns",
      "exec",
      nsA,
      "setpriv",
      "--bounding-set=-net_raw",
      "--inh-caps=-net_raw",
    ]);
    agents.push(agent);
    await expect(agent.request({ cmd: "open", ifname: "fip0" })).rejects.toMatchObject({
      code: "EPERM",
      message: expect.stringContaining("CAP_NET_RAW"),
    });
  });

  it("keeps receiving across link down/up", async () => {
    ip("-n", nsB, "link", "set", "fip1", "down");
    await sleep(100);
    ip("-n", nsB, "link", "set", "fip1", "up");
    const deadline = performance.now() + 5000;
    while (!((await b.request({ cmd: "info", ifname: "fip1" })) as { running: boolean }).running) {
      if (performance.now() > deadline) throw new Error("fip1 did not come back up");
      await sleep(50);
    }
    const frame = arp(1, BROADCAST, macA, "198.51.100.1", Buffer.alloc(6), "198.51.100.2");
    await a.request({ cmd: "send", hex: frame.toString("hex") });
    expect(await b.waitForFrames(1)).toEqual([
      { hex: frame.toString("hex"), packetType: PacketType.Broadcast },
    ]);
    expect(b.errors).toEqual([]); // link down is not an error
  });

  it("close() is idempotent and stops delivery", async () => {
    await b.request({ cmd: "close" });
    await a.request({
      cmd: "send",
      hex: arp(1, BROADCAST, macA, "198.51.100.1", OTHER_MAC, "198.51.100.2").toString("hex"),
    });
    await sleep(300);
    expect(b.frames).toEqual([]);
    await expect(b.request({ cmd: "send", hex: "ff".repeat(60) })).rejects.toThrow(/closed/);
  });

  it("reports removal of its interface as an error", async () => {
    ip("-n", nsA, "link", "del", "fip0"); // takes fip1 (B's closed socket) with it
    const deadline = performance.now() + 5000;
    while (a.errors.length === 0 && performance.now() < deadline) await sleep(20);
    expect(a.errors).toEqual(['RawSocket: interface "fip0" was removed: No such device (ENODEV)']);
  });

  it("survives worker teardown and process exit with sockets open", async () => {
    await a.request({ cmd: "worker", ifname: "lo" });
    a.proc.stdin.write(JSON.stringify({ id: 0, cmd: "exit" }) + "\n");
    expect(await a.exited).toBe(0);
  });
});
