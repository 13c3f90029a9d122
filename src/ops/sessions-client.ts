/**
 * Established connections through the floating IP, the I/O edge: N long-lived keep-alive clients
 * (HTTP/1.1, or cleartext HTTP/2 with prior knowledge) each sending a GET every `intervalMs`, one
 * SessionEvent per request (src/ops/sessions.ts classifies and attributes them). A client whose
 * connection broke, stalled or was closed by the server opens a new one for its next request.
 */
import { spawn } from "node:child_process";
import { setMaxListeners } from "node:events";
import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { connect, constants, type ClientHttp2Session } from "node:http2";
import { DEFAULT_EXPECTATION, unmet, type Expectation } from "./expect.js";
import { collectJsonLines, proberCwd, sessionProberArgs } from "./probing.js";
import { classifyError, type SessionEvent } from "./sessions.js";
import { preciseMonotonicNow } from "../common/clock.js";
import { sleep } from "../common/wait.js";

export interface SessionOptions {
  /** Long-lived clients; 0 disables. */
  connections: number;
  /** Of those, how many speak HTTP/2 (h2c with prior knowledge); the rest HTTP/1.1 keep-alive. */
  http2: number;
  /** Each client sends a request this often (from the start of its previous one). */
  intervalMs: number;
  /** No answer within this long is a stall: the client drops the connection and opens a new one. */
  stallMs: number;
  expect: Expectation;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  connections: 20,
  http2: 0,
  intervalMs: 50,
  stallMs: 2000,
  expect: DEFAULT_EXPECTATION,
};

/** Running clients; stop() ends them and returns every event, ordered by start. */
export interface SessionRun {
  /** How many long-lived clients run. */
  readonly connections: number;
  readonly events: readonly SessionEvent[];
  stop(): Promise<SessionEvent[]>;
}

function serverOf(headers: IncomingHttpHeaders): string | undefined {
  const v = headers["x-served-by"] ?? headers.server;
  return Array.isArray(v) ? v.join(",") : v;
}

/**
 * A stall timeout's callback, run after the poll phase: a process starved of CPU for longer than
 * the timeout runs its timers before reading an answer that arrived meanwhile; that is no stall.
 * (HTTP/2: answered once the response headers set a status.)
 */
const afterPoll = (answered: () => boolean, stall: () => void) => () =>
  void setImmediate(() => answered() || stall());

type Request = (signal: AbortSignal) => Promise<SessionEvent | undefined>;

/** One HTTP/1.1 keep-alive connection (an agent with one socket); undefined when stopped. */
function http1Client(c: number, url: URL, opts: SessionOptions): { send: Request; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send: Request = (signal) =>
    new Promise((resolve) => {
      const t = preciseMonotonicNow();
      let stalled = false;
      let answered = false;
      const req = request(
        {
          host: url.hostname.replace(/^\[|\]$/g, ""),
          port: url.port || 80,
          path: url.pathname + url.search,
          agent,
          signal,
        },
        (res) => {
          answered = true;
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (d: string) => (body.length < 4096 ? (body += d) : undefined));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const why = unmet(opts.expect, status, body.trim());
            resolve({
              c,
              t,
              ms: preciseMonotonicNow() - t,
              outcome: why ? "error" : "ok",
              reused: req.reusedSocket,
              proto: "h1",
              status,
              ...(serverOf(res.headers) ? { server: serverOf(res.headers) } : {}),
              ...(res.headers.connection === "close" ? { closing: true } : {}),
              ...(why ? { error: why } : {}),
            });
          });
          res.on("error", () => undefined);
        },
      );
      const stall = () => {
        stalled = true;
        req.destroy(new Error(`no answer within ${opts.stallMs} ms`));
      };
      req.setTimeout(
        opts.stallMs,
        afterPoll(() => answered, stall),
      );
      req.on("error", (e) => {
        if (signal.aborted) return resolve(undefined);
        const error = (e as NodeJS.ErrnoException).code ?? e.message;
        resolve({
          c,
          t,
          ms: preciseMonotonicNow() - t,
          outcome: classifyError(`${error} ${e.message}`, stalled),
          reused: req.reusedSocket,
          proto: "h1",
          error,
        });
      });
      req.end();
    });
  return { send, close: () => agent.destroy() };
}

/** One HTTP/2 connection (h2c, prior knowledge), reopened after GOAWAY or an error. */
function http2Client(c: number, url: URL, opts: SessionOptions): { send: Request; close(): void } {
  let session: ClientHttp2Session | undefined;
  let answered = false;
  let goaway = false;
  let sessionError: Error | undefined;
  const open = () => {
    const s = connect(url.origin);
    sessionError = undefined;
    // A refused or reset connection fails its streams with a generic cancel: report the cause.
    s.on("error", (e) => (sessionError = e));
    s.on("goaway", () => (goaway = true));
    answered = false;
    goaway = false;
    return s;
  };
  const send: Request = (signal) =>
    new Promise((resolve) => {
      if (!session || session.closed || session.destroyed) session = open();
      const s = session;
      const t = preciseMonotonicNow();
      const reused = answered;
      let stalled = false;
      let status = 0;
      let server: string | undefined;
      let body = "";
      const fail = (e: Error) => {
        if (signal.aborted) return resolve(undefined);
        s.destroy();
        if (sessionError && !stalled) e = sessionError;
        const error = (e as NodeJS.ErrnoException).code ?? e.message;
        resolve({
          c,
          t,
          ms: preciseMonotonicNow() - t,
          outcome: classifyError(`${error} ${e.message}`, stalled),
          reused,
          proto: "h2",
          error,
        });
      };
      let stream;
      try {
        stream = s.request({ ":path": url.pathname + url.search }, { signal });
      } catch (e) {
        return fail(e as Error);
      }
      const stall = () => {
        stalled = true;
        stream.close(constants.NGHTTP2_CANCEL);
        fail(new Error(`no answer within ${opts.stallMs} ms`));
      };
      const responded = () => status !== 0;
      stream.setTimeout(opts.stallMs, afterPoll(responded, stall));
      stream.on("response", (h) => {
        status = Number(h[":status"] ?? 0);
        server = serverOf(h as IncomingHttpHeaders);
      });
      stream.setEncoding("utf8");
      stream.on("data", (d: string) => (body.length < 4096 ? (body += d) : undefined));
      stream.on("end", () => {
        answered = true;
        const why = unmet(opts.expect, status, body.trim());
        resolve({
          c,
          t,
          ms: preciseMonotonicNow() - t,
          outcome: why ? "error" : "ok",
          reused,
          proto: "h2",
          status,
          ...(server ? { server } : {}),
          ...(goaway ? { closing: true } : {}),
          ...(why ? { error: why } : {}),
        });
      });
      stream.on("error", fail);
      stream.end();
    });
  return { send, close: () => session?.destroy() };
}

/** Runs the clients in this process until `signal` aborts; every answered or failed request goes to `onEvent`. */
export async function runSessions(
  target: string,
  opts: SessionOptions,
  onEvent: (e: SessionEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const url = new URL(target);
  // Every client waits on this one signal (its pause, its request): legitimately many listeners.
  setMaxListeners(2 * opts.connections + 10, signal);
  const loops = Array.from({ length: opts.connections }, async (_, c) => {
    const client = c < opts.http2 ? http2Client(c, url, opts) : http1Client(c, url, opts);
    // Spread the clients over one interval, so requests do not arrive in bursts.
    await sleep((opts.intervalMs * c) / Math.max(1, opts.connections), signal);
    while (!signal.aborted) {
      const start = performance.now();
      const event = await client.send(signal);
      if (event) onEvent({ ...event, ms: Math.round(event.ms * 10) / 10 });
      await sleep(opts.intervalMs - (performance.now() - start), signal);
    }
    client.close();
  });
  await Promise.all(loops);
}

/** The clients in this process (a real cluster: the operator's machine). */
export function sessionsLocally(url: string, opts: SessionOptions): SessionRun {
  const events: SessionEvent[] = [];
  const stopping = new AbortController();
  const done = runSessions(url, opts, (e) => events.push(e), stopping.signal);
  return {
    connections: opts.connections,
    events,
    async stop() {
      stopping.abort();
      await done;
      return [...events].sort((a, b) => a.t - b.t);
    },
  };
}

/** The clients inside a network namespace (the lab's client), through src/ops/prober.ts --sessions. Needs root. */
export function sessionsFromNetns(netns: string, url: string, opts: SessionOptions): SessionRun {
  const events: SessionEvent[] = [];
  const child = spawn("ip", ["netns", "exec", netns, process.execPath, ...sessionProberArgs(url, opts)], {
    cwd: proberCwd(),
    stdio: ["ignore", "pipe", "ignore"],
  });
  collectJsonLines(child.stdout, events);
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  return {
    connections: opts.connections,
    events,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      return [...events].sort((a, b) => a.t - b.t);
    },
  };
}
