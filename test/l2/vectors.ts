// Hand-assembled frames used as known-answer vectors. Addresses are documentation-only: 203.0.113.0/24,
// 2001:db8::/32 and the RFC 7042 documentation MAC block 00:00:5e:00:53:xx. Each frame was also decoded
// with `tcpdump -vvv -e` (which reported "icmp6 sum ok" for the ND frames) while writing these tests.

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

export const OUR_MAC = "00:00:5e:00:53:aa";
export const PEER_MAC = "00:00:5e:00:53:01";
export const OTHER_MAC = "00:00:5e:00:53:02";
export const VIP4 = "203.0.113.10";
export const PEER4 = "203.0.113.1";
export const VIP6 = "2001:db8::10";
export const PEER6 = "2001:db8::1";
export const IFACE = { name: "eth0", mac: OUR_MAC } as const;

const PAD18 = "00".repeat(18);

/** 203.0.113.1 (00:00:5e:00:53:01) asks, broadcast: who-has 203.0.113.10? */
export const ARP_REQUEST = hex(`
  ffffffffffff 00005e005301 0806
  0001 0800 06 04 0001
  00005e005301 cb007101
  000000000000 cb00710a
  ${PAD18}`);

/** Our unicast answer: 203.0.113.10 is-at 00:00:5e:00:53:aa, back to the requester. */
export const ARP_REPLY = hex(`
  00005e005301 00005e0053aa 0806
  0001 0800 06 04 0002
  00005e0053aa cb00710a
  00005e005301 cb007101
  ${PAD18}`);

/** Gratuitous request: sender IP = target IP = VIP, target MAC zero (Linux kernel / RFC 5227 style). */
export const GARP_REQUEST = hex(`
  ffffffffffff 00005e0053aa 0806
  0001 0800 06 04 0001
  00005e0053aa cb00710a
  000000000000 cb00710a
  ${PAD18}`);

/** Gratuitous reply: target MAC = our MAC (arping -A / RFC 5944 4.6 style). */
export const GARP_REPLY = hex(`
  ffffffffffff 00005e0053aa 0806
  0001 0800 06 04 0002
  00005e0053aa cb00710a
  00005e0053aa cb00710a
  ${PAD18}`);

/**
 * NS from 2001:db8::1 to ff02::1:ff00:10 for target 2001:db8::10, with SLLA 00:00:5e:00:53:01.
 *
 * Checksum by hand (16-bit one's-complement sums, carries folded back in):
 *   pseudo-header: src 2001+0db8+0001 = 2dba; dst ff02+0001+ff00+0010 = 1fe13;
 *                  length 0020; next header 003a        -> 22c27 -> 2c29
 *   ICMPv6: 8700 + 0000 (checksum) + 0000 + 0000 (reserved) + target 2001+0db8+0010
 *           + option 0101 + 0000+5e00+5301              -> 166cb -> 66cc
 *   total 2c29 + 66cc = 92f5, complement -> 6d0a
 */
export const NS_MULTICAST = hex(`
  3333ff000010 00005e005301 86dd
  60000000 0020 3a ff
  20010db8000000000000000000000001
  ff0200000000000000000001ff000010
  87 00 6d0a 00000000
  20010db8000000000000000000000010
  01 01 00005e005301`);

/**
 * Our NA answering NS_MULTICAST: 2001:db8::10 -> 2001:db8::1, flags S|O (0x60), TLLA 00:00:5e:00:53:aa.
 *   pseudo-header: 2001+0db8+0010 + 2001+0db8+0001 + 0020 + 003a = 5bdd
 *   ICMPv6: 8800 + 6000 + 2001+0db8+0010 + 0201 + 0000+5e00+53aa = 1c974 -> c975
 *   total 5bdd + c975 = 12552 -> 2553, complement -> daac
 */
export const NA_REPLY = hex(`
  00005e005301 00005e0053aa 86dd
  60000000 0020 3a ff
  20010db8000000000000000000000010
  20010db8000000000000000000000001
  88 00 daac 60000000
  20010db8000000000000000000000010
  02 01 00005e0053aa`);

/**
 * Unsolicited NA for 2001:db8::10 to ff02::1 / 33:33:00:00:00:01, flags O only (0x20).
 *   pseudo-header: 2001+0db8+0010 + ff02+0001 + 0020 + 003a = 12d26 -> 2d27
 *   ICMPv6: 8800 + 2000 + 2001+0db8+0010 + 0201 + 0000+5e00+53aa = 18974 -> 8975
 *   total 2d27 + 8975 = b69c, complement -> 4963
 */
export const NA_UNSOLICITED = hex(`
  333300000001 00005e0053aa 86dd
  60000000 0020 3a ff
  20010db8000000000000000000000010
  ff020000000000000000000000000001
  88 00 4963 20000000
  20010db8000000000000000000000010
  02 01 00005e0053aa`);
