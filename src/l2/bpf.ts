// The raw socket's kernel filter (classic BPF, SO_ATTACH_FILTER): only frames that can matter for the IPs
// this node answers for reach user space; a flood of questions about other addresses costs us nothing.
// Pure: IPs in, instructions out. The addon installs them (RawSocket.setFilter).
import { endianness } from "node:os";
import { parseIP } from "../api/ip.js";

/** One classic BPF instruction (struct sock_filter). */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export const BPF = {
  LD_W_ABS: 0x20,
  LD_H_ABS: 0x28,
  LD_B_ABS: 0x30,
  JA: 0x05,
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  RET_K: 0x06,
} as const;

/** The kernel's limit (BPF_MAXINSNS). */
export const MAX_INSNS = 4096;
const ACCEPT = 0xffffffff; // the whole frame
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;
// Offsets in an untagged Ethernet frame.
const OFF_ETHERTYPE = 12;
const OFF_ARP_SENDER_IP = 14 + 14;
const OFF_ARP_TARGET_IP = 14 + 24;
const OFF_IPV6_NEXT_HEADER = 14 + 6;
const OFF_ICMPV6_TYPE = 14 + 40;
const OFF_ND_TARGET = 14 + 40 + 8;
const ICMPV6 = 58;
const ND_NS = 135;
const ND_NA = 136;
// IPv6 targets sharing a last word are told apart one by one; a jump skips at most 255 instructions.
const MAX_SAME_LAST_WORD = 30;

export interface AnswerFilter {
  program: BpfInsn[];
  /** False when the IPs did not fit in MAX_INSNS: the program then passes every ARP and NS/NA frame. */
  exact: boolean;
}

/**
 * Passes ARP frames whose target or sender IP is one of `ips` (questions to answer, claims that
 * conflict) and IPv6 neighbour solicitations/advertisements whose target is; drops everything else,
 * including frames too short to hold those fields. A binary search over the sorted addresses keeps the
 * per-frame cost logarithmic (about 4 instructions per level).
 */
export function answerFilter(ips: Iterable<string>): AnswerFilter {
  const list = [...ips];
  // A port kept open for a takeover (announcer.ts, standBy) reads nothing: one instruction per frame.
  if (list.length === 0) return { program: [{ code: BPF.RET_K, jt: 0, jf: 0, k: 0 }], exact: true };
  // Fewest instructions an address can take (v4: a comparison for target and one for sender; v6:
  // its comparison and its 7-instruction match): past the limit, say so before parsing anything.
  let least = 0;
  for (const text of list) least += text.includes(":") ? 8 : 2;
  if (least > MAX_INSNS) return { program: ARP_NDP_FILTER, exact: false };
  const v4 = new Set<number>();
  const v6 = new Map<number, number[][]>(); // last 32-bit word -> the first three words of each address
  for (const text of list) {
    const words = wordsOf(text);
    if (!words) continue;
    if (words.length === 1) v4.add(words[0]!);
    else v6.set(words[3]!, [...(v6.get(words[3]!) ?? []), words.slice(0, 3)]);
  }
  if ([...v6.values()].some((g) => g.length > MAX_SAME_LAST_WORD))
    return { program: ARP_NDP_FILTER, exact: false };
  const program = assemble(v4, v6);
  return program.length <= MAX_INSNS ? { program, exact: true } : { program: ARP_NDP_FILTER, exact: false };
}

/** An address as 32-bit words, most significant first (parseIP remembers what it parsed). */
function wordsOf(text: string): number[] | undefined {
  const ip = parseIP(text);
  if (!ip) return undefined;
  const words: number[] = [];
  for (let i = (ip.family === "IPv4" ? 1 : 4) - 1; i >= 0; i--)
    words.push(Number((ip.value >> BigInt(32 * i)) & 0xffffffffn));
  return words;
}

type Item = BpfInsn | { label: string } | { ja: string };

function assemble(v4: Set<number>, v6: Map<number, number[][]>): BpfInsn[] {
  const items: Item[] = [];
  const op = (code: number, k: number, jt = 0, jf = 0) => items.push({ code, jt, jf, k });
  const ja = (label: string) => items.push({ ja: label });
  const label = (name: string) => items.push({ label: name });

  op(BPF.LD_H_ABS, OFF_ETHERTYPE);
  op(BPF.JEQ_K, ETHERTYPE_ARP, 0, 1);
  ja("arp");
  op(BPF.JEQ_K, ETHERTYPE_IPV6, 0, 1);
  ja("ipv6");
  op(BPF.RET_K, 0);

  const sorted4 = [...v4].sort((a, b) => a - b);
  const accept = () => op(BPF.RET_K, ACCEPT);
  label("arp");
  op(BPF.LD_W_ABS, OFF_ARP_TARGET_IP);
  search(items, sorted4, () => 1, accept, "arp-sender");
  label("arp-sender");
  op(BPF.LD_W_ABS, OFF_ARP_SENDER_IP);
  search(items, sorted4, () => 1, accept, "drop");

  label("ipv6");
  op(BPF.LD_B_ABS, OFF_IPV6_NEXT_HEADER);
  op(BPF.JEQ_K, ICMPV6, 1, 0);
  ja("drop");
  op(BPF.LD_B_ABS, OFF_ICMPV6_TYPE);
  op(BPF.JGE_K, ND_NS, 1, 0);
  ja("drop");
  op(BPF.JGT_K, ND_NA, 0, 1);
  ja("drop");
  op(BPF.LD_W_ABS, OFF_ND_TARGET + 12);
  const sorted6 = [...v6.keys()].sort((a, b) => a - b);
  // Same last word: compare the first three words of each address with that last word.
  const matchSize = (last: number) => 7 * v6.get(last)!.length + 1;
  const match6 = (last: number) => {
    for (const [w0, w1, w2] of v6.get(last)!) {
      op(BPF.LD_W_ABS, OFF_ND_TARGET);
      op(BPF.JEQ_K, w0!, 0, 5);
      op(BPF.LD_W_ABS, OFF_ND_TARGET + 4);
      op(BPF.JEQ_K, w1!, 0, 3);
      op(BPF.LD_W_ABS, OFF_ND_TARGET + 8);
      op(BPF.JEQ_K, w2!, 0, 1);
      accept();
    }
    ja("drop");
  };
  search(items, sorted6, matchSize, match6, "drop");

  label("drop");
  op(BPF.RET_K, 0);
  return resolve(items);
}

/**
 * Binary search for the accumulator among sorted `keys`: on a match the `onMatch` block (of
 * `matchSize` instructions, ending in a return or a jump), else a jump to `fail`. Conditional jumps
 * only skip a few instructions; the long ones are `ja`, whose offset has 32 bits.
 */
function search(
  items: Item[],
  keys: readonly number[],
  matchSize: (key: number) => number,
  onMatch: (key: number) => void,
  fail: string,
): void {
  const walk = (lo: number, hi: number) => {
    if (hi - lo <= 3) {
      for (let i = lo; i < hi; i++) {
        items.push({ code: BPF.JEQ_K, jt: 0, jf: matchSize(keys[i]!), k: keys[i]! });
        onMatch(keys[i]!);
      }
      items.push({ ja: fail });
      return;
    }
    const mid = (lo + hi) >> 1;
    const right = `right/${items.length}`; // unique: items only grow
    items.push({ code: BPF.JEQ_K, jt: 0, jf: matchSize(keys[mid]!), k: keys[mid]! });
    onMatch(keys[mid]!);
    items.push({ code: BPF.JGT_K, jt: 0, jf: 1, k: keys[mid]! });
    items.push({ ja: right });
    walk(lo, mid);
    items.push({ label: right });
    walk(mid + 1, hi);
  };
  walk(0, keys.length);
}

function resolve(items: readonly Item[]): BpfInsn[] {
  const at = new Map<string, number>();
  let pc = 0;
  for (const item of items) {
    if ("label" in item) at.set(item.label, pc);
    else pc++;
  }
  const out: BpfInsn[] = [];
  for (const item of items) {
    if ("label" in item) continue;
    if ("ja" in item) out.push({ code: BPF.JA, jt: 0, jf: 0, k: at.get(item.ja)! - (out.length + 1) });
    else out.push(item);
  }
  return out;
}

/** Every ARP frame and every IPv6 NS/NA (the socket's filter before any IP is known). */
export const ARP_NDP_FILTER: BpfInsn[] = [
  { code: BPF.LD_H_ABS, jt: 0, jf: 0, k: OFF_ETHERTYPE },
  { code: BPF.JEQ_K, jt: 6, jf: 0, k: ETHERTYPE_ARP },
  { code: BPF.JEQ_K, jt: 0, jf: 6, k: ETHERTYPE_IPV6 },
  { code: BPF.LD_B_ABS, jt: 0, jf: 0, k: OFF_IPV6_NEXT_HEADER },
  { code: BPF.JEQ_K, jt: 0, jf: 4, k: ICMPV6 },
  { code: BPF.LD_B_ABS, jt: 0, jf: 0, k: OFF_ICMPV6_TYPE },
  { code: BPF.JGE_K, jt: 0, jf: 2, k: ND_NS },
  { code: BPF.JGT_K, jt: 1, jf: 0, k: ND_NA },
  { code: BPF.RET_K, jt: 0, jf: 0, k: ACCEPT },
  { code: BPF.RET_K, jt: 0, jf: 0, k: 0 },
];

/** struct sock_filter[] in host byte order, as SO_ATTACH_FILTER takes it. */
export function encodeFilter(program: readonly BpfInsn[]): Buffer {
  const out = Buffer.alloc(program.length * 8);
  const le = endianness() === "LE";
  program.forEach((insn, i) => {
    if (le) out.writeUInt16LE(insn.code, i * 8);
    else out.writeUInt16BE(insn.code, i * 8);
    out.writeUInt8(insn.jt, i * 8 + 2);
    out.writeUInt8(insn.jf, i * 8 + 3);
    if (le) out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
    else out.writeUInt32BE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}

/**
 * Runs a program on a frame the way the kernel does (loads past the end drop the frame); returns
 * the bytes to keep, 0 to drop. For tests, and to check a program before installing it.
 */
export function runFilter(program: readonly BpfInsn[], frame: Uint8Array): number {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  let a = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc]!;
    const size = code === BPF.LD_W_ABS ? 4 : code === BPF.LD_H_ABS ? 2 : code === BPF.LD_B_ABS ? 1 : 0;
    if (size > 0) {
      if (k + size > frame.length) return 0;
      a = size === 4 ? view.getUint32(k) : size === 2 ? view.getUint16(k) : view.getUint8(k);
    } else if (code === BPF.JA) pc += k;
    else if (code === BPF.JEQ_K) pc += a === k >>> 0 ? jt : jf;
    else if (code === BPF.JGT_K) pc += a > k >>> 0 ? jt : jf;
    else if (code === BPF.JGE_K) pc += a >= k >>> 0 ? jt : jf;
    else if (code === BPF.RET_K) return k >>> 0;
    else throw new Error(`runFilter: unsupported opcode 0x${code.toString(16)}`);
  }
  return 0;
}
