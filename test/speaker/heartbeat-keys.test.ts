import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  describeKeys,
  HeartbeatKeyWatcher,
  keyFingerprint,
  readHeartbeatKeys,
  type HeartbeatKeys,
} from "../../src/speaker/heartbeat-keys.js";

const OLD = Buffer.from("0123456789abcdef-old");
const NEW = Buffer.from("0123456789abcdef-new");

let dir: string;
let files: { key: string; accept: string };
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "floatip-keys-"));
  files = { key: join(dir, "key"), accept: join(dir, "acceptKey") };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function logger() {
  const lines: { level: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>) => lines.push({ level, fields });
  return { lines, log: { info: at("info"), error: at("error"), warn: at("warn") } as never };
}

describe("heartbeat key files", () => {
  it("reads the signing key and a second key; a missing, empty or identical second file is none", () => {
    writeFileSync(files.key, OLD);
    expect(readHeartbeatKeys(files)).toEqual({ key: OLD, accept: undefined });
    writeFileSync(files.accept, "");
    expect(readHeartbeatKeys(files).accept).toBeUndefined();
    writeFileSync(files.accept, OLD);
    expect(readHeartbeatKeys(files).accept).toBeUndefined();
    writeFileSync(files.accept, NEW);
    expect(readHeartbeatKeys(files)).toEqual({ key: OLD, accept: NEW });
  });

  it("refuses a short key in either file, and a missing signing key", () => {
    expect(() => readHeartbeatKeys(files)).toThrow(/ENOENT/);
    writeFileSync(files.key, "short");
    expect(() => readHeartbeatKeys(files)).toThrow(/shorter than 16 bytes/);
    writeFileSync(files.key, OLD);
    writeFileSync(files.accept, "short");
    expect(() => readHeartbeatKeys(files)).toThrow(/acceptKey is shorter than 16 bytes/);
  });

  it("describes keys by fingerprints that tell them apart and give nothing away", () => {
    expect(keyFingerprint(OLD)).toMatch(/^[0-9a-f]{8}$/);
    expect(keyFingerprint(OLD)).not.toBe(keyFingerprint(NEW));
    expect(describeKeys({ key: OLD })).toBe(`sign=${keyFingerprint(OLD)}`);
    expect(describeKeys({ key: NEW, accept: OLD })).toBe(
      `sign=${keyFingerprint(NEW)},accept=${keyFingerprint(OLD)}`,
    );
    expect(describeKeys({ key: OLD, accept: NEW })).not.toContain(OLD.toString());
  });
});

describe("HeartbeatKeyWatcher", () => {
  it("applies each step of a rotation once, as the files change", () => {
    writeFileSync(files.key, OLD);
    const applied: HeartbeatKeys[] = [];
    const { lines, log } = logger();
    const w = new HeartbeatKeyWatcher(files, readHeartbeatKeys(files), (k) => applied.push(k), log);
    w.check();
    expect(applied).toEqual([]); // unchanged
    writeFileSync(files.accept, NEW); // 1: accept the new key beside the old
    w.check();
    w.check();
    writeFileSync(files.key, NEW); // 2: sign with the new key, accept the old
    writeFileSync(files.accept, OLD);
    w.check();
    rmSync(files.accept); // 3: the old key goes
    w.check();
    expect(applied).toEqual([
      { key: OLD, accept: NEW },
      { key: NEW, accept: OLD },
      { key: NEW, accept: undefined },
    ]);
    expect(w.keys).toEqual({ key: NEW, accept: undefined });
    expect(lines.filter((l) => l.fields.event === "heartbeatKeysChanged")).toHaveLength(3);
  });

  it("keeps the keys in use when the files cannot be read, and says so once per error", () => {
    writeFileSync(files.key, OLD);
    const applied: HeartbeatKeys[] = [];
    const { lines, log } = logger();
    const w = new HeartbeatKeyWatcher(files, readHeartbeatKeys(files), (k) => applied.push(k), log);
    writeFileSync(files.key, "half"); // a half-written Secret
    w.check();
    w.check();
    rmSync(files.key);
    w.check();
    expect(applied).toEqual([]);
    expect(w.keys.key).toEqual(OLD);
    expect(lines.filter((l) => l.fields.event === "heartbeatKeyUnreadable")).toHaveLength(2);
    writeFileSync(files.key, NEW);
    w.check();
    expect(applied).toEqual([{ key: NEW, accept: undefined }]);
  });
});
