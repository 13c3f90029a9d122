import { createHash } from "node:crypto";

/**
 * MetalLB-compatible owner choice: every speaker ranks the candidate nodes for an IP by
 * sha256(nodeName + "#" + ip) and the lowest hash wins, so all speakers agree without talking.
 */
export function rankNodes(nodes: Iterable<string>, ip: string): string[] {
  const keyed = [...new Set(nodes)].map((node) => ({ node, key: nodeKey(node, ip) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.node < b.node ? -1 : 1));
  return keyed.map((k) => k.node);
}

/** Memo of nodeKey: every tick ranks every IP again, and SHA-256 per (node, IP) dominated the tick. */
const keyMemo = new Map<string, string>();
const KEY_MEMO_MAX = 200_000;

export function nodeKey(node: string, ip: string): string {
  const input = `${node}#${ip}`;
  let key = keyMemo.get(input);
  if (key === undefined) {
    key = createHash("sha256").update(input).digest("hex");
    if (keyMemo.size >= KEY_MEMO_MAX) keyMemo.clear();
    keyMemo.set(input, key);
  }
  return key;
}

/** The owner of `ip` among `candidates`, or undefined when none is eligible. */
export function ownerOf(candidates: Iterable<string>, ip: string): string | undefined {
  let best: { node: string; key: string } | undefined;
  for (const node of candidates) {
    const key = nodeKey(node, ip);
    if (!best || key < best.key || (key === best.key && node < best.node)) best = { node, key };
  }
  return best?.node;
}
