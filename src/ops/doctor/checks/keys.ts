// Speakers that refuse each other's heartbeats: a heartbeat key rotation left half done, or two
// Secrets. Read from each live speaker's Lease (`floatip.io/heartbeat-keys`: fingerprints only).

import { listSome } from "../../../common/text.js";
import { freshSpeakerLeases } from "../evidence.js";
import type { Check, Finding } from "../types.js";

const KEYS_ANNOTATION = "floatip.io/heartbeat-keys";
const ROTATION = 'deploy/README.md, "Rotating the heartbeat key"';

interface SpeakerKeys {
  sign: string;
  accept?: string;
}

/** "sign=<fp>[,accept=<fp>]" as the speaker writes it; undefined for anything else (an older speaker). */
export function parseKeysAnnotation(text: string | undefined): SpeakerKeys | undefined {
  const m = text === undefined ? null : /^sign=([0-9a-f]{8})(?:,accept=([0-9a-f]{8}))?$/.exec(text);
  if (!m) return undefined;
  return m[2] ? { sign: m[1]!, accept: m[2] } : { sign: m[1]! };
}

export const checkHeartbeatKeys: Check = (snap) => {
  const speakers = new Map<string, SpeakerKeys>();
  for (const [node, lease] of freshSpeakerLeases(snap.leases, snap.now)) {
    const keys = parseKeysAnnotation(lease.metadata.annotations?.[KEYS_ANNOTATION]);
    if (keys) speakers.set(node, keys);
  }
  const out: Finding[] = [];
  for (const [node, keys] of speakers) {
    const refused = [...speakers]
      .filter(([other, k]) => other !== node && k.sign !== keys.sign && k.sign !== keys.accept)
      .map(([other, k]) => `${other} (${k.sign})`);
    if (refused.length === 0) continue;
    out.push({
      check: "heartbeat-key-mismatch",
      severity: "error",
      object: { kind: "Lease", namespace: snap.config.namespace, name: `floatip-speaker-${node}` },
      explanation: `The speaker on ${node} signs with key ${keys.sign} and accepts ${keys.accept ?? "no other"}, so it refuses the heartbeats of ${listSome(refused)}: each side counts the other dead and may take its IPs (or, split evenly, neither keeps a majority).`,
      fix: `Give every speaker the same key and acceptKey in the heartbeat Secret (a rotation goes in three steps, each rolled out before the next: ${ROTATION}); speakers read the files within 5 s of the kubelet updating them.`,
    });
  }
  const rotating = [...speakers].filter(([, k]) => k.accept !== undefined).map(([n]) => n);
  if (out.length === 0 && rotating.length > 0)
    out.push({
      check: "heartbeat-key-rotation",
      severity: "info",
      object: { kind: "Secret", namespace: snap.config.namespace, name: "heartbeat key" },
      explanation: `A heartbeat key rotation is under way: ${listSome(rotating)} accept a second key. Every speaker accepts every key the others sign with.`,
      fix: `Finish the rotation (${ROTATION}): its last step removes acceptKey.`,
    });
  return out;
};
