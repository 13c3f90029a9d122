import { describe, expect, it } from "vitest";
import { checkHeartbeatKeys, parseKeysAnnotation } from "../../../src/ops/doctor/checks/keys.js";
import { keyFingerprint } from "../../../src/speaker/heartbeat-keys.js";
import { describeKeys } from "../../../src/speaker/heartbeat-keys.js";
import { lease, snapshot } from "./builders.js";

const OLD = keyFingerprint(Buffer.from("old heartbeat key, long enough"));
const NEW = keyFingerprint(Buffer.from("new heartbeat key, long enough"));

/** A live speaker Lease with the keys annotation (as the speaker writes it), or an old one without. */
function speaker(node: string, keys?: string, ageMs = 1000) {
  const l = lease(`floatip-speaker-${node}`, ageMs);
  if (keys !== undefined) l.metadata.annotations = { "floatip.io/heartbeat-keys": keys };
  return l;
}

const findings = (...leases: ReturnType<typeof speaker>[]) => checkHeartbeatKeys(snapshot({ leases }));

describe("doctor: heartbeat keys", () => {
  it("reads what the speaker writes, and nothing else", () => {
    const a = Buffer.from("old heartbeat key, long enough");
    const b = Buffer.from("new heartbeat key, long enough");
    expect(parseKeysAnnotation(describeKeys({ key: a }))).toEqual({ sign: OLD });
    expect(parseKeysAnnotation(describeKeys({ key: b, accept: a }))).toEqual({ sign: NEW, accept: OLD });
    for (const bad of [undefined, "", "sign=xyz", `sign=${OLD},accept=`, `accept=${OLD}`])
      expect(parseKeysAnnotation(bad)).toBeUndefined();
  });

  it("is quiet when every speaker takes every other's heartbeats, and says a rotation is under way", () => {
    expect(findings(speaker("m0", `sign=${OLD}`), speaker("m1", `sign=${OLD}`))).toEqual([]);
    // Each step of a rotation, half rolled out: still everyone accepts everyone.
    const step1 = findings(speaker("m0", `sign=${OLD},accept=${NEW}`), speaker("m1", `sign=${OLD}`));
    const step2 = findings(
      speaker("m0", `sign=${NEW},accept=${OLD}`),
      speaker("m1", `sign=${OLD},accept=${NEW}`),
    );
    for (const f of [step1, step2])
      expect(f.map((x) => [x.check, x.severity])).toEqual([["heartbeat-key-rotation", "info"]]);
    expect(findings(speaker("m0", `sign=${NEW}`), speaker("m1", `sign=${NEW},accept=${OLD}`))[0]?.check).toBe(
      "heartbeat-key-rotation",
    );
  });

  it("names each speaker that refuses a peer's heartbeats, and the fix", () => {
    // Step 2 reached m0 before step 1 reached m1: m1 refuses m0; a restart with a new key alone looks the same.
    const f = findings(
      speaker("m0", `sign=${NEW},accept=${OLD}`),
      speaker("m1", `sign=${OLD}`),
      speaker("m2", `sign=${OLD}`),
    );
    expect(f.map((x) => [x.check, x.severity, x.object.name])).toEqual([
      ["heartbeat-key-mismatch", "error", "floatip-speaker-m1"],
      ["heartbeat-key-mismatch", "error", "floatip-speaker-m2"],
    ]);
    expect(f[0]!.explanation).toContain(`refuses the heartbeats of m0 (${NEW})`);
    expect(f[0]!.fix).toContain("Rotating the heartbeat key");
  });

  it("ignores stopped speakers and speakers that do not publish their keys", () => {
    expect(
      findings(speaker("m0", `sign=${OLD}`), speaker("m1", `sign=${NEW}`, 600_000), speaker("m2")),
    ).toEqual([]);
  });
});
