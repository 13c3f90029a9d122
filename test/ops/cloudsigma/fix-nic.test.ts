import { afterEach, describe, expect, it } from "vitest";
import { CloudSigmaClient } from "../../../src/ops/cloudsigma/client.js";
import { runFixNic, type FixNicOptions } from "../../../src/ops/cloudsigma/run.js";
import { fakeUuid, type FakeCloudSigma, type FakeOptions } from "../../support/fake-cloudsigma.js";
import { memoryIo, startFixture } from "./fixtures.js";

let fake: FakeCloudSigma | undefined;
afterEach(async () => {
  await fake?.stop();
  fake = undefined;
});

const READ_ONLY = ["uuid", "resource_uri", "owner", "status", "runtime", "jobs"];

/** What the PUT body must be: the GET definition minus read-only fields, with only the NIC's conf changed. */
function expectedBody(server: Record<string, unknown>, mac: string): Record<string, unknown> {
  const def = JSON.parse(JSON.stringify(server)) as Record<string, unknown>;
  for (const f of READ_ONLY) delete def[f];
  for (const list of ["nics", "drives"])
    for (const item of def[list] as Record<string, unknown>[]) delete item.runtime;
  for (const nic of def.nics as Record<string, unknown>[])
    if (nic.mac === mac) nic.ip_v4_conf = { conf: "manual" };
  return def;
}

async function setup(options: FakeOptions = {}, io = memoryIo()) {
  fake = await startFixture({ rejectReadOnlyFields: true, ...options });
  const client = new CloudSigmaClient({
    apiUrl: fake.url,
    credentials: fake.credentials,
    backoffMs: 1,
    sleep: async () => {},
  });
  const run = (opts: Partial<FixNicOptions>) =>
    runFixNic({ client, servers: [], io: io.io, dryRun: false, yes: false, force: false, ...opts });
  return { fake, io, run };
}

describe("cloudsigma fix-nic", () => {
  it("sends exactly one PUT per bad server, preserving every other field and NIC, then verifies", async () => {
    const { fake, io, run } = await setup();
    const before1 = fake.server(fakeUuid(1));
    const before2 = fake.server(fakeUuid(2));
    const before3 = fake.server(fakeUuid(3));
    const code = await run({ servers: ["cp-1", "cp-2", "cp-3"], yes: true, force: true });
    expect(io.errText()).toBe("");
    expect(code).toBe(0);

    const puts = fake.requestsFor("PUT");
    expect(puts.map((r) => r.path)).toEqual([`/servers/${fakeUuid(1)}/`, `/servers/${fakeUuid(2)}/`]);
    expect(puts[0]?.body).toEqual(expectedBody(before1, "22:00:00:00:01:01"));
    expect(puts[1]?.body).toEqual(expectedBody(before2, "22:00:00:00:02:01"));

    // Re-read after each PUT to verify; the servers now carry manual NICs and nothing else changed.
    const after1 = fake.server(fakeUuid(1));
    expect(after1.nics[0]?.ip_v4_conf).toEqual({ conf: "manual" });
    expect({ ...after1, nics: after1.nics.slice(1) }).toEqual({ ...before1, nics: before1.nics.slice(1) });
    expect(fake.server(fakeUuid(2)).nics[1]).toEqual(before2.nics[1]);
    expect(fake.server(fakeUuid(3))).toEqual(before3);
    expect(fake.ips.get("203.0.113.11")?.server).toBeNull(); // static IP released by the switch
    const getsAfterPut = fake.requests.filter(
      (r, i) => r.method === "GET" && fake.requests[i - 1]?.method === "PUT",
    );
    expect(getsAfterPut).toHaveLength(2);
    expect(io.text()).toMatch(/cp-1 .*: public NIC 22:00:00:00:01:01 is now manual \(verified\)/);
    expect(io.text()).toMatch(/cp-3 .*: public NIC 22:00:00:00:03:01 is already manual/);
  });

  it("shows the exact diff before asking, and asks on a terminal", async () => {
    const { fake, io, run } = await setup({}, memoryIo({ isTTY: true, answer: true }));
    expect(await run({ servers: ["cp-1"] })).toBe(0);
    expect(io.questions).toEqual(["Apply these changes to 1 server(s)? [y/N] "]);
    expect(io.text()).toContain(
      [
        `cp-1 (${fakeUuid(1)}), status stopped: PUT /servers/${fakeUuid(1)}/ changes`,
        '    nics[mac=22:00:00:00:01:01].ip_v4_conf.conf: "static" -> "manual"',
        '    nics[mac=22:00:00:00:01:01].ip_v4_conf.ip: {"resource_uri":"/api/2.0/ips/203.0.113.11/","uuid":"203.0.113.11"} -> (absent)',
      ].join("\n"),
    );
    expect(fake.requestsFor("PUT")).toHaveLength(1);
  });

  it("--dry-run prints the body (VNC password redacted) and sends no PUT", async () => {
    const { fake, io, run } = await setup();
    expect(await run({ servers: ["cp-1"], dryRun: true })).toBe(0);
    expect(fake.requestsFor("PUT")).toHaveLength(0);
    const text = io.text();
    expect(text).toMatch(/PUT \/servers\/.*\/ body:/);
    expect(text).toContain('"vnc_password": "<redacted>"');
    expect(text).not.toContain("fake-vnc-secret");
    expect(text).toMatch(/Dry run: nothing was sent\./);
  });

  it("refused confirmation sends no PUT", async () => {
    const { fake, io, run } = await setup({}, memoryIo({ isTTY: true, answer: false }));
    expect(await run({ servers: ["cp-1"] })).toBe(1);
    expect(fake.requestsFor("PUT")).toHaveLength(0);
    expect(io.text()).toMatch(/Aborted: nothing was changed/);
  });

  it("refuses without a terminal and without --yes", async () => {
    const { fake, io, run } = await setup({}, memoryIo({ isTTY: false }));
    expect(await run({ servers: ["cp-1"] })).toBe(2);
    expect(fake.requestsFor("PUT")).toHaveLength(0);
    expect(io.errText()).toMatch(/not a terminal; pass --yes/);
  });

  it("refuses to cut off a node whose own address is not subscribed, unless --force", async () => {
    const { fake, io, run } = await setup();
    expect(await run({ servers: ["cp-1", "cp-2"], yes: true })).toBe(1);
    expect(fake.requestsFor("PUT")).toHaveLength(0);
    expect(io.errText()).toMatch(/cp-2 .*198\.51\.100\.22 is not a subscribed IP.*pass --force/);
  });

  it("a running server rejecting NIC changes: clear error, exit 2, server unchanged", async () => {
    const { fake, io, run } = await setup({ runningNicChanges: "reject" });
    const before = fake.server(fakeUuid(2));
    const ipsBefore = JSON.stringify([...fake.ips.values()]);
    expect(await run({ servers: ["cp-2"], yes: true, force: true })).toBe(2);
    expect(fake.requestsFor("PUT")).toHaveLength(1); // 403 is not retried
    const err = io.errText();
    expect(err).toMatch(/CloudSigma refused the update of cp-2 .*403 Forbidden.*running server/);
    expect(err).toMatch(/the server is unchanged \(NIC 22:00:00:00:02:01 is still "dhcp"\)/);
    expect(err).toMatch(
      /fix: stop the server, run fix-nic again and start it; or set the NIC to manual in the CloudSigma panel/,
    );
    expect(fake.server(fakeUuid(2))).toEqual(before);
    expect(JSON.stringify([...fake.ips.values()])).toBe(ipsBefore);
  });

  it("stops at the first rejection and names the servers it did not touch", async () => {
    const { fake, io, run } = await setup({ runningNicChanges: "reject" });
    const before1 = fake.server(fakeUuid(1));
    fake.servers.set(fakeUuid(1), { ...before1, status: "running" });
    expect(await run({ servers: ["cp-1", "cp-2"], yes: true, force: true })).toBe(2);
    expect(fake.requestsFor("PUT")).toHaveLength(1);
    expect(io.errText()).toMatch(new RegExp(`not attempted: cp-2 \\(${fakeUuid(2)}\\)`));
    expect(fake.server(fakeUuid(1)).nics).toEqual(before1.nics);
  });

  it("a running server silently ignoring the change is caught by the verification", async () => {
    const { fake, io, run } = await setup({ runningNicChanges: "ignore" });
    const before = fake.server(fakeUuid(2));
    expect(await run({ servers: ["cp-2"], yes: true, force: true })).toBe(1);
    expect(io.errText()).toMatch(
      /accepted but did not take effect:\n\s+- NIC 22:00:00:00:02:01 is still "dhcp"/,
    );
    expect(io.errText()).toMatch(/fix: stop the server/);
    expect(fake.server(fakeUuid(2))).toEqual(before);
  });

  it("retries a PUT that failed with 500 (PUT is idempotent) and still verifies", async () => {
    const { fake, run } = await setup();
    fake.failNext({ status: 500, method: "PUT" });
    fake.failNext({ status: 429, method: "PUT", retryAfter: "0" });
    expect(await run({ servers: ["cp-1"], yes: true })).toBe(0);
    const puts = fake.requestsFor("PUT");
    expect(puts).toHaveLength(3);
    expect(puts[2]?.body).toEqual(puts[0]?.body);
    expect(fake.server(fakeUuid(1)).nics[0]?.ip_v4_conf).toEqual({ conf: "manual" });
  });

  it("does nothing when every public NIC is already manual", async () => {
    const { fake, io, run } = await setup();
    expect(await run({ servers: ["cp-3"], yes: true })).toBe(0);
    expect(fake.requestsFor("PUT")).toHaveLength(0);
    expect(io.text()).toMatch(/Nothing to do/);
  });

  it("refuses ambiguous NIC choices before changing anything", async () => {
    const { fake, io, run } = await setup();
    expect(await run({ servers: ["cp-1"], yes: true, mac: "22:00:00:00:01:02" })).toBe(1);
    expect(io.errText()).toMatch(/private \(VLAN\) NIC/);
    expect(fake.requestsFor("PUT")).toHaveLength(0);
  });
});
