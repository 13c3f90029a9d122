import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatIP } from "../../src/api/ip.js";
import {
  answerFilter,
  ARP_NDP_FILTER,
  BPF,
  encodeFilter,
  MAX_INSNS,
  runFilter,
  type BpfInsn,
} from "../../src/l2/bpf.js";

const v4Bytes = (ip: number) => [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
const v6Bytes = (ip: bigint) =>
  Array.from({ length: 16 }, (_, i) => Number((ip >> BigInt(8 * (15 - i))) & 255n));

function arpFrame(sender: number, target: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.set([0x08, 0x06], 12);
  f.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
  if (length >= 32) f.set(v4Bytes(sender), 28);
  if (length >= 42) f.set(v4Bytes(target), 38);
  return f;
}

function ndFrame(type: number, target: bigint, nextHeader = 58, length = 86): Uint8Array {
  const f = new Uint8Array(length);
  f.set([0x86, 0xdd], 12);
  f[20] = nextHeader;
  if (length > 54) f[54] = type;
  if (length >= 78) f.set(v6Bytes(target), 62);
  return f;
}

const accepts = (program: BpfInsn[], frame: Uint8Array) => runFilter(program, frame) > 0;

// Addresses packed close together so that near misses (one bit off, same last word) are frequent.
const v4 = fc.integer({ min: 0, max: 63 }).map((n) => (0xcb007100 + n) >>> 0); // 203.0.113.0/26
const v6 = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 15 }))
  .map(([net, host]) => (0x20010db8n << 96n) | (BigInt(net) << 64n) | BigInt(host));

describe("answerFilter", () => {
  it("passes exactly the ARP frames naming an owned IP and the NS/NA whose target is owned", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(v4, { maxLength: 40 }),
        fc.uniqueArray(v6, { maxLength: 40 }),
        fc.array(fc.tuple(v4, v4)),
        fc.array(fc.tuple(fc.constantFrom(135, 136, 134, 128), v6)),
        (own4, own6, arps, nds) => {
          const ips = [
            ...own4.map((n) => formatIP("IPv4", BigInt(n))),
            ...own6.map((n) => formatIP("IPv6", n)),
          ];
          const { program, exact } = answerFilter(ips);
          expect(exact).toBe(true);
          for (const [sender, target] of arps) {
            const want = own4.includes(sender) || own4.includes(target);
            expect(accepts(program, arpFrame(sender, target))).toBe(want);
          }
          for (const [type, target] of nds) {
            const want = (type === 135 || type === 136) && own6.includes(target);
            expect(accepts(program, ndFrame(type, target))).toBe(want);
          }
        },
      ),
    );
  });

  it("drops frames too short to hold the address, other protocols and other ethertypes", () => {
    const { program } = answerFilter(["203.0.113.50", "2001:db8::50"]);
    const ip4 = 0xcb007132;
    expect(accepts(program, arpFrame(0, ip4))).toBe(true);
    expect(accepts(program, arpFrame(0, ip4, 41))).toBe(false);
    expect(accepts(program, ndFrame(135, (0x20010db8n << 96n) | 0x50n))).toBe(true);
    expect(accepts(program, ndFrame(135, (0x20010db8n << 96n) | 0x50n, 58, 77))).toBe(false);
    expect(accepts(program, ndFrame(135, (0x20010db8n << 96n) | 0x50n, 17))).toBe(false);
    const ipv4 = new Uint8Array(60);
    ipv4.set([0x08, 0x00], 12);
    expect(accepts(program, ipv4)).toBe(false);
  });

  it("with no IPs passes nothing", () => {
    const { program } = answerFilter([]);
    expect(program).toHaveLength(1); // a standby port's filter costs one instruction per frame
    expect(accepts(program, arpFrame(1, 2))).toBe(false);
    expect(accepts(program, ndFrame(135, 1n))).toBe(false);
  });

  it("stays logarithmic per frame and falls back to every ARP/NDP frame beyond the kernel's size limit", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => formatIP("IPv4", BigInt(0xc6336400 + i)));
    const { program, exact } = answerFilter(many(500));
    expect(exact).toBe(true);
    expect(program.length).toBeLessThanOrEqual(MAX_INSNS);
    // Instructions executed for one frame: count them with a tracing copy of the program.
    let steps = 0;
    const traced = new Proxy(program, {
      get: (t, k) => {
        if (typeof k === "string" && /^\d+$/.test(k)) steps++;
        return Reflect.get(t, k) as unknown;
      },
    });
    runFilter(traced, arpFrame(0xc6336400 + 499, 0x0a000001)); // a miss, then a hit at the far end
    expect(steps).toBeLessThan(100); // a linear scan: over 1,000
    expect(answerFilter(many(5000))).toEqual({ program: ARP_NDP_FILTER, exact: false });
  });

  it("gives up on IPv6 sets too large for the kernel before parsing them, at the same count as the assembler", () => {
    const many6 = (n: number) =>
      Array.from({ length: n }, (_, i) => formatIP("IPv6", (0x20010db8n << 96n) | BigInt(i)));
    expect(answerFilter(many6(5000))).toEqual({ program: ARP_NDP_FILTER, exact: false });
    // The largest set that fits: exact, within the limit, and not decided by the early bound.
    let lo = 1;
    let hi = 1000;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (answerFilter(many6(mid)).exact) lo = mid;
      else hi = mid;
    }
    expect(answerFilter(many6(lo)).program.length).toBeLessThanOrEqual(MAX_INSNS);
    expect(8 * hi).toBeLessThanOrEqual(MAX_INSNS); // the assembler, not the bound, refused hi
    expect(answerFilter(many6(hi)).exact).toBe(false);
  });
});

describe("ARP_NDP_FILTER", () => {
  it("passes every ARP frame and IPv6 NS/NA, nothing else", () => {
    expect(accepts(ARP_NDP_FILTER, arpFrame(1, 2))).toBe(true);
    expect(accepts(ARP_NDP_FILTER, ndFrame(135, 1n))).toBe(true);
    expect(accepts(ARP_NDP_FILTER, ndFrame(136, 1n))).toBe(true);
    expect(accepts(ARP_NDP_FILTER, ndFrame(128, 1n))).toBe(false);
    expect(accepts(ARP_NDP_FILTER, ndFrame(135, 1n, 17))).toBe(false);
  });
});

describe("encodeFilter", () => {
  it("lays out struct sock_filter: u16 code, u8 jt, u8 jf, u32 k in host order", () => {
    const buf = encodeFilter([{ code: BPF.JEQ_K, jt: 1, jf: 2, k: 0xcb007132 }]);
    expect(buf).toHaveLength(8);
    expect(buf.readUInt16LE(0)).toBe(BPF.JEQ_K);
    expect([buf[2], buf[3]]).toEqual([1, 2]);
    expect(buf.readUInt32LE(4)).toBe(0xcb007132);
  });
});
