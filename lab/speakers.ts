import type { Lab, LabNode } from "./lab.js";
import { nsRun } from "./sh.js";

export interface SpeakerState {
  node: string;
  apiHealthy: boolean;
  isolated: boolean;
  members: {
    node: string;
    alive: boolean;
    eligible: boolean;
    leaving: boolean;
    reason: string;
    announcing: string[];
  }[];
  announcing: Record<string, string[]>;
}

/** A speaker's own account of itself (its /state endpoint), or undefined if it does not answer. */
export async function speakerState(node: LabNode, timeoutS = 1): Promise<SpeakerState | undefined> {
  try {
    const out = await nsRun(node.ns, "curl", ["-sS", "-m", String(timeoutS), "http://127.0.0.1:7472/state"], {
      timeoutMs: (timeoutS + 2) * 1000,
    });
    return JSON.parse(out) as SpeakerState;
  } catch {
    return undefined;
  }
}

export async function speakerReady(node: LabNode): Promise<boolean> {
  try {
    await nsRun(node.ns, "curl", ["-sSf", "-m", "1", "http://127.0.0.1:7472/readyz"]);
    return true;
  } catch {
    return false;
  }
}

/** Nodes whose speaker says it answers for `ip`. */
export async function announcers(lab: Lab, ip: string): Promise<string[]> {
  const states = await Promise.all(lab.nodes.map((n) => speakerState(n)));
  return states.filter((s): s is SpeakerState => !!s && ip in s.announcing).map((s) => s.node);
}
