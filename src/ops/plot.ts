import type { SessionEvent } from "./sessions.js";
import type { Probe } from "./timeline.js";

export interface TimelineMarker {
  t: number;
  label: string;
}

const PALETTE = ["#2b8cbe", "#31a354", "#756bb1", "#e6550d", "#636363", "#dd1c77"];

/** What answered a good probe: its status and server, e.g. "HTTP 200 from worker-0". */
function answerKey(p: Pick<Probe, "status" | "server">): string {
  return `HTTP ${p.status ?? "?"}${p.server ? ` from ${p.server}` : ""}`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

const OUTCOME_COLOUR = { reset: "#000000", stall: "#e6a800", error: "#d62728" } as const;

/**
 * The established connections under the probe plot: one row per long-lived client, a thin mark
 * per answered request coloured like the probes (by status and server), a tall mark per reset
 * (black), stall (amber) or other error (red).
 */
function sessionStrip(
  sessions: readonly SessionEvent[],
  x: (t: number) => number,
  top: number,
  colour: Map<string, string>,
  left: number,
): string[] {
  const rows = Math.max(1, ...sessions.map((e) => e.c + 1));
  const rowH = STRIP_H / rows;
  const parts = [
    `<text x="${left}" y="${top - 4}">established connections (one row each): black = reset, amber = stalled, red = other error</text>`,
  ];
  for (const e of sessions) {
    const y0 = top + e.c * rowH;
    if (e.outcome === "ok") {
      const fill = colour.get(answerKey(e)) ?? "#999";
      parts.push(
        `<rect x="${x(e.t).toFixed(1)}" y="${y0.toFixed(1)}" width="1" height="${Math.max(1, rowH - 0.5).toFixed(1)}" fill="${fill}"/>`,
      );
    } else {
      parts.push(
        `<rect x="${(x(e.t + e.ms) - 1).toFixed(1)}" y="${(y0 - 1).toFixed(1)}" width="3" height="${(rowH + 2).toFixed(1)}" fill="${OUTCOME_COLOUR[e.outcome]}"/>`,
      );
    }
  }
  return parts;
}
const STRIP_H = 120;

/** A dashed vertical line per marker, its label in its own row above the plot. */
function markerLines(
  markers: readonly TimelineMarker[],
  x: (t: number) => number,
  bottomY: number,
  labelsLeftOf: number,
): string[] {
  return markers.flatMap((m, i) => {
    const mx = x(m.t);
    const ly = 40 + 14 * i;
    // Right of the line unless that would leave the plot, then left of it.
    const toLeft = mx > labelsLeftOf;
    return [
      `<line x1="${mx}" x2="${mx}" y1="${ly + 3}" y2="${bottomY}" stroke="#d62728" stroke-dasharray="4 3"/>`,
      `<text x="${toLeft ? mx - 3 : mx + 3}" y="${ly}" fill="#d62728" text-anchor="${toLeft ? "end" : "start"}">${escapeXml(m.label)}</text>`,
    ];
  });
}

/** The colour of each answering server, then the failure cross, top-down from (`lx`, `ly`). */
function legend(keys: readonly string[], colour: Map<string, string>, lx: number, ly: number): string[] {
  const parts: string[] = [];
  keys.forEach((b, i) => {
    const y = ly + i * 18;
    parts.push(`<circle cx="${lx}" cy="${y}" r="5" fill="${colour.get(b)}"/>`);
    parts.push(`<text x="${lx + 10}" y="${y + 4}">${escapeXml(b)}</text>`);
  });
  const fy = ly + keys.length * 18;
  parts.push(
    `<path d="M${lx - 4},${fy - 4}L${lx + 4},${fy + 4}M${lx - 4},${fy + 4}L${lx + 4},${fy - 4}" stroke="#d62728"/>`,
  );
  parts.push(`<text x="${lx + 10}" y="${fy + 4}">failed or unexpected</text>`);
  return parts;
}

/**
 * A failover timeline as a standalone SVG: one dot per probe (x = start time, y = latency on a log
 * scale), coloured by the node that served it, failed probes as red crosses on the bottom band,
 * and vertical markers for the fault and the recovery; with `sessions`, the established
 * connections in a strip below (sessionStrip).
 */
export function timelineSvg(
  probes: readonly Probe[],
  markers: readonly TimelineMarker[],
  title: string,
  sessions: readonly SessionEvent[] = [],
): string {
  const width = 960;
  const stripH = sessions.length ? STRIP_H + 60 : 0;
  const height = 320 + 14 * markers.length + stripH;
  const left = 60;
  const right = 190;
  // Marker labels get their own rows above the plot, so they never cover a probe.
  const top = 40 + 14 * markers.length;
  const bottom = 50 + stripH;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const times = [...probes.map((p) => p.t), ...sessions.map((e) => e.t), ...markers.map((m) => m.t)];
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 1);
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * plotW;
  const minMs = 0.1;
  const maxMs = Math.max(1000, ...probes.map((p) => p.ms));
  const y = (ms: number) =>
    top +
    plotH -
    ((Math.log10(Math.max(ms, minMs)) - Math.log10(minMs)) / (Math.log10(maxMs) - Math.log10(minMs))) *
      (plotH - 20);
  const failY = top + plotH - 5;

  // Coloured by what answered (status and server header), never by the reply body.
  const keys = [
    ...new Set([
      ...probes.filter((p) => p.ok).map(answerKey),
      ...sessions.filter((e) => e.outcome === "ok").map(answerKey),
    ]),
  ];
  const colour = new Map(keys.map((b, i) => [b, PALETTE[i % PALETTE.length]!]));
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${left}" y="22" font-size="15" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  for (const ms of [1, 10, 100, 1000]) {
    if (ms > maxMs) continue;
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(ms)}" y2="${y(ms)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(ms) + 4}" text-anchor="end">${ms} ms</text>`);
  }
  const span = (t1 - t0) / 1000;
  const step = span > 60 ? 10 : span > 20 ? 5 : span > 5 ? 1 : 0.5;
  for (let s = 0; s <= span; s += step) {
    const px = x(t0 + s * 1000);
    parts.push(`<line x1="${px}" x2="${px}" y1="${top + plotH}" y2="${top + plotH + 5}" stroke="#999"/>`);
    parts.push(
      `<text x="${px}" y="${top + plotH + 18}" text-anchor="middle">${s.toFixed(step < 1 ? 1 : 0)} s</text>`,
    );
  }
  parts.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">time since start of probing (s); probe latency (log scale)</text>`,
  );
  parts.push(...markerLines(markers, x, top + plotH + (stripH ? stripH + 10 : 0), left + plotW * 0.7));
  for (const p of probes) {
    if (p.ok) {
      parts.push(
        `<circle cx="${x(p.t).toFixed(1)}" cy="${y(p.ms).toFixed(1)}" r="1.8" fill="${colour.get(answerKey(p))}"/>`,
      );
    } else {
      const cx = x(p.t);
      parts.push(
        `<path d="M${cx - 3},${failY - 3}L${cx + 3},${failY + 3}M${cx - 3},${failY + 3}L${cx + 3},${failY - 3}" stroke="#d62728"/>`,
      );
    }
  }
  parts.push(...legend(keys, colour, width - right + 15, top + 10));
  if (sessions.length) parts.push(...sessionStrip(sessions, x, top + plotH + 60, colour, left));
  parts.push(`</svg>`);
  return parts.join("\n");
}

/** A one-line terminal timeline: one character per bucket, '.' ok, 'x' failed, '!' mixed. */
export function timelineAscii(probes: readonly Probe[], bucketMs = 100): string {
  if (probes.length === 0) return "";
  const t0 = probes[0]!.t;
  const buckets: { ok: number; failed: number }[] = [];
  for (const p of probes) {
    const i = Math.floor((p.t - t0) / bucketMs);
    buckets[i] ??= { ok: 0, failed: 0 };
    if (p.ok) buckets[i].ok++;
    else buckets[i].failed++;
  }
  return Array.from(buckets, (b) => (!b ? " " : b.failed === 0 ? "." : b.ok === 0 ? "x" : "!")).join("");
}
