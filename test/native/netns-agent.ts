// Test helper run inside a network namespace (`ip netns exec <ns> node --import tsx netns-agent.ts`), since a
// process cannot move itself between namespaces. Reads JSON commands from stdin, one per line, and writes
// JSON replies and asynchronous frame/error events to stdout.
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { answerFilter, ARP_NDP_FILTER } from "../../src/l2/bpf.js";
import type { ReplyLimits } from "../../src/l2/ratelimit.js";
import { interfaceCarrier, interfaceInfo, nativeLoadError, RawSocket } from "../../src/native/rawsocket.js";

export type AgentCommand =
  | { id: number; cmd: "open"; ifname: string; limits?: ReplyLimits }
  | { id: number; cmd: "filter"; ips: string[] | null }
  | { id: number; cmd: "stats" }
  | { id: number; cmd: "send"; hex: string }
  | { id: number; cmd: "info"; ifname: string }
  | { id: number; cmd: "carrier"; ifname: string }
  | { id: number; cmd: "close" }
  | { id: number; cmd: "worker"; ifname: string }
  | { id: number; cmd: "exit" };

function out(msg: object): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

// Worker body: open a socket with the raw addon (workers don't inherit the tsx loader) and report back; the
// agent then terminates the worker with the socket still open, which exercises the env-teardown cleanup.
const workerCode = `
  const { parentPort, workerData } = require("node:worker_threads");
  const { RawSocket } = require(workerData.addon);
  new RawSocket(workerData.ifname, "arp+ipv6", () => {}, () => {});
  parentPort.postMessage("open");
`;
const addonPath = fileURLToPath(
  new URL("../../native/build/Release/floatip_rawsocket.node", import.meta.url),
);

let sock: RawSocket | undefined;

const handle = async (c: AgentCommand): Promise<unknown> => {
  switch (c.cmd) {
    case "open":
      sock = new RawSocket(c.ifname, "arp+ipv6", c.limits);
      sock.on("frame", (frame, packetType, vlan) =>
        out({
          event: "frame",
          hex: frame.toString("hex"),
          packetType,
          ...(vlan === undefined ? {} : { vlan }),
        }),
      );
      sock.on("error", (err) => out({ event: "error", message: err.message }));
      return { ignoresOutgoing: sock.ignoresOutgoing };
    case "send":
      if (!sock) throw new Error("no socket open");
      return sock.send(Buffer.from(c.hex, "hex"));
    case "filter": // null: back to every ARP and NS/NA frame
      if (!sock) throw new Error("no socket open");
      sock.setFilter(c.ips === null ? ARP_NDP_FILTER : answerFilter(c.ips).program);
      return null;
    case "stats":
      if (!sock) throw new Error("no socket open");
      return sock.stats();
    case "info": {
      const info = interfaceInfo(c.ifname);
      return { ...info, mac: info.mac.toString("hex") };
    }
    case "carrier":
      return interfaceCarrier(c.ifname);
    case "close":
      sock?.close();
      sock?.close(); // idempotent
      return null;
    case "worker": {
      const w = new Worker(workerCode, { eval: true, workerData: { addon: addonPath, ifname: c.ifname } });
      await new Promise((resolve, reject) => w.once("message", resolve).once("error", reject));
      return w.terminate();
    }
    case "exit":
      process.exit(0); // deliberately with the socket still open: teardown must not crash
  }
};

createInterface({ input: process.stdin })
  .on("line", (line) => {
    const c = JSON.parse(line) as AgentCommand;
    handle(c).then(
      (result) => out({ id: c.id, ok: true, result }),
      (err: NodeJS.ErrnoException) => out({ id: c.id, ok: false, error: err.message, code: err.code }),
    );
  })
  .on("close", () => process.exit(0)); // parent went away
out({ event: "ready", loadError: nativeLoadError() ?? null });
