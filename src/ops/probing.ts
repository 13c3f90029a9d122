import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request, type IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_EXPECTATION, unmet, type Expectation } from "./expect.js";
import type { Probe } from "./timeline.js";
import { preciseMonotonicNow } from "../common/clock.js";

export interface ProbeSession {
  readonly results: readonly Probe[];
  stop(): Promise<Probe[]>;
}

/** The answering server: the lab's and many proxies' x-served-by, else the Server header. */
function serverOf(headers: IncomingHttpHeaders): string | undefined {
  const v = headers["x-served-by"] ?? headers.server;
  return Array.isArray(v) ? v.join(",") : v;
}

/**
 * One GET with a fresh connection; resolves to a Probe, never rejects. The probe is ok only when
 * the answer meets `expect` (status, body); an aborted probe resolves with error "stopped".
 */
export function probeOnce(
  url: string,
  timeoutMs: number,
  expect: Expectation = DEFAULT_EXPECTATION,
  signal?: AbortSignal,
): Promise<Probe> {
  const target = new URL(url);
  const start = preciseMonotonicNow();
  return new Promise((resolve) => {
    let settled = false;
    const done = (fields: Omit<Probe, "t" | "ms">) => {
      if (settled) return;
      settled = true;
      const ms = Math.round((preciseMonotonicNow() - start) * 10) / 10;
      resolve({ t: start, ms, ...fields });
    };
    const req = request(
      {
        host: target.hostname.replace(/^\[|\]$/g, ""),
        port: target.port || 80,
        path: target.pathname + target.search,
        agent: false,
        timeout: timeoutMs,
        signal,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          if (body.length < 4096) body += d;
        });
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const server = serverOf(res.headers);
          const text = body.trim();
          const why = unmet(expect, status, text);
          done({ ok: !why, status, server, body: text.slice(0, 200), ...(why ? { error: why } : {}) });
        });
        res.on("error", (e) => done({ ok: false, body: "", error: e.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => done({ ok: false, body: "", error: signal?.aborted ? "stopped" : e.message }));
    req.end();
  });
}

/** Probes every `intervalMs` from this process (a real cluster: the operator's machine). */
export function probeLocally(
  url: string,
  intervalMs = 10,
  timeoutMs = 1000,
  expect: Expectation = DEFAULT_EXPECTATION,
): ProbeSession {
  const results: Probe[] = [];
  const pending = new Set<Promise<void>>();
  const stopping = new AbortController();
  const timer = setInterval(() => {
    if (pending.size > 500) return;
    const p = probeOnce(url, timeoutMs, expect, stopping.signal).then((r) => {
      // A probe cut short by stop() says nothing about the IP.
      if (r.error !== "stopped") results.push(r);
      pending.delete(p);
    });
    pending.add(p);
  }, intervalMs);
  return {
    results,
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await Promise.all(pending);
      return [...results].sort((a, b) => a.t - b.t);
    },
  };
}

/** floatip's installation (the directory with package.json): tsx resolves from there. */
function installDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the floatip installation");
    dir = up;
  }
  return dir;
}

/**
 * Node arguments that run the prober (prober.ts next to this module) as its own process: the
 * TypeScript file through tsx when floatip runs from source, the compiled file after tsc.
 */
export function proberArgs(
  url: string,
  intervalMs: number,
  timeoutMs: number,
  expect?: Expectation,
): string[] {
  const fromSource = import.meta.url.endsWith(".ts");
  const file = fileURLToPath(new URL(fromSource ? "./prober.ts" : "./prober.js", import.meta.url));
  return [
    ...(fromSource ? ["--import", "tsx"] : []),
    file,
    url,
    String(intervalMs),
    String(timeoutMs),
    ...(expect ? [JSON.stringify(expect)] : []),
  ];
}

/** Node arguments that run the prober's long-lived keep-alive clients (`prober.ts --sessions`). */
export function sessionProberArgs(url: string, opts: object): string[] {
  const fromSource = import.meta.url.endsWith(".ts");
  const file = fileURLToPath(new URL(fromSource ? "./prober.ts" : "./prober.js", import.meta.url));
  return [...(fromSource ? ["--import", "tsx"] : []), file, "--sessions", url, JSON.stringify(opts)];
}

/** The directory a prober runs in: floatip's installation, where tsx resolves from. */
export function proberCwd(): string {
  return installDir();
}

/** Appends every probe a prober prints (one JSON line each) to `into`. */
export function collectProbes(stream: Readable, into: Probe[]): void {
  collectJsonLines(stream, into);
}

/** Appends every JSON line a child prints to `into` (probes, session events); other lines are skipped. */
export function collectJsonLines<T>(stream: Readable, into: T[]): void {
  let buffer = "";
  stream.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        into.push(JSON.parse(line) as T);
      } catch {
        // not a JSON line
      }
    }
  });
}

/** Probes from inside a network namespace (the lab's client, "the Internet"). Needs root. */
export function probeFromNetns(
  netns: string,
  url: string,
  intervalMs = 10,
  timeoutMs = 1000,
  expect: Expectation = DEFAULT_EXPECTATION,
): ProbeSession {
  const results: Probe[] = [];
  const child = spawn(
    "ip",
    ["netns", "exec", netns, process.execPath, ...proberArgs(url, intervalMs, timeoutMs, expect)],
    { cwd: installDir(), stdio: ["ignore", "pipe", "ignore"] },
  );
  collectProbes(child.stdout, results);
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  return {
    results,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      return [...results].sort((a, b) => a.t - b.t);
    },
  };
}
