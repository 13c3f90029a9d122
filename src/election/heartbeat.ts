/**
 * Heartbeat wire format: "FIP1" | HMAC-SHA256 (32 bytes, zero without a key) | JSON body.
 * Decoding is defensive: anything malformed, oversized, unauthenticated or mistyped is rejected.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { HeartbeatInfo } from "./membership.js";

const MAGIC = Buffer.from("FIP1");
const MAC_LEN = 32;
export const MAX_HEARTBEAT_BYTES = 60_000;

function mac(key: Buffer | undefined, body: Buffer): Buffer {
  return key ? createHmac("sha256", key).update(body).digest() : Buffer.alloc(MAC_LEN);
}

export function encodeHeartbeat(hb: HeartbeatInfo, key?: Buffer): Buffer {
  const body = Buffer.from(JSON.stringify(hb));
  return Buffer.concat([MAGIC, mac(key, body), body]);
}

export type DecodeResult = { ok: true; heartbeat: HeartbeatInfo } | { ok: false; reason: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function decodeHeartbeat(packet: Buffer, key?: Buffer): DecodeResult {
  if (packet.length < MAGIC.length + MAC_LEN + 2) return { ok: false, reason: "truncated" };
  if (packet.length > MAX_HEARTBEAT_BYTES) return { ok: false, reason: "oversized" };
  if (!packet.subarray(0, MAGIC.length).equals(MAGIC)) return { ok: false, reason: "bad-magic" };
  const tag = packet.subarray(MAGIC.length, MAGIC.length + MAC_LEN);
  const body = packet.subarray(MAGIC.length + MAC_LEN);
  if (!timingSafeEqual(tag, mac(key, body))) return { ok: false, reason: "bad-mac" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return { ok: false, reason: "bad-json" };
  }
  if (!isRecord(parsed)) return { ok: false, reason: "bad-shape" };
  const { from, incarnation, seq, leaving, ready, heard, announcing, carrier } = parsed;
  if (typeof from !== "string" || from.length === 0 || from.length > 253)
    return { ok: false, reason: "bad-from" };
  if (!Number.isSafeInteger(incarnation) || !Number.isSafeInteger(seq))
    return { ok: false, reason: "bad-seq" };
  if (typeof leaving !== "boolean" || typeof ready !== "boolean") return { ok: false, reason: "bad-flags" };
  if (!isRecord(heard) || !Object.values(heard).every((v) => typeof v === "number" && Number.isFinite(v))) {
    return { ok: false, reason: "bad-heard" };
  }
  if (!Array.isArray(announcing) || !announcing.every((v) => typeof v === "string")) {
    return { ok: false, reason: "bad-announcing" };
  }
  if (!isRecord(carrier) || !Object.values(carrier).every((v) => typeof v === "boolean")) {
    return { ok: false, reason: "bad-carrier" };
  }
  return {
    ok: true,
    heartbeat: {
      from,
      incarnation: incarnation as number,
      seq: seq as number,
      leaving,
      ready,
      heard: heard as Record<string, number>,
      announcing: announcing as string[],
      carrier: carrier as Record<string, boolean>,
    },
  };
}
