// Probes a URL from inside a namespace and prints one JSON line per request. Run as its own process
// (`proberArgs()` in probing.ts) so it can live in another network namespace.
//   prober.ts <url> [intervalMs] [timeoutMs] [expectation JSON]: a new connection each time, like a
//     new client: that is what notices a stale ARP entry (src/ops/probing.ts);
//   prober.ts --sessions <url> <SessionOptions JSON>: long-lived keep-alive clients, one line per
//     request (src/ops/sessions-client.ts): what a move does to established connections.
import { DEFAULT_EXPECTATION, type Expectation } from "./expect.js";
import { probeOnce } from "./probing.js";
import { runSessions, type SessionOptions } from "./sessions-client.js";

const args = process.argv.slice(2);
const stopped = new AbortController();
const print = (line: object) => process.stdout.write(JSON.stringify(line) + "\n");

if (args[0] === "--sessions") {
  const [, url = "", optionsArg = "{}"] = args;
  const done = runSessions(url, JSON.parse(optionsArg) as SessionOptions, print, stopped.signal);
  const stop = () => {
    stopped.abort();
    void done.then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
} else {
  const [url = "", intervalArg = "10", timeoutArg = "1000", expectArg] = args;
  const expect = expectArg ? (JSON.parse(expectArg) as Expectation) : DEFAULT_EXPECTATION;
  const intervalMs = Number(intervalArg);
  const timeoutMs = Number(timeoutArg);
  let stopping = false;
  let inflight = 0;

  const timer = setInterval(() => {
    if (stopping || inflight >= 500) return;
    inflight++;
    void probeOnce(url, timeoutMs, expect, stopped.signal).then((probe) => {
      inflight--;
      // A probe cut short by stop() says nothing about the IP.
      if (probe.error !== "stopped") print(probe);
    });
  }, intervalMs);

  const stop = () => {
    stopping = true;
    clearInterval(timer);
    // Whoever stops us (Ctrl-C on failover-test) wants it now, not after the slowest probe's timeout.
    setTimeout(() => stopped.abort(), 200).unref();
    const wait = setInterval(() => {
      if (inflight === 0) {
        clearInterval(wait);
        process.exit(0);
      }
    }, 20);
    setTimeout(() => process.exit(0), timeoutMs + 500).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
