import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VIP } from "../../lab/addresses.js";
import { LabCluster } from "../../lab/cluster.js";
import type { LabNode } from "../../lab/lab.js";
import { assignStatus, seedEnvoyService } from "../../lab/seed.js";
import { announcers, speakerMetricsText } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";
import { rankNodes } from "../../src/election/ranking.js";
import { keyFingerprint } from "../../src/speaker/heartbeat-keys.js";
import { allSpeakersReady, soleAnnouncer } from "../support/speakers.js";

/** What a speaker's /metrics says of its keys and of heartbeats it refused as unauthenticated. */
async function keyState(node: LabNode): Promise<{ keys: string; refused: number } | undefined> {
  const text = await speakerMetricsText(node);
  if (text === undefined) return undefined;
  const info = /^floatip_speaker_heartbeat_keys_info\{sign="(\w*)",accept="(\w*)"\} 1$/m.exec(text);
  const refused = /^floatip_heartbeats_dropped_total\{reason="unauthenticated"\} (\S+)$/m.exec(text);
  return info ? { keys: `${info[1]}/${info[2]}`, refused: Number(refused?.[1] ?? 0) } : undefined;
}

/**
 * A heartbeat key rotation on running speakers (deploy/README.md "Rotating the heartbeat key"):
 * each node's key files change at its own moment, as the kubelet updates each node's copy of the
 * Secret, one step at a time. Nothing may move and no heartbeat may be refused. A speaker given a
 * key nobody accepts shows that the check can fail: its heartbeats are refused.
 */
describe("heartbeat key rotation in the lab", () => {
  let c: LabCluster;
  let dir: string;
  let owner: string;
  const OLD = Buffer.from("the lab's old heartbeat key, 32 bytes or so");
  const NEW = Buffer.from("the lab's new heartbeat key, 32 bytes or so");
  const files = (node: LabNode) => ({
    key: join(dir, node.name, "key"),
    accept: join(dir, node.name, "acceptKey"),
  });
  /** Node by node: the files of one node change, the next node's a moment later. */
  const rollOut = async (key: Buffer, accept: Buffer | undefined) => {
    for (const node of c.lab.nodes) {
      writeFileSync(files(node).key, key);
      if (accept) writeFileSync(files(node).accept, accept);
      else rmSync(files(node).accept, { force: true });
      await new Promise((r) => setTimeout(r, 700));
    }
    const want = `${keyFingerprint(key)}/${accept ? keyFingerprint(accept) : ""}`;
    await waitFor(
      `every speaker on ${want}`,
      async () => (await Promise.all(c.lab.nodes.map(keyState))).every((s) => s?.keys === want),
      30_000,
      500,
    );
  };
  const refusedTotal = async () =>
    (await Promise.all(c.lab.nodes.map(keyState))).reduce((n, s) => n + (s?.refused ?? NaN), 0);

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb" });
    dir = mkdtempSync(join(tmpdir(), "floatip-key-rotation-"));
    const service = await seedEnvoyService(c, VIP);
    await assignStatus(c.kc, service.namespace, service.name, [VIP], "envoy-gateway-pool");
    // Each speaker on its own copy of the key files (the chart's: one Secret, a copy per node).
    for (const node of c.lab.nodes) {
      mkdirSync(join(dir, node.name), { recursive: true });
      writeFileSync(files(node).key, OLD);
      const old = c.lab.latest(`speaker-${node.name}`);
      if (old && old.child.exitCode === null && old.child.signalCode === null) {
        old.child.kill("SIGTERM");
        await old.exited;
      }
      c.lab.forget(`speaker-${node.name}`);
      c.startSpeaker(node, [
        "--heartbeat-key-file",
        files(node).key,
        "--heartbeat-accept-key-file",
        files(node).accept,
      ]);
    }
    await allSpeakersReady(c);
    owner = rankNodes(
      c.lab.nodes.map((n) => n.name),
      VIP,
    )[0]!;
    await soleAnnouncer(c, owner);
  }, 120_000);

  afterAll(async () => {
    await c?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("rotates in three steps without moving the IP or refusing a heartbeat; a foreign key is refused", async () => {
    const before = await refusedTotal();
    let moved = "";
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const who = await announcers(c.lab, VIP);
        if (who.length !== 1 || who[0] !== owner) moved ||= `announcers: ${who.join(",") || "none"}`;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      await rollOut(OLD, NEW); // 1. accept the new key beside the old
      await rollOut(NEW, OLD); // 2. sign with the new key, accept the old
      await rollOut(NEW, undefined); // 3. the old key goes
    } finally {
      watching = false;
      await watcher;
    }
    expect(moved).toBe("");
    expect(await refusedTotal()).toBe(before);

    // The check can fail: a non-owner given a key nobody accepts has its heartbeats refused.
    const stranger = c.lab.nodes.find((n) => n.name !== owner)!;
    writeFileSync(files(stranger).key, Buffer.from("a key no other speaker accepts, 32 bytes"));
    await waitFor(
      "the foreign key's heartbeats refused",
      async () => (await refusedTotal()) > before,
      30_000,
      500,
    );
    writeFileSync(files(stranger).key, NEW);
    await soleAnnouncer(c, owner);
  }, 180_000);
});
