/**
 * The pump's two implementations side by side: the native core (native/src/pump_core.h, what the
 * speaker's thread runs) and the TypeScript model (src/election/pump.ts, what the simulation runs)
 * get the same inputs — rounds, datagrams (valid, replayed, stale, forged, changed), arms, time —
 * and must send the same bytes, accept the same datagrams, drain the same rounds and wake at the
 * same moments. So what the simulation proves about the model holds for the thread.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeHeartbeat, encodeHeartbeatBody, nameHash } from "../../src/election/heartbeat.js";
import { PumpCore } from "../../src/election/pump.js";
import { NativePumpCore } from "../../src/native/pump.js";
import { emptyHeartbeat } from "../support/heartbeat.js";

const key = Buffer.from("differential key");
/** The keys a run signs with: the first the pumps start with, the last no pump ever takes. */
const KEYS = [
  key,
  Buffer.from("differential key, rotated"),
  Buffer.from("differential key, third"),
  Buffer.from("wrong key"),
];
const INTERVAL = 40;
const BOOT_A = "00000000000000aa";
const BOOT_B = "00000000000000bb";
const B = { address: "192.0.2.2", port: 7946 };

type Op =
  | { kind: "advance"; ms: number }
  | {
      kind: "datagram";
      seqStep: number;
      echoBack: number;
      echoBoot: "a" | "other" | "none";
      content: number;
      from: "b" | "stranger";
      /** Index into KEYS: the key b signed with (the last is nobody's). */
      signer: number;
    }
  | { kind: "keys"; sign: number; accept: number | undefined }
  | { kind: "arm"; wakeIn: number; silenceMs?: number; confirmMs?: number; wakeOnAccept: boolean }
  | { kind: "drain" }
  | { kind: "template"; content: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 120 }) }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("datagram" as const),
      seqStep: fc.integer({ min: -2, max: 3 }),
      // Mostly a recent round of a's (accepted when fresh and no replay), sometimes an old one.
      echoBack: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 2 }) },
        fc.integer({ min: 0, max: 40 }),
      ),
      echoBoot: fc.constantFrom("a" as const, "a" as const, "other" as const, "none" as const),
      content: fc.integer({ min: 0, max: 2 }),
      from: fc.constantFrom("b" as const, "b" as const, "b" as const, "stranger" as const),
      signer: fc.constantFrom(0, 0, 0, 0, 1, 2, 3),
    }),
  },
  {
    // A rotation's steps: sign with one key, maybe accept a second.
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("keys" as const),
      sign: fc.constantFrom(0, 0, 1, 2),
      accept: fc.constantFrom(undefined, 0, 1, 2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        kind: fc.constant("arm" as const),
        wakeIn: fc.integer({ min: 1, max: 800 }),
        silenceMs: fc.integer({ min: 1, max: 400 }),
        confirmMs: fc.integer({ min: 1, max: 400 }),
        wakeOnAccept: fc.boolean(),
      },
      { requiredKeys: ["kind", "wakeIn", "wakeOnAccept"] },
    ),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("drain" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("template" as const), content: fc.integer({ min: 0, max: 2 }) }),
  },
);

/** a's heartbeat to b: the content varies with `content`, a report on b (patched age) and on a stranger. */
function templateFor(content: number): Buffer {
  return encodeHeartbeatBody(
    emptyHeartbeat("a", {
      boot: BOOT_A,
      timeoutMs: 200 + content,
      peers: [
        { hash: nameHash("b"), ageMs: 0xffff, direct: true, alive: true, eligible: true, leaving: false },
        {
          hash: 0x12345678,
          ageMs: 30 + content,
          direct: false,
          alive: true,
          eligible: false,
          leaving: false,
        },
      ],
    }),
  );
}

/** What the runs exercised, so a vacuous pass shows. */
const seen = { wakes: 0, quiet: 0, accepted: 0, packets: 0, twoKeys: 0 };

function run(ops: Op[]): void {
  let now = 1000;
  const config = { key, boot: BOOT_A, firstSeq: 1, intervalMs: INTERVAL, freshnessMs: 1000, watchdogMs: 600 };
  const model = new PumpCore(config, now);
  const native = new NativePumpCore({ ...config, now });
  let bSeq = 10;
  for (const core of [model, native]) {
    core.setPeer("b", nameHash("b"), B.address, B.port);
    core.setTemplate("b", templateFor(0), now);
  }
  model.arm({ wakeAt: Infinity, peers: [] }, now);
  native.arm(now, { wakeAt: Infinity, peers: [] });
  let modelWoke = false;
  const sentSeqs: number[] = [];
  const compareWake = () => {
    modelWoke = model.due(now) !== undefined || modelWoke;
    const nativeWoke = native.checkTriggers(now);
    expect({ at: now, woke: nativeWoke }).toEqual({ at: now, woke: modelWoke });
    if (nativeWoke) seen.wakes++;
    else seen.quiet++;
    modelWoke = false;
  };
  const rounds = () => {
    // Every round due up to now, at its own time (the thread's schedule), both sides.
    while (model.nextRoundAt() <= now) {
      const at = model.nextRoundAt();
      const m = model.round(at).map((p) => ({ peer: p.peer, data: p.data.toString("hex") }));
      const n = native.tick(at).map((p) => ({ peer: p.peer, data: p.data.toString("hex") }));
      expect(n).toEqual(m);
      seen.packets += n.length;
      if (m.length > 0) sentSeqs.push(sentSeqs.length + 1);
    }
  };
  for (const o of ops) {
    switch (o.kind) {
      case "advance":
        now += o.ms;
        rounds();
        break;
      case "datagram": {
        bSeq = Math.max(1, bSeq + o.seqStep);
        const echoSeq = Math.max(0, sentSeqs.length - o.echoBack);
        const hb = emptyHeartbeat("b", {
          boot: BOOT_B,
          seq: bSeq,
          timeoutMs: 200 + o.content,
          ...(o.echoBoot === "none"
            ? {}
            : { echo: { boot: o.echoBoot === "a" ? BOOT_A : "0000000000000abc", seq: echoSeq } }),
          peers: [
            {
              hash: nameHash("a"),
              ageMs: (bSeq * 7) % 60,
              direct: true,
              alive: true,
              eligible: true,
              leaving: false,
            },
          ],
        });
        const data = encodeHeartbeat(hb, KEYS[o.signer]!);
        const from = o.from === "b" ? B : { address: "192.0.2.9", port: 7946 };
        modelWoke = model.receive(data, from.address, from.port, now) !== undefined || modelWoke;
        native.receive({ data, address: from.address, port: from.port, arrivedAt: now });
        break;
      }
      case "arm": {
        const arm = {
          wakeAt: now + o.wakeIn,
          peers: [
            { name: "b", silenceMs: o.silenceMs, confirmMs: o.confirmMs, wakeOnAccept: o.wakeOnAccept },
          ],
        };
        // As the speaker: drain, then arm at once.
        expect(native.drain().sent).toEqual(model.drain().sent);
        model.arm(arm, now);
        native.arm(now, arm);
        break;
      }
      case "drain": {
        const m = model.drain();
        const n = native.drain();
        expect(n.sent).toEqual(m.sent);
        expect(n.datagrams.map((d) => d.arrivedAt)).toEqual(m.datagrams.map((d) => d.arrivedAt));
        expect(n.watchdogStops).toBe(m.watchdogStops);
        expect(n.stalledMs).toBe(m.stalledMs);
        break;
      }
      case "template":
        model.setTemplate("b", templateFor(o.content), now);
        native.setTemplate("b", templateFor(o.content), now);
        break;
      case "keys": {
        const accept = o.accept === undefined ? undefined : KEYS[o.accept]!;
        model.setKey(KEYS[o.sign]!, accept);
        native.setKey(KEYS[o.sign]!, accept);
        if (accept && o.accept !== o.sign) seen.twoKeys++;
        break;
      }
    }
    compareWake();
    if (model.peer("b")?.lastAccepted === now) seen.accepted++;
  }
}

describe("the native pump core and its TypeScript model", () => {
  it("send the same bytes, accept the same datagrams and wake at the same moments", () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 120 }), (ops) => run(ops)),
      { numRuns: 300 },
    );
    expect(seen.wakes).toBeGreaterThan(100);
    expect(seen.quiet).toBeGreaterThan(100);
    expect(seen.accepted).toBeGreaterThan(150);
    expect(seen.packets).toBeGreaterThan(1000);
    expect(seen.twoKeys).toBeGreaterThan(50);
  });
});
