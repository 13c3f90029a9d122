// Long-lived HTTP/1.1 keep-alive clients in the lab's client namespace: N connections through a
// floating IP, each sending a request every interval, counting resets, server closes and stalls.
import { spawn, type ChildProcess } from "node:child_process";
import type { Lab } from "../../lab/lab.js";
import { waitFor } from "../../src/common/wait.js";

export interface KeepAliveStats {
  requests: number;
  /** ECONNRESET: what a move without the previous owner's conntrack state does to a connection. */
  resets: number;
  /** The server closed the connection (a drain): the client reconnects. */
  closed: number;
  /** No answer within the socket timeout. */
  stalls: number;
  errors: number;
  connects: number;
  /** Response bodies ("worker-0 via master-1") and how often each was seen. */
  bodies: Record<string, number>;
}

const CLIENT = `import json, socket, sys, threading, time
vip, n, interval, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
lock = threading.Lock()
st = {"requests": 0, "resets": 0, "closed": 0, "stalls": 0, "errors": 0, "connects": 0, "bodies": {}}
stop = threading.Event()
warm = threading.Barrier(n + 1)
def bump(k):
    with lock: st[k] += 1
def exchange(s):
    s.sendall(b"GET / HTTP/1.1\\r\\nHost: lab\\r\\n\\r\\n")
    buf = b""
    while b"\\r\\n\\r\\n" not in buf:
        d = s.recv(4096)
        if not d: raise EOFError()
        buf += d
    head, _, body = buf.partition(b"\\r\\n\\r\\n")
    length = 0
    for line in head.split(b"\\r\\n"):
        if line.lower().startswith(b"content-length:"): length = int(line.split(b":")[1])
    while len(body) < length:
        d = s.recv(4096)
        if not d: raise EOFError()
        body += d
    return body.decode().strip()
def worker():
    first = True
    while not stop.is_set():
        try:
            s = socket.create_connection((vip, 80), timeout=timeout)
            bump("connects")
        except Exception:
            bump("errors"); time.sleep(interval); continue
        try:
            while not stop.is_set():
                body = exchange(s)
                with lock:
                    st["requests"] += 1
                    st["bodies"][body] = st["bodies"].get(body, 0) + 1
                if first:
                    first = False; warm.wait()
                time.sleep(interval)
        except ConnectionResetError: bump("resets")
        except (EOFError, BrokenPipeError): bump("closed")
        except socket.timeout: bump("stalls")
        except Exception: bump("errors")
        finally: s.close()
for _ in range(n): threading.Thread(target=worker, daemon=True).start()
warm.wait()
print("ready", flush=True)
for line in sys.stdin:
    with lock: print(json.dumps(st), flush=True)
    if line.strip() == "stop": stop.set(); break
`;

/** Runs the clients; `stats()` asks for the counters so far, `stop()` ends them. */
export class KeepAliveClients {
  private readonly child: ChildProcess;
  private out = "";
  private readonly exited: Promise<unknown>;

  private constructor(lab: Lab, vip: string, connections: number, intervalMs: number, timeoutMs: number) {
    this.child = spawn(
      "ip",
      [
        "netns",
        "exec",
        lab.clientNs,
        "python3",
        "-c",
        CLIENT,
        vip,
        String(connections),
        String(intervalMs / 1000),
        String(timeoutMs / 1000),
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    this.child.stdout!.on("data", (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => this.child.on("exit", r));
  }

  /** Starts `connections` clients and waits until each has had one answer. */
  static async start(
    lab: Lab,
    vip: string,
    { connections = 20, intervalMs = 50, timeoutMs = 3000 } = {},
  ): Promise<KeepAliveClients> {
    const clients = new KeepAliveClients(lab, vip, connections, intervalMs, timeoutMs);
    try {
      await waitFor(
        `${connections} keep-alive connections to ${vip}`,
        () => clients.out.includes("ready"),
        20_000,
      );
    } catch (err) {
      await clients.stop();
      throw err;
    }
    return clients;
  }

  async stats(): Promise<KeepAliveStats> {
    return this.ask("stats");
  }

  /** Waits until the clients made `count` more requests (evidence that traffic flowed). */
  async requestsMore(count: number, timeoutMs = 20_000): Promise<KeepAliveStats> {
    const base = (await this.stats()).requests;
    return waitFor(
      `${count} more keep-alive requests`,
      async () => {
        const s = await this.stats();
        return s.requests >= base + count ? s : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async stop(): Promise<KeepAliveStats | undefined> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
    try {
      return await this.ask("stop", 5000);
    } catch {
      return undefined;
    } finally {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }

  private async ask(what: string, timeoutMs = 5000): Promise<KeepAliveStats> {
    const before = this.out.length;
    this.child.stdin!.write(`${what}\n`);
    const line = await waitFor(
      "keep-alive client stats",
      () =>
        this.out
          .slice(before)
          .split("\n")
          .find((l) => l.startsWith("{")),
      timeoutMs,
      20,
    );
    return JSON.parse(line) as KeepAliveStats;
  }
}
