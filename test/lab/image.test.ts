// floatip's image (deploy/Containerfile, built by testenv/build-image.sh from Debian packages) run in
// the lab exactly as the chart's DaemonSet and Deployment say (lab/image.ts): the chart's args and
// environment, its user, capabilities and read-only root, its ServiceAccounts' tokens and RBAC, and
// the IP fails over between speakers from the image.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rankNodes } from "../../src/election/ranking.js";
import { summarizeProbes } from "../../src/ops/timeline.js";
import { VIP } from "../../lab/addresses.js";
import { LabCluster } from "../../lab/cluster.js";
import { injectFault, restoreNode, type FaultKind } from "../../lab/faults.js";
import { floatipImage } from "../../lab/image.js";
import { ProbeRun } from "../../lab/probe-run.js";
import { seedEnvoyService } from "../../lab/seed.js";
import { announcers, speakerReady } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";
import { monotonicNow } from "../../src/common/clock.js";

const url = `http://${VIP}/`;
// CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13, CAP_SYS_NICE bit 23: the chart's speaker adds these
// three (NET_ADMIN for the handover forwarding's nftables tables, on by default).
const SPEAKER_CAPS = (1n << 12n) | (1n << 13n) | (1n << 23n);

interface ProcStatus {
  uid: string;
  gid: string;
  capEff: bigint;
  capBnd: bigint;
  capInh: bigint;
  noNewPrivs: string;
  groups: string;
}

function procStatus(pid: number): ProcStatus {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(text)?.[1]?.trim() ?? "";
  return {
    uid: field("Uid").split(/\s+/)[0] ?? "",
    gid: field("Gid").split(/\s+/)[0] ?? "",
    capEff: BigInt(`0x${field("CapEff")}`),
    capBnd: BigInt(`0x${field("CapBnd")}`),
    capInh: BigInt(`0x${field("CapInh")}`),
    noNewPrivs: field("NoNewPrivs"),
    groups: field("Groups"),
  };
}

/** Mount options of the process's root ("/" as it sees it). */
function rootMountOptions(pid: number): string[] {
  const line = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .split("\n")
    .filter((l) => l.split(" ")[4] === "/")
    .at(-1);
  return line?.split(" ")[5]?.split(",") ?? [];
}

describe("floatip's image in the lab, run as the chart says", () => {
  let c: LabCluster;
  let ranking: string[];
  const pid = (name: string) => c.lab.latest(name)!.child.pid!;

  // Cold, the build takes minutes (bases from Debian packages, npm ci); warm, it is instant.
  beforeAll(() => floatipImage(), 20 * 60_000);

  beforeAll(async () => {
    c = await LabCluster.create({ nodes: 3, workers: 1, lbClass: "metallb", image: {} });
    const svc = await seedEnvoyService(c, VIP);
    c.startController();
    for (const node of c.lab.nodes) c.startSpeaker(node);
    await waitFor(
      "the controller from the image to assign the IP",
      async () => {
        const s = await c.core.readNamespacedService({ name: svc.name, namespace: svc.namespace });
        return s.status?.loadBalancer?.ingress?.[0]?.ip === VIP;
      },
      60_000,
    );
    await waitFor(
      "speakers from the image ready",
      async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
      60_000,
    );
    ranking = rankNodes(
      c.lab.nodes.map((n) => n.name),
      VIP,
    );
    // Sticky (the chart's default): whichever speaker took the IP first keeps it, not ranking[0].
    await waitFor("one announcer", async () => (await announcers(c.lab, VIP)).length === 1, 30_000);
  });

  afterAll(async () => {
    await c?.destroy();
  });

  it("runs the image's entrypoint with the chart's args, user, capabilities and read-only root", async () => {
    const image = await floatipImage();
    const speaker = pid(`speaker-${ranking[0]}`);
    const controller = pid("controller");

    const cmdline = (p: number) => readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").slice(0, -1);
    expect(cmdline(speaker).slice(0, 3)).toEqual([...image.entrypoint, "speaker"]);
    expect(cmdline(speaker)).toContain("--heartbeat-key-file=/etc/floatip/heartbeat/key");
    expect(cmdline(speaker)).toContain("--metrics-address=InternalIP:7472");
    expect(cmdline(controller).slice(0, 3)).toEqual([...image.entrypoint, "controller"]);
    // The process's root is the image's tree, not the host's.
    expect(readFileSync(`/proc/${speaker}/root/app/package.json`, "utf8")).toContain('"name": "floatip"');

    // Speaker: root with only NET_ADMIN, NET_RAW and SYS_NICE (drop ALL, add those), no privilege escalation.
    const s = procStatus(speaker);
    expect({ uid: s.uid, gid: s.gid, groups: s.groups, nnp: s.noNewPrivs }).toEqual({
      uid: "0",
      gid: "0",
      groups: "",
      nnp: "1",
    });
    expect(s.capEff).toBe(SPEAKER_CAPS);
    expect(s.capBnd).toBe(SPEAKER_CAPS);
    expect(s.capInh).toBe(0n);
    expect(rootMountOptions(speaker)).toContain("ro");

    // Controller: the chart's non-root user, no capabilities at all.
    const k = procStatus(controller);
    expect({ uid: k.uid, gid: k.gid, nnp: k.noNewPrivs }).toEqual({ uid: "65532", gid: "65532", nnp: "1" });
    expect(k.capEff).toBe(0n);
    expect(k.capBnd).toBe(0n);
    expect(rootMountOptions(controller)).toContain("ro");

    // In-cluster credentials: the chart's ServiceAccounts (no admin kubeconfig in the environment).
    const env = readFileSync(`/proc/${speaker}/environ`, "utf8").split("\0");
    expect(env.some((e) => e.startsWith("KUBECONFIG="))).toBe(false);
    expect(env).toContain(`NODE_NAME=${ranking[0]}`);
    // (/var/run is a link to /run in the image; /proc/<pid>/root would resolve it on the host.)
    expect(
      readFileSync(`/proc/${speaker}/root/run/secrets/kubernetes.io/serviceaccount/namespace`, "utf8"),
    ).toBe("metallb-system");
  });

  const moves: { fault: FaultKind; graceful: boolean }[] = [
    { fault: "crash", graceful: false },
    { fault: "sigterm", graceful: true },
  ];
  for (const { fault, graceful } of moves) {
    it(`${fault} of the owner moves the IP to the next speaker from the image${graceful ? " without a failed request" : ""}; restored, the IP stays (sticky, the chart's default)`, async () => {
      // The chart runs --ownership sticky: after the first test the IP may sit on any node.
      const owner = (await announcers(c.lab, VIP))[0] ?? ranking[0]!;
      const prober = new ProbeRun(c.lab, url);
      await prober.ready();
      const faultAt = monotonicNow();
      await injectFault(c.lab, c.lab.node(owner), fault);
      // The next speaker by ranking, or the one after it while a node restored by the previous
      // test has not yet been in contact long enough (--rejoin-after-ms) to own IPs.
      const successor = await waitFor(
        `answers via a node other than ${owner}`,
        () => {
          const p = prober.results.find(
            (p) =>
              p.ok &&
              p.t > faultAt &&
              p.body.startsWith("worker-0 via ") &&
              p.body !== `worker-0 via ${owner}`,
          );
          return p?.body.slice("worker-0 via ".length);
        },
        20_000,
      );
      const moved = summarizeProbes(await prober.stop(), faultAt);
      expect(moved.servedBy.at(-1)?.body).toBe(`worker-0 via ${successor}`);
      if (graceful) expect(moved.failed - moved.resets).toBe(0);

      await restoreNode(c.lab, c.lab.node(owner));
      await waitFor(
        "speakers ready after the restore",
        async () => (await Promise.all(c.lab.nodes.map(speakerReady))).every(Boolean),
        60_000,
      );
      // Sticky: the restored node does not take the IP back from its live, eligible owner.
      expect(await announcers(c.lab, VIP)).toEqual([successor]);
    });
  }
});
