// The Envoy stand-in: answers with its node's name (and the node a request came through) over
// HTTP/1.1 keep-alive and cleartext HTTP/2 (prior knowledge) on one port, and drains like Envoy on
// SIGTERM. What it does and does not do compared to Envoy: lab/README.md, "The Envoy stand-in".
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from "node:http2";
import { createServer as createNetServer, type Socket } from "node:net";

const nodeName = process.env.NODE_NAME ?? "unknown";
const port = Number(process.env.PORT ?? "8080");
/** After SIGTERM: idle HTTP/1.1 connections that sent nothing for this long are closed. */
const idleCloseMs = Number(process.env.DRAIN_IDLE_MS ?? "1000");
/** After SIGTERM: exit when every connection is gone, at the latest after this (Envoy's drain time). */
const drainLimitMs = Number(process.env.DRAIN_LIMIT_MS ?? "15000");
/** Envoy's default idle timeout is 1 h; Node's 5 s would close the lab's quiet clients. */
const idleTimeoutMs = 3_600_000;

// NODE_MAP="198.51.100.11=master-0,..." names the node a request came through (kube-proxy SNAT).
const nodesByIp = new Map(
  (process.env.NODE_MAP ?? "")
    .split(",")
    .filter(Boolean)
    .map((kv) => kv.split("=") as [string, string]),
);

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
let draining = false;
const sockets = new Set<Socket>();
const sessions = new Set<ServerHttp2Session>();
/** Connections with an HTTP/1.1 request in flight, and HTTP/2 ones (their session closes itself). */
const busy = new Set<Socket>();
const h2Sockets = new Set<Socket>();

function log(msg: string, fields: object = {}): void {
  console.log(JSON.stringify({ msg, node: nodeName, ...fields }));
}

/** One answer for both protocols; `?delay=<ms>` holds it back (an in-flight request during a drain). */
function answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const source = (req.socket?.remoteAddress ?? "").replace(/^::ffff:/, "");
  const via = nodesByIp.get(source);
  const delay = Math.min(60_000, Number(new URL(req.url ?? "/", "http://x").searchParams.get("delay") ?? 0));
  const headers: Record<string, string> = { "content-type": "text/plain", "x-served-by": nodeName };
  if (req.httpVersionMajor === 1) {
    const socket = req.socket;
    busy.add(socket);
    res.on("close", () => busy.delete(socket));
  }
  // Envoy draining HTTP/1.1: the next response on each connection says close.
  if (draining && req.httpVersionMajor === 1) headers.connection = "close";
  const send = () => {
    if (draining && req.httpVersionMajor === 1 && !res.headersSent) headers.connection = "close";
    (res as ServerResponse).writeHead(200, headers);
    res.end(via ? `${nodeName} via ${via}\n` : `${nodeName}\n`);
  };
  if (delay > 0) setTimeout(send, delay);
  else send();
}

const h1 = createHttp1Server({ keepAliveTimeout: idleTimeoutMs, requestTimeout: 0 }, answer);
const h2 = createHttp2Server({}, answer);
h2.on("session", (s: ServerHttp2Session) => {
  sessions.add(s);
  s.setTimeout(idleTimeoutMs, () => s.close());
  s.on("close", () => sessions.delete(s));
  if (draining) s.close();
});

/** Reads until the first bytes tell HTTP/2's connection preface from an HTTP/1.1 request line. */
function route(socket: Socket): void {
  sockets.add(socket);
  socket.on("close", () => {
    sockets.delete(socket);
    exitIfDrained();
  });
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const h2Prefix = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (h2Prefix && seen.length < H2_PREFACE.length) return;
    socket.off("data", onData);
    if (h2Prefix) {
      // The HTTP/2 session reads what is still buffered on the socket.
      h2Sockets.add(socket);
      socket.pause();
      socket.unshift(seen);
      h2.emit("connection", socket);
    } else {
      // The HTTP/1 parser reads the socket's handle directly: hand it the bytes already read.
      h1.emit("connection", socket);
      socket.emit("data", seen);
    }
  };
  socket.on("data", onData);
  socket.on("error", () => socket.destroy());
}

const listener = createNetServer(route);
listener.listen({ port, host: "::", ipv6Only: false }, () => log("backend listening", { port }));

function exitIfDrained(): void {
  if (draining && sockets.size === 0) {
    log("backend drained");
    process.exit(0);
  }
}

/** Envoy's drain: stop accepting, finish in-flight requests, close HTTP/1.1, GOAWAY HTTP/2, exit. */
function drain(): void {
  if (draining) return;
  draining = true;
  log("backend draining", { connections: sockets.size, limitMs: drainLimitMs });
  listener.close();
  for (const s of sessions) s.close(); // GOAWAY(NO_ERROR, last stream): open streams finish
  // Idle HTTP/1.1 connections, and accepted ones that never sent a byte (a client whose request
  // went to another node after a move: the kernel still holds this end).
  setTimeout(() => {
    for (const s of sockets) if (!busy.has(s) && !h2Sockets.has(s)) s.destroy();
  }, idleCloseMs).unref();
  setTimeout(() => {
    log("backend drain limit reached", { connections: sockets.size });
    for (const s of sockets) s.destroy();
    process.exit(0);
  }, drainLimitMs).unref();
  exitIfDrained();
}
process.on("SIGTERM", drain);
