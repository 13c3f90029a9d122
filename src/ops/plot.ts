import type { Probe } from "./timeline.js";

export interface TimelineMarker {
  t: number;
  label: string;
}

const PALETTE = ["#2b8cbe", "#31a354", "#756bb1", "#e6550d", "#636363", "#dd1c77"];

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}

/**
 * A failover timeline as a standalone SVG: one dot per probe (x = start time, y = latency on a log
 * scale), coloured by the node that served it, failed probes as red crosses on the bottom band,
 * and vertical markers for the fault and the recovery.
 */
export function timelineSvg(
  probes: readonly Probe[],
  markers: readonly TimelineMarker[],
  title: string,
): string {
  const width = 960;
  const height = 360;
  const left = 60;
  const right = 190;
  const top = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const t0 = Math.min(...probes.map((p) => p.t), ...markers.map((m) => m.t));
  const t1 = Math.max(...probes.map((p) => p.t), ...markers.map((m) => m.t), t0 + 1);
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * plotW;
  const minMs = 0.1;
  const maxMs = Math.max(1000, ...probes.map((p) => p.ms));
  const y = (ms: number) =>
    top +
    plotH -
    ((Math.log10(Math.max(ms, minMs)) - Math.log10(minMs)) / (Math.log10(maxMs) - Math.log10(minMs))) *
      (plotH - 20);
  const failY = top + plotH - 5;

  const bodies = [...new Set(probes.filter((p) => p.ok).map((p) => p.body))];
  const colour = new Map(bodies.map((b, i) => [b, PALETTE[i % PALETTE.length]!]));
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
    `<text x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle">time since start of probing; probe latency (log scale); red x = failed probe</text>`,
  );
  markers.forEach((m, i) => {
    parts.push(
      `<line x1="${x(m.t)}" x2="${x(m.t)}" y1="${top}" y2="${top + plotH}" stroke="#d62728" stroke-dasharray="4 3"/>`,
    );
    // Alternate label rows so neighbouring markers stay readable.
    parts.push(
      `<text x="${x(m.t) + 3}" y="${top + 12 + (i % 2) * 14}" fill="#d62728">${escapeXml(m.label)}</text>`,
    );
  });
  for (const p of probes) {
    if (p.ok) {
      parts.push(
        `<circle cx="${x(p.t).toFixed(1)}" cy="${y(p.ms).toFixed(1)}" r="1.8" fill="${colour.get(p.body)}"/>`,
      );
    } else {
      const cx = x(p.t);
      parts.push(
        `<path d="M${cx - 3},${failY - 3}L${cx + 3},${failY + 3}M${cx - 3},${failY + 3}L${cx + 3},${failY - 3}" stroke="#d62728"/>`,
      );
    }
  }
  bodies.forEach((b, i) => {
    const ly = top + 10 + i * 18;
    parts.push(`<circle cx="${width - right + 15}" cy="${ly}" r="5" fill="${colour.get(b)}"/>`);
    parts.push(`<text x="${width - right + 25}" y="${ly + 4}">${escapeXml(b)}</text>`);
  });
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
