// Probes a URL every few milliseconds from inside a namespace and prints one JSON line per probe.
// A new connection each time, like a new client: that is what notices a stale ARP entry.
import { request } from "node:http";

const [url = "", intervalArg = "10", timeoutArg = "1000"] = process.argv.slice(2);
const intervalMs = Number(intervalArg);
const timeoutMs = Number(timeoutArg);
const target = new URL(url);
let stopping = false;
let inflight = 0;

function probe(): void {
  const start = performance.timeOrigin + performance.now();
  inflight++;
  let done = false;
  const finish = (ok: boolean, body: string, error?: string) => {
    if (done) return;
    done = true;
    inflight--;
    const end = performance.timeOrigin + performance.now();
    process.stdout.write(
      JSON.stringify({ t: start, ms: Math.round((end - start) * 10) / 10, ok, body, error }) + "\n",
    );
  };
  const req = request(
    {
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: target.port || 80,
      path: target.pathname,
      agent: false,
      timeout: timeoutMs,
    },
    (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => finish(res.statusCode === 200, body.trim()));
      res.on("error", (e) => finish(false, "", e.message));
    },
  );
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => finish(false, "", e.message));
  req.end();
}

const timer = setInterval(() => {
  if (!stopping && inflight < 500) probe();
}, intervalMs);

const stop = () => {
  stopping = true;
  clearInterval(timer);
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
