import { afterEach, describe, expect, it } from "vitest";
import type { CheckReport } from "../../../src/ops/cloudsigma/check.js";
import { CloudSigmaClient } from "../../../src/ops/cloudsigma/client.js";
import { runCheck } from "../../../src/ops/cloudsigma/run.js";
import { fakeUuid, type FakeCloudSigma } from "../../support/fake-cloudsigma.js";
import { memoryIo, startFixture } from "./fixtures.js";

let fake: FakeCloudSigma | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

const client = (f: FakeCloudSigma) =>
  new CloudSigmaClient({ apiUrl: f.url, credentials: f.credentials, backoffMs: 1, sleep: async () => {} });

describe("cloudsigma check", () => {
  it("finds the dhcp and static NICs and the floating IPs that are not owned or attached elsewhere", async () => {
    fake = await startFixture();
    const m = memoryIo();
    const code = await runCheck({
      client: client(fake),
      servers: ["cp-1", "cp-2", "cp-3"],
      io: m.io,
      floatingIps: ["203.0.113.100", "198.51.100.77", "203.0.113.200", "203.0.113.50"],
      json: true,
    });
    expect(code).toBe(1);
    const report = JSON.parse(m.text()) as CheckReport;
    expect(report.ok).toBe(false);
    expect(report.servers.map((s) => [s.name, s.mac, s.conf, s.ip ?? null, s.manual, s.ok])).toEqual([
      ["cp-1", "22:00:00:00:01:01", "static", "203.0.113.11", false, false],
      ["cp-2", "22:00:00:00:02:01", "dhcp", "198.51.100.22", false, false],
      ["cp-3", "22:00:00:00:03:01", "manual", "203.0.113.13", true, true],
    ]);
    expect(
      report.floatingIps.map((f) => [f.ip, f.known, f.subscribed, f.attachedTo?.name ?? null, f.ok]),
    ).toEqual([
      ["203.0.113.100", true, true, null, true],
      ["198.51.100.77", true, false, null, false],
      ["203.0.113.200", false, false, null, false],
      ["203.0.113.50", true, true, "worker-1", false],
    ]);
    const fixes = report.problems.map((p) => [p.subject, p.fix]);
    expect(fixes).toEqual([
      [`cp-1 (${fakeUuid(1)})`, `run floatip cloudsigma fix-nic --server ${fakeUuid(1)}`],
      [`cp-2 (${fakeUuid(2)})`, `run floatip cloudsigma fix-nic --server ${fakeUuid(2)}`],
      ["198.51.100.77", expect.stringMatching(/^subscribe the IP in the CloudSigma panel/)],
      ["203.0.113.200", expect.stringMatching(/^subscribe the IP in the CloudSigma panel/)],
      ["203.0.113.50", expect.stringMatching(/^detach it from worker-1/)],
    ]);
    // cp-2's own address is dynamic: switching to manual would cut it off.
    expect(report.warnings.join("\n")).toMatch(
      /cp-2: its current address 198\.51\.100\.22 is not a subscribed IP/,
    );
    expect(fake.requestsFor("PUT")).toHaveLength(0);
  });

  it("prints a pass/fail table and exits 0 when everything is in order", async () => {
    fake = await startFixture();
    const m = memoryIo();
    const code = await runCheck({
      client: client(fake),
      servers: ["cp-3"],
      io: m.io,
      floatingIps: ["203.0.113.100"],
      json: false,
    });
    expect(code).toBe(0);
    const text = m.text();
    expect(text).toMatch(/^SERVER\s+UUID\s+NODE\s+STATUS\s+PUBLIC NIC\s+IP_V4_CONF\s+IP\s+MANUAL\s+RESULT$/m);
    expect(text).toMatch(
      /^cp-3\s+\S+\s+-\s+running\s+22:00:00:00:03:01\s+manual\s+203\.0\.113\.13\s+yes\s+PASS$/m,
    );
    expect(text).toMatch(/^203\.0\.113\.100\s+yes\s+-\s+PASS$/m);
    expect(text).toMatch(/All checks passed\./);
  });

  it("uses the cluster's control-plane nodes when no --server is given", async () => {
    fake = await startFixture();
    const m = memoryIo();
    const code = await runCheck({
      client: client(fake),
      servers: [],
      nodes: async () => [{ name: "cp-3", addresses: ["203.0.113.13"] }],
      io: m.io,
      floatingIps: [],
      json: false,
    });
    expect(code).toBe(0);
    expect(m.text()).toMatch(/cp-3 \(by ip\+name\)/);
    expect(m.text()).toMatch(/no --floating-ip given/);
  });

  it("exits 2 for unknown servers, unmatched nodes and API errors", async () => {
    fake = await startFixture();
    const unknown = memoryIo();
    expect(
      await runCheck({
        client: client(fake),
        servers: ["nope"],
        io: unknown.io,
        floatingIps: [],
        json: false,
      }),
    ).toBe(2);
    expect(unknown.errText()).toMatch(/unknown server "nope"/);

    const none = memoryIo();
    expect(
      await runCheck({
        client: client(fake),
        servers: [],
        nodes: async () => [],
        io: none.io,
        floatingIps: [],
        json: true,
      }),
    ).toBe(2);
    expect(JSON.parse(none.text())).toEqual({ ok: false, error: expect.stringMatching(/no Nodes labelled/) });

    fake.failNext({ status: 403, path: "/servers/detail/", errorType: "permission", message: "denied" });
    const forbidden = memoryIo();
    expect(
      await runCheck({
        client: client(fake),
        servers: ["cp-1"],
        io: forbidden.io,
        floatingIps: [],
        json: false,
      }),
    ).toBe(2);
    expect(forbidden.errText()).toMatch(/403 Forbidden.*denied/);
  });
});
