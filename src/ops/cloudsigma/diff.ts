import type { Json } from "./types.js";

export interface DiffEntry {
  path: string;
  /** undefined = the key is absent on that side. */
  before?: Json;
  after?: Json;
}

const isObject = (v: unknown): v is { [key: string]: Json } =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Arrays of objects that all carry a `mac` (NIC lists) are compared by MAC, so paths name the NIC. */
function macKeyed(list: Json[]): Map<string, Json> | undefined {
  const map = new Map<string, Json>();
  for (const item of list) {
    if (!isObject(item) || typeof item.mac !== "string" || map.has(item.mac)) return undefined;
    map.set(item.mac, item);
  }
  return map;
}

/** Structural differences between two JSON values, one entry per changed leaf/key. */
export function diffJson(before: Json | undefined, after: Json | undefined, path = ""): DiffEntry[] {
  if (before === undefined && after === undefined) return [];
  if (before === undefined || after === undefined) return [{ path: path || "(root)", before, after }];
  if (Array.isArray(before) && Array.isArray(after)) {
    const a = macKeyed(before);
    const b = macKeyed(after);
    if (a && b) {
      const out: DiffEntry[] = [];
      const order = (m: Map<string, Json>) => [...m.keys()].join(",");
      if (order(a) !== order(b))
        out.push({ path: `${path}(order by mac)`, before: order(a), after: order(b) });
      for (const mac of new Set([...a.keys(), ...b.keys()])) {
        out.push(...diffJson(a.get(mac), b.get(mac), `${path}[mac=${mac}]`));
      }
      return out;
    }
    if (before.length !== after.length) return [{ path: path || "(root)", before, after }];
    return before.flatMap((item, i) => diffJson(item, after[i], `${path}[${i}]`));
  }
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffJson(before[k], after[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path: path || "(root)", before, after }];
}

export function formatDiff(entries: DiffEntry[], indent = "  "): string {
  const show = (v: Json | undefined) => (v === undefined ? "(absent)" : JSON.stringify(v));
  return entries.map((e) => `${indent}${e.path}: ${show(e.before)} -> ${show(e.after)}`).join("\n");
}
