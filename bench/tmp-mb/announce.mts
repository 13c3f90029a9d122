import { EventEmitter } from "node:events";
import pino from "pino";
import { Announcer, type AnswerSocket, type Link } from "../../src/speaker/announcer.js";
import { SpeakerMetrics } from "../../src/speaker/metrics.js";
const open = () => Object.assign(new EventEmitter(), { send: (f: Buffer) => f.length, setFilter: () => {}, stats: () => ({}), close: () => {} }) as unknown as AnswerSocket;
const link: Link = { open, mac: () => Buffer.from([2, 0, 0, 0, 0, 1]) };
const a = new Announcer(pino({ level: "silent" }), new SpeakerMetrics(), [0, 50, 200, 500], () => {}, undefined, link);
a.standBy(["eth0"]);
for (let round = 0; round < 5; round++) {
  const ips = Array.from({ length: 850 }, (_, i) => `2001:db8:1::${(round * 1000 + i + 1).toString(16)}`);
  const t = performance.now();
  for (const ip of ips) a.set(ip, ["eth0"]);
  const ms = performance.now() - t;
  const t2 = performance.now();
  for (const ip of ips) a.remove(ip);
  console.log(`round ${round}: set 850 ${ms.toFixed(1)} ms, remove ${(performance.now() - t2).toFixed(1)} ms`);
  await new Promise((r) => setTimeout(r, 600));
}
process.exit(0);
