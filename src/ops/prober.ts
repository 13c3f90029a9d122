// Probes a URL every few milliseconds from inside a namespace and prints one JSON line per probe.
// A new connection each time, like a new client: that is what notices a stale ARP entry.
// Run as its own process (`proberArgs()` in probing.ts) so it can live in another network namespace.
import { DEFAULT_EXPECTATION, type Expectation } from "./expect.js";
import { probeOnce } from "./probing.js";

const [url = "", intervalArg = "10", timeoutArg = "1000", expectArg] = process.argv.slice(2);
const expect = expectArg ? (JSON.parse(expectArg) as Expectation) : DEFAULT_EXPECTATION;
const stopped = new AbortController();
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
    if (probe.error !== "stopped") process.stdout.write(JSON.stringify(probe) + "\n");
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
