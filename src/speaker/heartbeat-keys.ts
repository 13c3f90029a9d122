/**
 * The heartbeat keys, read from their files and read again while the speaker runs, so that a key
 * rotation needs no restart and never splits the mesh. A Secret mounted as a volume changes in
 * place (the kubelet swaps the files within a minute or so); a restart with a new key would
 * instead leave the restarted speakers and the others refusing each other's heartbeats, each side
 * taking the other's IPs or, split evenly, neither keeping a majority.
 *
 * A rotation takes three steps, each rolled out to every speaker before the next (each speaker's
 * Lease says which keys it has, `floatip.io/heartbeat-keys`): (1) accept the new key beside the
 * old, (2) sign with the new key and accept the old, (3) drop the old. In every step each speaker
 * accepts every key a peer may still sign with. deploy/README.md has the commands.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { errorText } from "../kube/errors.js";

/** Shorter keys are refused: an HMAC key is a secret, not a password. */
export const MIN_KEY_BYTES = 16;

export interface HeartbeatKeys {
  /** Heartbeats are signed with it (and taken when signed with it). */
  key: Buffer;
  /** Heartbeats signed with it are taken too (during a rotation). */
  accept?: Buffer | undefined;
}

export interface HeartbeatKeyFiles {
  key: string;
  /** May be missing: no second key (the chart always passes it; the Secret has it only mid-rotation). */
  accept?: string | undefined;
}

/** What the Lease, logs and metrics show of a key: enough to compare, nothing to forge with. */
export function keyFingerprint(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

/** "sign=<fingerprint>" and ",accept=<fingerprint>" when there is a second key. */
export function describeKeys(keys: HeartbeatKeys): string {
  return `sign=${keyFingerprint(keys.key)}${keys.accept ? `,accept=${keyFingerprint(keys.accept)}` : ""}`;
}

function readKey(path: string): Buffer {
  const key = readFileSync(path);
  if (key.length < MIN_KEY_BYTES)
    throw new Error(`heartbeat key in ${path} is shorter than ${MIN_KEY_BYTES} bytes`);
  return key;
}

/**
 * Reads the keys. A missing or empty accept file is no second key; an accept key equal to the
 * signing key is none either. Throws when the signing key cannot be read or is too short.
 */
export function readHeartbeatKeys(files: HeartbeatKeyFiles): HeartbeatKeys {
  const key = readKey(files.key);
  let accept: Buffer | undefined;
  if (files.accept) {
    let text: Buffer | undefined;
    try {
      text = readFileSync(files.accept);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (text && text.length > 0) {
      if (text.length < MIN_KEY_BYTES)
        throw new Error(`heartbeat key in ${files.accept} is shorter than ${MIN_KEY_BYTES} bytes`);
      if (!text.equals(key)) accept = text;
    }
  }
  return { key, accept };
}

function sameKeys(a: HeartbeatKeys, b: HeartbeatKeys): boolean {
  return (
    a.key.equals(b.key) && (a.accept === undefined ? b.accept === undefined : !!b.accept?.equals(a.accept))
  );
}

/**
 * Reads the files again every `everyMs` and calls `apply` when the keys changed. Unreadable or
 * invalid files keep the keys in use (logged once per distinct error): a half-written Secret must
 * not cut the speaker off its peers.
 */
export class HeartbeatKeyWatcher {
  private timer: NodeJS.Timeout | undefined;
  private lastError = "";

  constructor(
    private readonly files: HeartbeatKeyFiles,
    private current: HeartbeatKeys,
    private readonly apply: (keys: HeartbeatKeys) => void,
    private readonly log: Logger,
    private readonly read: (files: HeartbeatKeyFiles) => HeartbeatKeys = readHeartbeatKeys,
  ) {}

  get keys(): HeartbeatKeys {
    return this.current;
  }

  start(everyMs = 5000): void {
    this.timer = setInterval(() => this.check(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at the files (the timer's; tests call it directly). */
  check(): void {
    let next: HeartbeatKeys;
    try {
      next = this.read(this.files);
    } catch (err) {
      const error = errorText(err);
      if (error !== this.lastError)
        this.log.error(
          { event: "heartbeatKeyUnreadable", error, keys: describeKeys(this.current) },
          "cannot read the heartbeat key files: keeping the keys in use",
        );
      this.lastError = error;
      return;
    }
    this.lastError = "";
    if (sameKeys(this.current, next)) return;
    const before = describeKeys(this.current);
    this.current = next;
    this.apply(next);
    this.log.info(
      { event: "heartbeatKeysChanged", before, keys: describeKeys(next) },
      "heartbeat keys changed: signing and accepting with the new set",
    );
  }
}
