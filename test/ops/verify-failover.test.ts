import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VIP } from "../../lab/addresses.js";
import type { LabCluster } from "../../lab/cluster.js";
import { announcers } from "../../lab/speakers.js";
import { waitFor } from "../../src/common/wait.js";
import { seededLabWithControl, type ControlledLab } from "../support/lab-control.js";
import { runCli, type CliResult } from "../support/cli.js";

const floatip = (args: string[], timeoutMs = 120_000): Promise<CliResult> => runCli(args, { timeoutMs });

describe("floatip verify and failover-test in the lab", () => {
  let lab: ControlledLab | undefined;
  let c: LabCluster;
  let dir: string;
  let socket: string;
  let owner: string;

  beforeAll(async () => {
    lab = await seededLabWithControl("floatip-labctl-");
    ({ c, dir, socket } = lab);
    owner = (await announcers(c.lab, VIP))[0]!;
    // ARP answers come first; the owner writes its ServiceL2Status after (retried under load), and
    // verify's "announcing node" reads it.
    const custom = c.kc.makeApiClient(k8s.CustomObjectsApi);
    await waitFor(
      `ServiceL2Status of ${owner}`,
      async () => {
        const list = (await custom.listNamespacedCustomObject({
          group: "metallb.io",
          version: "v1beta1",
          namespace: "metallb-system",
          plural: "servicel2statuses",
        })) as { items: { status?: { node?: string } }[] };
        return list.items.some((i) => i.status?.node === owner);
      },
      30_000,
    );
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it("verify passes every check and names the announcing node", async () => {
    const r = await floatip(["verify", "--lab", socket, "--ip", VIP, "--json"]);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      announcingNode: string;
      checks: { check: string; status: string; detail: string }[];
    };
    expect(report.checks.filter((x) => x.status === "fail")).toEqual([]);
    expect(r.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.announcingNode).toBe(owner);
    const http = report.checks.find((x) => x.check === "HTTP reachability")?.detail;
    expect(http).toContain(`via ${owner}`);
    expect(http).toMatch(/answered HTTP 200 from worker-0 in/);
    expect(report.checks.map((x) => x.check)).toEqual(
      expect.arrayContaining([
        "controller running",
        "speaker on each node",
        "IPAddressPool",
        "L2Advertisement",
        "Service class",
        "floating IP in status",
        "announcing node",
      ]),
    );
  });

  it("verify fails with a clear message for an unknown Service and a wrong class", async () => {
    const unknown = await floatip([
      "verify",
      "--lab",
      socket,
      "--service",
      "envoy-gateway-system/nope",
      "--no-http",
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain("Service envoy-gateway-system/nope not found");
    // A typo'd class is a usage error with the fix, read from the speakers' Leases.
    const typo = await floatip(["verify", "--lab", socket, "--lb-class", "metalb", "--no-http"]);
    expect(typo.stderr).toContain("Did you mean --lb-class metallb?");
    expect(typo.code).toBe(2);
  });

  it("a missing kubeconfig gives a clear error and a non-zero exit", async () => {
    const r = await floatip(["verify", "--kubeconfig", "/nonexistent/kubeconfig"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("stat /nonexistent/kubeconfig: no such file or directory");
  });

  it("failover-test --method crash measures the move, writes a plot and restores the node", async () => {
    const out = join(dir, "crash.svg");
    // New connections only: test/ops/established.test.ts covers established ones (and the wait for
    // the node's return they add).
    const r = await floatip([
      "failover-test",
      "--lab",
      socket,
      "--method",
      "crash",
      "--connections",
      "0",
      "--json",
      "--out",
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      ok: boolean;
      failedNode: string;
      newNode: string;
      newAnnouncementMs: number;
      unavailableMs: number;
      probes: number;
      plot: string;
    };
    expect(r.code).toBe(0);
    expect(result.failedNode).toBe(owner);
    expect(result.newNode).not.toBe(owner);
    expect(result.newAnnouncementMs).toBeGreaterThan(0);
    expect(result.probes).toBeGreaterThan(100);
    expect(readFileSync(out, "utf8")).toContain("<svg");
    expect(r.stderr).toContain(`failing ${owner}`);
    expect(r.stderr).toContain(`${owner} restored: its speaker is live again`);
    // Restored means restored: verify agrees right away.
    const after = await floatip(["verify", "--lab", socket, "--no-http", "--json"]);
    const speakers = (
      JSON.parse(after.stdout) as { checks: { check: string; status: string }[] }
    ).checks.find((x) => x.check === "speaker on each node");
    expect(speakers?.status).toBe("pass");
    await waitFor(
      "owner back after restore",
      async () => (await announcers(c.lab, VIP)).join() === owner,
      60_000,
    );
  });

  it("failover-test --method drain cordons, moves the IP without failed requests, and uncordons", async () => {
    const r = await floatip([
      "failover-test",
      "--lab",
      socket,
      "--method",
      "drain",
      // Established connections are counted (test/ops/established.test.ts checks them): only warn.
      "--established-resets",
      "warn",
      "--json",
      "--out",
      join(dir, "drain.svg"),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      ok: boolean;
      failedRequests: number;
      resetRequests: number;
      newNode: string;
    };
    expect(r.code).toBe(0);
    // No gap: the only failure a planned handover may show is one connection reset by the MAC switch.
    expect(result.failedRequests - result.resetRequests).toBe(0);
    expect(result.resetRequests).toBeLessThanOrEqual(1);
    expect(result.newNode).not.toBe(owner);
    const node = await c.core.readNode({ name: owner });
    expect(node.spec?.unschedulable ?? false).toBe(false);
    await waitFor(
      "owner back after uncordon",
      async () => (await announcers(c.lab, VIP)).join() === owner,
      60_000,
    );
  });
});
